import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ExitCode, InputError } from '../../errors.js';
import { psString } from '../../powershell/quote.js';
import { Masker } from '../../engine/mask.js';
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
  readonly shell?: string;
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
  mkdirSync(dir, { recursive: true });
  const state = join(dir, 'state.json');
  const pfx = join(dir, `renewed-${options.fqdn.replace(/^\*\./, 'wildcard.')}.pfx`);
  const { createNodePowerShellFactory } = await import('../../powershell/node-powershell.js');
  const masker = new Masker([password]);
  const sessions = createNodePowerShellFactory({ shell: resolveShell(options.shell, io.env), mask: (text) => masker.mask(text) });
  await runSimulatorSetup(
    sessions,
    [
      `New-ExchCertSimulatorState -Path ${psString(state)} -Server ${psString(options.server)} -Fqdn ${psString(options.fqdn)} -Force`,
      `$password = (New-Object -TypeName System.Net.NetworkCredential -ArgumentList @('', $env:EXCH_CERT_PFX_PASSWORD)).SecurePassword`,
      `New-ExchCertSimulatorPfx -Path ${psString(pfx)} -Password $password -DnsName @(${psString(options.fqdn)})${options.wildcard ? ' -Wildcard' : ''}`,
    ].join('\n'),
    { EXCH_CERT_PFX_PASSWORD: password },
  );
  const { color } = terminal;
  io.stderr.write(
    [
      `simulated Exchange server ${options.server}: ${displayPath(state, io.cwd)}`,
      `renewed certificate for ${options.fqdn}: ${displayPath(pfx, io.cwd)}`,
      '',
      'Rehearse the renewal (set EXCH_CERT_BACKUP_PASSWORD too):',
      color.bold(`  exch-cert renew --server ${options.server} --pfx ${displayPath(pfx, io.cwd)} --fqdn ${options.fqdn} --simulate ${displayPath(state, io.cwd)}`),
      '',
    ].join('\n'),
  );
  return ExitCode.ok;
}
