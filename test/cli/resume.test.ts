/**
 * `--resume RUN_ID` alone: the runbook, params and connection come from the journal; flags given
 * again must match; the refusals say what happened. Against the simulated Exchange server.
 */
import { cpSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, STACK_LINE } from '../helpers/cli.js';
import { pwshPath } from '../helpers/pwsh.js';
import { editSimState } from '../helpers/sim-state.js';

const SECRETS = { EXCH_CERT_PFX_PASSWORD: 'Resume-Pfx-Secret-1', EXCH_CERT_BACKUP_PASSWORD: 'Resume-Backup-Secret-2' };

describe.skipIf(!pwshPath)('--resume from the journal', { timeout: 180_000 }, () => {
  let fixture: string;

  beforeAll(() => {
    fixture = mkdtempSync(join(tmpdir(), 'exch-cert-resume-'));
    const init = runCli(['simulator', 'init', '--dir', join(fixture, 'sim'), '--shell', pwshPath ?? 'pwsh'], { env: SECRETS });
    expect(init.status, init.stderr).toBe(0);
  });

  /** A folder with its own copy of the simulated server, and a fault in it. */
  function workspace(fault: Record<string, unknown>): string {
    const dir = mkdtempSync(join(tmpdir(), 'exch-cert-resume-ws-'));
    cpSync(join(fixture, 'sim'), join(dir, 'sim'), { recursive: true });
    editSimState(join(dir, 'sim', 'state.json'), (state) => (state.faults = [{ times: 1, ...fault }]));
    return dir;
  }
  const renew = ['renew', '--server', 'EXCH01', '--pfx', join('sim', 'renewed-mail.contoso.com.pfx'), '--fqdn', 'mail.contoso.com', '--simulate', join('sim', 'state.json'), '--yes', '--shell', pwshPath ?? 'pwsh'];
  const runIds = (dir: string): string[] =>
    readdirSync(join(dir, '.exch-cert', 'runs'))
      .filter((name) => name.endsWith('.jsonl'))
      .map((name) => name.replace('.jsonl', ''))
      .sort();

  it('takes the runbook, params and connection from the journal; given again, a flag must match', () => {
    const dir = workspace({ command: 'Enable-ExchangeCertificate', message: 'The WinRM client cannot process the request' });
    const first = runCli(renew, { env: SECRETS, cwd: dir });
    expect(first.status, first.stderr).toBe(1);
    const [runId = ''] = runIds(dir);
    const started = JSON.parse(readFileSync(join(dir, '.exch-cert', 'runs', `${runId}.jsonl`), 'utf8').split('\n')[0] ?? '{}') as { request: Record<string, unknown> };
    expect(started.request).toMatchObject({ command: 'renew', vars: { server: 'EXCH01', fqdn: 'mail.contoso.com', pfxPath: join('sim', 'renewed-mail.contoso.com.pfx') }, cwd: dir });
    for (const secret of Object.values(SECRETS)) expect(JSON.stringify(started)).not.toContain(secret);

    const listed = JSON.parse(runCli(['runs', '--json'], { cwd: dir }).stdout) as Array<Record<string, unknown>>;
    expect(listed[0]).toMatchObject({ runId, outcome: 'failed', resumable: true });
    expect(listed[0]?.['reason']).toBe('the run failed at step 5 of 17 (enable); steps before it changed the server: import; its onFailure steps changed nothing (rebind-old: ok, rollback-iis-reset: skipped, start-stopped: ok), so nothing was rolled back');

    const other = runCli(['renew', '--resume', runId, '--fqdn', 'owa.contoso.com', '--yes'], { env: SECRETS, cwd: dir });
    expect(other.status).toBe(2);
    expect(other.stderr).toContain(`--resume ${runId} takes the runbook, params and connection from the run's journal, and these flags say otherwise:\n  --fqdn "owa.contoso.com" (run ${runId} had "mail.contoso.com")`);
    expect(other.stderr).not.toMatch(STACK_LINE);

    // No --server, --pfx, --fqdn or --simulate: all of it comes from the journal. The same --server again is fine.
    const resumed = runCli(['renew', '--resume', runId, '--server', 'EXCH01', '--yes', '--shell', pwshPath ?? 'pwsh'], { env: SECRETS, cwd: dir });
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`exch-cert: resuming run ${runId}: the run failed at step 5 of 17 (enable)`);
    expect(resumed.stderr).toContain('done: all 17 steps done');
    expect(resumed.stderr).toMatch(/\[4\/17\] import: Import the renewed certificate skipped: done in run/);

    const again = runCli(['renew', '--resume', runId, '--yes'], { env: SECRETS, cwd: dir });
    expect(again.status).toBe(2);
    expect(again.stderr).toContain(`run ${runId} was resumed already, by run ${runIds(dir)[1] ?? ''} (ok): resuming it again would repeat what that run did`);
    const later = runCli(['run', '--resume', runIds(dir)[1] ?? '', '--yes'], { env: SECRETS, cwd: dir });
    expect(later.status).toBe(2);
    expect(later.stderr).toContain('cannot be resumed: finished: all 17 steps done; there is nothing to resume');
  });

  it('refuses a run whose onFailure steps changed the server back, and says what happened', () => {
    // Set-PopSettings (POP names another FQDN) fails after the new certificate is enabled: the renewal rolls back.
    const dir = workspace({ command: 'Set-PopSettings', message: 'Access is denied' });
    editSimState(join(dir, 'sim', 'state.json'), (state) => {
      for (const server of state.servers) (server.pop as { x509CertificateName: string }).x509CertificateName = 'pop.contoso.com';
    });
    const first = runCli(renew, { env: SECRETS, cwd: dir });
    expect(first.status, first.stderr).toBe(1);
    const [runId = ''] = runIds(dir);
    const resumed = runCli(['renew', '--resume', runId, '--yes'], { env: SECRETS, cwd: dir });
    expect(resumed.status).toBe(2);
    expect(resumed.stderr).toContain(
      `run ${runId} cannot be resumed: the run failed at step 9 of 17 (pop-imap-name); steps before it changed the server: import, enable; its onFailure steps changed it back: rebind-old, rollback-iis-reset. Resuming would skip steps whose effect was undone`,
    );
    expect(resumed.stderr).not.toContain('rolled back part of what it did');
  });

  it('resumes only from the folder the run was started in (its relative paths are relative to it)', () => {
    const dir = workspace({ command: 'Enable-ExchangeCertificate', message: 'WinRM' });
    expect(runCli(renew, { env: SECRETS, cwd: dir }).status).toBe(1);
    const [runId = ''] = runIds(dir);
    const elsewhere = runCli(['renew', '--resume', runId, '--journal-dir', join(dir, '.exch-cert', 'runs'), '--yes'], { env: SECRETS, cwd: tmpdir() });
    expect(elsewhere.status).toBe(2);
    expect(elsewhere.stderr).toContain(`run ${runId} was started in ${dir}; relative paths in it (such as --pfx) are relative to that folder`);
    expect(elsewhere.stderr).toContain(`hint: cd ${dir} and resume there`);
  });
});
