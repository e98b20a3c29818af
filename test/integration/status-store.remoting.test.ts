import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { pwshPath } from '../helpers/pwsh.js';
import { writeRemoteSessionModule } from '../helpers/remote-session.js';
import { remotingMode } from '../helpers/simulator-modes.js';
import { remotingAvailable, startSshServer, type SshServer } from '../helpers/sshd.js';
import { describeStatusStoreScenarios } from './status-store.js';

describeStatusStoreScenarios(remotingMode());

describe.skipIf(!remotingAvailable)('exch-cert status --server with --credential-env, through PowerShell remoting', { timeout: 120_000 }, () => {
  let sshd: SshServer;
  let fixture: string;

  beforeAll(async () => {
    sshd = await startSshServer();
    fixture = mkdtempSync(join(tmpdir(), 'exch-cert-status-cred-'));
    const init = runCli(['simulator', 'init', '--dir', fixture, '--shell', pwshPath ?? 'pwsh'], { env: { EXCH_CERT_PFX_PASSWORD: 'status-credential-tests' } });
    expect(init.status, init.stderr).toBe(0);
  });

  afterAll(async () => sshd.stop());

  it('opens the sessions with that account; a wrong one makes the store UNKNOWN, and the password is never shown', () => {
    const account = { user: 'CONTOSO\\svc-monitor', password: 'M0nitor pass ‘x’' };
    const dir = mkdtempSync(join(tmpdir(), 'exch-cert-status-cred-ws-'));
    cpSync(fixture, join(dir, 'sim'), { recursive: true });
    const module = writeRemoteSessionModule(sshd, { statePath: join(dir, 'sim', 'state.json'), account }, join(dir, 'session.psm1'));
    const status = (password: string) =>
      runCli(['status', '--server', 'EXCH01', '--connect', 'remote', '--remote-session-module', module, '--credential-env', 'MON_USER,MON_PASS', '--shell', pwshPath ?? 'pwsh'], {
        cwd: dir,
        env: { MON_USER: account.user, MON_PASS: password },
      });
    const good = status(account.password);
    expect(good.status, good.stdout).toBe(1);
    expect(good.stdout).toMatch(/^EXCH-CERT WARNING - EXCH01 mail\.contoso\.com expires /);
    const bad = status('wrong password');
    expect(bad.status).toBe(3);
    expect(bad.stdout).toMatch(/^EXCH-CERT UNKNOWN - EXCH01 certificate store: cannot be read: PowerShell failed: connecting \(prologue\): .*Access is denied/);
    for (const output of [good.stdout, good.stderr, bad.stdout, bad.stderr]) expect(output).not.toContain(account.password);
  });
});
