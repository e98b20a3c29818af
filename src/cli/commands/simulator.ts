import { join, resolve } from 'node:path';
import { ExitCode, InputError } from '../../errors.js';
import { FQDN_PATTERN } from '../../actions/fields.js';
import { psString, psStringArray } from '../../powershell/quote.js';
import { Masker } from '../../engine/mask.js';
import { ensureWritableDirectory } from '../files.js';
import { displayPath } from '../load-plan.js';
import { defaultSimulatorDir } from '../simulator.js';
import { runSimulatorSetup } from '../simulator-state.js';
import { resolveShell } from '../shell.js';
import type { CliIo, Terminal } from '../terminal.js';

interface InitOptions {
  readonly dir?: string;
  readonly server: string;
  readonly fqdn: string;
  readonly wildcard?: boolean;
  readonly layout?: string;
  readonly shell?: string;
}

/** A command-line word as a POSIX shell reads it back: bare when it is plain, single-quoted otherwise. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

/**
 * `exch-cert simulator init`: a simulated Exchange server and a renewed
 * certificate to rehearse with. The PFX password comes from
 * EXCH_CERT_PFX_PASSWORD, as it will for the real renewal.
 */
export async function simulatorInitCommand(options: InitOptions, io: CliIo, terminal: Terminal): Promise<number> {
  const password = io.env['EXCH_CERT_PFX_PASSWORD'];
  if (!password) throw new InputError('set EXCH_CERT_PFX_PASSWORD first: the rehearsal PFX is protected with it, as the real one will be');
  const dir = resolve(io.cwd, options.dir ?? defaultSimulatorDir(io.cwd));
  ensureWritableDirectory(dir, '--dir');
  const state = join(dir, 'state.json');
  if (!FQDN_PATTERN.test(options.fqdn)) throw new InputError(`--fqdn ${JSON.stringify(options.fqdn)} is not a name clients use, such as mail.contoso.com`, 'for a wildcard certificate, give --wildcard with the FQDN: --fqdn mail.contoso.com --wildcard makes *.contoso.com');
  // --wildcard: the certificate covers every name of the FQDN's domain, as *.contoso.com does mail.contoso.com.
  const domain = options.fqdn.slice(options.fqdn.indexOf('.') + 1);
  // The names the server's current certificate has, as a real renewal would keep them.
  const names = options.wildcard ? [`*.${domain}`] : [options.fqdn, `autodiscover.${domain}`];
  const pfx = join(dir, `renewed-${options.wildcard ? `wildcard.${domain}` : options.fqdn}.pfx`);
  const layouts = (options.layout ?? '').split(',').map((name) => name.trim()).filter((name) => name !== '');
  const { createNodePowerShellFactory } = await import('../../powershell/node-powershell.js');
  const masker = new Masker([password]);
  const sessions = createNodePowerShellFactory({ shell: resolveShell(options.shell, io.env), mask: (text) => masker.mask(text) });
  await runSimulatorSetup(
    sessions,
    [
      `New-ExchCertSimulatorState -Path ${psString(state)} -Server ${psString(options.server)} -Fqdn ${psString(options.fqdn)}${layouts.length > 0 ? ` -Layout ${psStringArray(layouts)}` : ''} -Force`,
      `$password = (New-Object -TypeName System.Net.NetworkCredential -ArgumentList @('', $env:EXCH_CERT_PFX_PASSWORD)).SecurePassword`,
      `New-ExchCertSimulatorPfx -Path ${psString(pfx)} -Password $password -DnsName ${psStringArray(names)} -IncludeChain`,
    ].join('\n'),
    { EXCH_CERT_PFX_PASSWORD: password },
  );
  const { color } = terminal;
  io.stderr.write(
    [
      `simulated Exchange server ${options.server}${layouts.length > 0 ? ` (layout ${layouts.join(', ')})` : ''}: ${displayPath(state, io.cwd)}`,
      `renewed certificate for ${names.join(', ')}: ${displayPath(pfx, io.cwd)}`,
      '',
      'Rehearse the renewal (set EXCH_CERT_BACKUP_PASSWORD too):',
      color.bold(`  ${['npx', 'exch-cert', 'renew', '--server', options.server, '--pfx', displayPath(pfx, io.cwd), '--fqdn', options.fqdn, '--simulate', displayPath(state, io.cwd)].map(shellWord).join(' ')}`),
      '',
    ].join('\n'),
  );
  return ExitCode.ok;
}
