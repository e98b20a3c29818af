/**
 * The remote connection through real PowerShell remoting (sshd on loopback): it always connects to
 * the named server, whatever is loaded locally, and it passes an explicit account wherever it opens
 * a session.
 */
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { repoRoot } from '../helpers/plan.js';
import { pwshPath } from '../helpers/pwsh.js';
import { editSimState, serverOf } from '../helpers/sim-state.js';
import { writeRemoteSessionModule } from '../helpers/remote-session.js';
import { remotingAvailable, startSshServer, type SshServer } from '../helpers/sshd.js';

const VALIDATE = join(repoRoot, 'runbooks', 'validate-exchange.yaml');

describe.skipIf(!remotingAvailable)('--connect remote through PowerShell remoting', { timeout: 180_000 }, () => {
  let sshd: SshServer;
  let fixture: string;

  beforeAll(async () => {
    sshd = await startSshServer();
    fixture = mkdtempSync(join(tmpdir(), 'exch-cert-conn-'));
    const init = runCli(['simulator', 'init', '--dir', fixture, '--shell', pwshPath ?? 'pwsh'], { env: { EXCH_CERT_PFX_PASSWORD: 'connection-tests' } });
    expect(init.status, init.stderr).toBe(0);
  });

  afterAll(async () => sshd.stop());

  /** A fresh copy of the simulated server and a session module pointing at it. */
  function workspace(account?: { user: string; password: string }): { dir: string; state: string; module: string } {
    const dir = mkdtempSync(join(tmpdir(), 'exch-cert-conn-ws-'));
    cpSync(fixture, join(dir, 'sim'), { recursive: true });
    const state = join(dir, 'sim', 'state.json');
    return { dir, state, module: writeRemoteSessionModule(sshd, { statePath: state, ...(account ? { account } : {}) }, join(dir, 'session.psm1')) };
  }

  const remote = (ws: { module: string }, ...extra: string[]): string[] => ['run', VALIDATE, '--server', 'EXCH01', '--connect', 'remote', '--remote-session-module', ws.module, '--shell', pwshPath ?? 'pwsh', ...extra];

  it('asks the named server, not a module on PSModulePath that exports the same cmdlets', () => {
    const ws = workspace();
    // The real server has a required service stopped; the impostor would say all is well.
    editSimState(ws.state, (state) => {
      for (const service of serverOf(state).services) if (service.name === 'MSExchangeRPC') service.status = 'Stopped';
    });
    const modules = join(ws.dir, 'modules');
    mkdirSync(join(modules, 'FakeExchange'), { recursive: true });
    writeFileSync(
      join(modules, 'FakeExchange', 'FakeExchange.psm1'),
      [
        "function Get-ExchangeCertificate { param([string]$Server) [pscustomobject]@{ Thumbprint = 'F'.PadLeft(40, 'F'); Subject = 'CN=impostor'; Services = 'IIS'; NotAfter = [datetime]::MaxValue } }",
        "function Test-ServiceHealth { param([string]$Server) [pscustomobject]@{ Role = 'Impostor Role'; RequiredServicesRunning = $true; ServicesNotRunning = @() } }",
        'Export-ModuleMember -Function Get-ExchangeCertificate, Test-ServiceHealth',
        '',
      ].join('\n'),
    );
    const result = runCli(remote(ws), { cwd: ws.dir, env: { PSModulePath: modules } });
    expect(result.status, result.stderr).toBe(1);
    expect(result.stderr).toContain('MSExchangeRPC');
    expect(result.stderr).not.toContain('impostor');
    expect(result.stderr).not.toContain('Impostor Role');
  });

  it('opens both sessions with the --credential-env account, and is refused without the right one', () => {
    const account = { user: 'CONTOSO\\svc-exchcert', password: 'Acc0unt pass ‘x’' };
    const ws = workspace(account);
    const good = runCli(remote(ws, '--credential-env', 'EXCH_USER,EXCH_PASS'), { cwd: ws.dir, env: { EXCH_USER: account.user, EXCH_PASS: account.password } });
    expect(good.status, good.stderr).toBe(0);
    const bad = runCli(remote(ws, '--credential-env', 'EXCH_USER,EXCH_PASS'), { cwd: ws.dir, env: { EXCH_USER: account.user, EXCH_PASS: 'wrong password' } });
    expect(bad.status).toBe(3);
    expect(bad.stderr).toContain('Access is denied');
    for (const output of [good.stdout, good.stderr, bad.stdout, bad.stderr]) expect(output).not.toContain(account.password);
  });

  it('connects again after iisreset ended the Exchange session, with the --credential-env account (implicit remoting would prompt)', () => {
    const account = { user: 'CONTOSO\\svc-exchcert', password: 'Acc0unt pass ‘x’' };
    const ws = workspace(account);
    const runbook = join(ws.dir, 'reset.yaml');
    writeFileSync(
      runbook,
      [
        'version: 1',
        'name: reset-then-check',
        'params:',
        '  server: { type: string, required: true }',
        'steps:',
        '  - id: reset',
        '    action: iis-reset',
        "    with: { server: '${{ params.server }}' }",
        '  - id: health',
        '    action: test-service-health',
        "    with: { server: '${{ params.server }}' }",
        '',
      ].join('\n'),
    );
    const args = ['run', runbook, '--server', 'EXCH01', '--connect', 'remote', '--remote-session-module', ws.module, '--shell', pwshPath ?? 'pwsh', '--credential-env', 'EXCH_USER,EXCH_PASS', '--verbose'];
    const result = runCli(args, { cwd: ws.dir, env: { EXCH_USER: account.user, EXCH_PASS: account.password } });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toContain('exch-cert: connecting to Exchange on EXCH01 again');
    expect(result.stderr).not.toContain(account.password);
  });
});
