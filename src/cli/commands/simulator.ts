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
  readonly server?: string;
  /** Several Mailbox servers, comma-separated (--server is the one-server form). */
  readonly servers?: string;
  /** Edge Transport servers, comma-separated. */
  readonly edge?: string;
  readonly fqdn: string;
  readonly wildcard?: boolean;
  readonly layout?: string;
  readonly shell?: string;
}

/** A comma-separated flag value as a list: trimmed, no empty items. */
function splitList(text: string | undefined): string[] {
  return (text ?? '').split(',').map((item) => item.trim()).filter((item) => item !== '');
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
  const layouts = splitList(options.layout);
  if (options.server !== undefined && options.servers !== undefined) throw new InputError('--server and --servers both name the Mailbox servers', 'give one of them: --servers EXCH01,EXCH02');
  const servers = options.servers !== undefined ? splitList(options.servers) : [options.server ?? 'EXCH01'];
  const edges = splitList(options.edge);
  for (const name of [...servers, ...edges]) {
    if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,14}$/.test(name)) throw new InputError(`${JSON.stringify(name)} is not a server (NetBIOS) name`, 'use letters, digits and hyphens, at most 15, such as EXCH01');
  }
  if (servers.length === 0) throw new InputError('--servers names no server', 'give at least one Mailbox server: --servers EXCH01,EXCH02');
  const { createNodePowerShellFactory } = await import('../../powershell/node-powershell.js');
  const masker = new Masker([password]);
  const sessions = createNodePowerShellFactory({ shell: resolveShell(options.shell, io.env), mask: (text) => masker.mask(text) });
  await runSimulatorSetup(
    sessions,
    [
      `New-ExchCertSimulatorState -Path ${psString(state)} -Servers ${psStringArray(servers)}${edges.length > 0 ? ` -Edge ${psStringArray(edges)}` : ''} -Fqdn ${psString(options.fqdn)}${layouts.length > 0 ? ` -Layout ${psStringArray(layouts)}` : ''} -Force`,
      `$password = (New-Object -TypeName System.Net.NetworkCredential -ArgumentList @('', $env:EXCH_CERT_PFX_PASSWORD)).SecurePassword`,
      `New-ExchCertSimulatorPfx -Path ${psString(pfx)} -Password $password -DnsName ${psStringArray(names)} -IncludeChain`,
    ].join('\n'),
    { EXCH_CERT_PFX_PASSWORD: password },
  );
  const { color } = terminal;
  const rehearse = (...args: string[]): string => color.bold(`  ${['npx', 'exch-cert', ...args, '--pfx', displayPath(pfx, io.cwd), '--fqdn', options.fqdn, '--simulate', displayPath(state, io.cwd)].map(shellWord).join(' ')}`);
  const edgeServer = edges[0];
  io.stderr.write(
    [
      `simulated Exchange ${servers.length > 1 ? `organisation, Mailbox servers ${servers.join(', ')}` : `server ${servers[0] ?? ''}`}${edges.length > 0 ? `, Edge Transport ${edges.join(', ')}` : ''}${layouts.length > 0 ? ` (layout ${layouts.join(', ')})` : ''}: ${displayPath(state, io.cwd)}`,
      `renewed certificate for ${names.join(', ')}: ${displayPath(pfx, io.cwd)}`,
      '',
      'Rehearse the renewal (set EXCH_CERT_BACKUP_PASSWORD too):',
      rehearse('renew', '--server', servers.join(',')),
      ...(edgeServer !== undefined ? ['', 'and the Edge Transport renewal with its new subscription:', rehearse('renew-edge', '--edge', edgeServer, '--mailbox', servers[0] ?? '', '--yes')] : []),
      '',
    ].join('\n'),
  );
  return ExitCode.ok;
}
