/**
 * The renewal scenarios: whole runbooks through exch-cert, node-powershell and a real PowerShell 7
 * against the simulated Exchange server (the renewal, injected faults, Ctrl-C, --resume and
 * confirmation). renew.in-process.test.ts runs them with the simulator imported into exch-cert's
 * shell, renew.remoting.test.ts through real PowerShell remoting (sshd on loopback; the Exchange
 * cmdlets come through Import-PSSession, host steps through Invoke-Command), the way production
 * reaches Exchange; two files, so the two ways run in parallel. CI installs pwsh and
 * openssh-server (.ci/run), so both run there.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliBin, runCli, STACK_LINE } from '../helpers/cli.js';
import { CliProcess } from '../helpers/cli-process.js';
import { readPfx } from '../helpers/pfx.js';
import { repoRoot } from '../helpers/plan.js';
import { pwshPath } from '../helpers/pwsh.js';
import { binding, certificate, editSimState, readServer, serverOf, type SimServer, type SimState } from '../helpers/sim-state.js';
import type { SimulatorMode, Workspace } from '../helpers/simulator-modes.js';

const PFX_PASSWORD = 'Pfx pass: ‘quoted’ $(x) `n';
const BACKUP_PASSWORD = 'Backup-S3cret!"§';
const SECRETS = [PFX_PASSWORD, BACKUP_PASSWORD];
const FQDN = 'mail.contoso.com';

let fixture: string;
let pwshEnv: Record<string, string>;

function workspace(faults: unknown[] = []): Workspace {
  const dir = mkdtempSync(join(tmpdir(), 'exch-cert-it-'));
  cpSync(fixture, join(dir, 'sim'), { recursive: true });
  const state = join(dir, 'sim', 'state.json');
  if (faults.length > 0) editSimState(state, (data) => (data.faults = faults));
  return { dir, state, pfx: join(dir, 'sim', `renewed-${FQDN}.pfx`) };
}

const readState = (path: string): SimServer => readServer(path);

function env(extra: Record<string, string> = {}): Record<string, string> {
  return { ...pwshEnv, EXCH_CERT_PFX_PASSWORD: PFX_PASSWORD, EXCH_CERT_BACKUP_PASSWORD: BACKUP_PASSWORD, ...extra };
}

function journalOf(dir: string): Array<Record<string, unknown>> {
  const runs = join(dir, '.exch-cert', 'runs');
  const files = readdirSync(runs).filter((name) => name.endsWith('.jsonl')).sort();
  const last = files[files.length - 1];
  if (!last) throw new Error('no journal');
  return readFileSync(join(runs, last), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Whether a process with this pid exists (signal 0 only asks). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function statuses(journal: Array<Record<string, unknown>>): string[] {
  return journal.filter((event) => event['type'] === 'step-finished').map((event) => `${String(event['stepId'])}:${String(event['status'])}`);
}

function expectNoSecrets(...texts: string[]): void {
  for (const text of texts) for (const secret of SECRETS) expect(text).not.toContain(secret);
}

/** Defines every renewal scenario for one way of reaching the simulator. */
export function describeRenewScenarios(mode: SimulatorMode): void {
describe(`exch-cert against the simulated Exchange server, ${mode.name}`, () => {
  const renew = (ws: Workspace, ...extra: string[]) => ['renew', '--server', 'EXCH01', '--pfx', ws.pfx, '--fqdn', FQDN, ...mode.target(ws), ...extra];
  const runArgs = (ws: Workspace, runbook: string, ...extra: string[]) => ['run', runbook, '--server', 'EXCH01', ...mode.target(ws), ...extra];

  describe.skipIf(!mode.available)(mode.name, { timeout: 180_000 }, () => {
    afterAll(async () => mode.tearDown());

    beforeAll(async () => {
      await mode.setUp();
      fixture = mkdtempSync(join(tmpdir(), 'exch-cert-fixture-'));
      pwshEnv = {};
      const result = runCli(['simulator', 'init', '--dir', fixture, '--fqdn', FQDN, '--layout', 'seed', '--shell', pwshPath ?? 'pwsh'], { env: env() });
      expect(result.status, result.stderr).toBe(0);
    });

    const shell = (): string[] => ['--shell', pwshPath ?? 'pwsh'];

    it('renews the certificate the way the seed describes, and keeps what must be kept', () => {
      const ws = workspace();
      const before = readState(ws.state);
      const old = certificate(before, new RegExp(`^CN=${FQDN}`));
      const selfSigned = certificate(before, /^CN=EXCH01/);
      const renewed = readPfx(readFileSync(ws.pfx), PFX_PASSWORD);
      expect(old && selfSigned).toBeTruthy();

      const result = runCli([...renew(ws), '--yes', ...shell()], { env: env(), cwd: ws.dir });
      expect(result.status, result.stderr).toBe(0);
      expect(result.stderr).toContain('done: all 17 steps done');

      const after = readState(ws.state);
      const fresh = after.certificates.find((c) => c.thumbprint === renewed.thumbprint);
      expect(fresh?.services).toEqual(expect.arrayContaining(['SMTP', 'POP', 'IMAP']));
      expect(binding(after, 'Default Web Site', '*:443:')).toBe(renewed.thumbprint);
      expect(binding(after, 'Exchange Back End', '*:444:')).toBe(selfSigned?.thumbprint);
      expect(binding(after, 'Default Web Site', '127.0.0.1:443:')).toBe(selfSigned?.thumbprint);
      expect(after.transport.internalTransportCertificateThumbprint).toBe(selfSigned?.thumbprint);
      expect(after.pop).toMatchObject({ x509CertificateName: FQDN, activeCertificateName: FQDN });
      expect(after.imap).toMatchObject({ x509CertificateName: FQDN, activeCertificateName: FQDN });
      expect(after.services.filter((s) => s.status !== 'Running')).toEqual([]);
      expect(after.certificates.some((c) => c.thumbprint === old?.thumbprint)).toBe(false);

      const backupFile = join(ws.dir, 'sim', 'backup', `${old?.thumbprint ?? ''}.pfx`);
      const backup = readPfx(readFileSync(backupFile), BACKUP_PASSWORD);
      expect(backup).toMatchObject({ thumbprint: old?.thumbprint, hasPrivateKey: true });

      const journal = journalOf(ws.dir);
      expect(statuses(journal)).toEqual([
        'preflight:ok',
        'probe:ok',
        'backup-old:ok',
        'import:changed',
        'enable:changed',
        // Enabling for IIS already put the new certificate on Default Web Site *:443, the one binding the old one had.
        'bind:ok',
        'internal-transport:skipped',
        'connectors:skipped',
        'pop-imap-name:ok',
        'restart-pop-imap:changed',
        'restart-transport:changed',
        'restart-mailbox-assistants:skipped',
        'restart-information-store:skipped',
        'iis-reset:changed',
        'verify:ok',
        'health:ok',
        'remove-old:changed',
      ]);
      // Real handshakes from here with what the simulated server serves: every endpoint that served the old certificate serves the new one.
      const verified = journal.find((event) => event['type'] === 'step-finished' && event['stepId'] === 'verify')?.['outputs'] as { checked: string[] };
      expect(verified.checked).toEqual(['mail.contoso.com:443', 'EXCH01:443', 'EXCH01:993', 'EXCH01:995'].map((label) => `${label}=${renewed.thumbprint}`).concat([`EXCH01:25=${selfSigned?.thumbprint ?? ''}`, `EXCH01:587=${selfSigned?.thumbprint ?? ''}`]));
      expect(journal.at(-1)).toMatchObject({ type: 'run-finished', outcome: 'ok', exitCode: 0, summary: { data: { oldThumbprint: old?.thumbprint, newThumbprint: renewed.thumbprint, backupPath: backupFile } } });
      // The summary repeats old and new and where the backup is.
      expect(result.stderr).toContain(`renewal: old ${old?.thumbprint ?? ''} -> new ${renewed.thumbprint}`);
      expect(result.stderr).toContain(`backup of the old certificate: ${backupFile}`);
      // iisreset ended the Exchange session (/PowerShell lives in IIS): the next Exchange step connected again.
      expect(journal.find((event) => event['type'] === 'step-finished' && event['stepId'] === 'health')?.['log']).toContain('exch-cert: connecting to Exchange on EXCH01 again');
      expectNoSecrets(result.stdout, result.stderr, JSON.stringify(journal), readFileSync(ws.state, 'utf8'));
    });

    it('fails verification while the old certificate is still in the store when POP and IMAP are not restarted, and rolls back', () => {
      const ws = workspace();
      const old = certificate(readState(ws.state), new RegExp(`^CN=${FQDN}`));
      const renewed = readPfx(readFileSync(ws.pfx), PFX_PASSWORD);
      const runbook = join(ws.dir, 'no-pop-imap-restart.yaml');
      const restart = '    title: Restart POP and IMAP so they load the certificate\n    action: restart-services\n';
      const text = readFileSync(join(repoRoot, 'runbooks', 'renew-certificate.yaml'), 'utf8');
      expect(text).toContain(restart);
      writeFileSync(runbook, text.replace(restart, `${restart}    when: false\n`).replace(/\n {4}when: \['\$\{\{ steps\.enable\.outputs\.changed \}\}', '\$\{\{ steps\.pop-imap-name\.outputs\.changed \}\}'\]/, ''));
      const result = runCli([...runArgs(ws, runbook, '--var', `pfxPath=${ws.pfx}`, '--var', `fqdn=${FQDN}`), '--yes', ...shell()], { env: env(), cwd: ws.dir });
      expect(result.status, result.stderr).toBe(1);
      // POP and IMAP still serve what they loaded when they last started: the old certificate.
      expect(result.stderr).toContain(`EXCH01:993: serves ${old?.thumbprint ?? ''}`);
      expect(result.stderr).toContain(`EXCH01:995: serves ${old?.thumbprint ?? ''}`);
      const journal = journalOf(ws.dir);
      expect(statuses(journal)).toEqual(expect.arrayContaining(['restart-pop-imap:skipped', 'iis-reset:changed', 'verify:failed', 'rebind-old:changed', 'rollback-iis-reset:changed']));
      expect(statuses(journal).some((entry) => entry.startsWith('health:') || entry.startsWith('remove-old:'))).toBe(false);
      const after = readState(ws.state);
      expect(after.certificates.some((c) => c.thumbprint === old?.thumbprint)).toBe(true);
      expect(binding(after, 'Default Web Site', '*:443:')).toBe(old?.thumbprint);
      expect(after.certificates.some((c) => c.thumbprint === renewed.thumbprint)).toBe(true);
    });

    it('prints NDJSON events with --json, ending with the outcome', () => {
      const ws = workspace();
      const result = runCli([...renew(ws), '--yes', '--json', ...shell()], { env: env(), cwd: ws.dir });
      expect(result.status, result.stderr).toBe(0);
      const events = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(events[0]).toMatchObject({ v: 1, type: 'run-started', runbook: 'renew-certificate', server: 'EXCH01' });
      expect(events.at(-1)).toMatchObject({ type: 'run-finished', outcome: 'ok', exitCode: 0, counts: { changed: 6, ok: 7, skipped: 4, failed: 0 } });
      expect(events.filter((event) => event['type'] === 'step-finished')).toHaveLength(17);
      expectNoSecrets(result.stdout, result.stderr);
    });

    it('on a failed enable: stops, rolls back to the old certificate, keeps the internal transport certificate, exits 1', () => {
      const ws = workspace([{ command: 'Enable-ExchangeCertificate', action: 'throw', message: 'The certificate store is busy', after: true, times: 1 }]);
      const before = readState(ws.state);
      const old = certificate(before, new RegExp(`^CN=${FQDN}`));
      const selfSigned = certificate(before, /^CN=EXCH01/);

      const result = runCli([...renew(ws), '--yes', ...shell()], { env: env(), cwd: ws.dir });
      expect(result.status, result.stderr).toBe(1);
      expect(result.stderr).toContain('The certificate store is busy');
      expect(result.stderr).toContain('step enable failed; onFailure: 3 of 3 step(s) succeeded. Steps that changed the server: import; steps that may have partly changed it: enable');

      const after = readState(ws.state);
      expect(binding(after, 'Default Web Site', '*:443:')).toBe(old?.thumbprint);
      expect(after.transport.internalTransportCertificateThumbprint).toBe(selfSigned?.thumbprint);
      expect(after.certificates.some((c) => c.thumbprint === old?.thumbprint)).toBe(true);
      const journal = journalOf(ws.dir);
      expect(statuses(journal)).toEqual(['preflight:ok', 'probe:ok', 'backup-old:ok', 'import:changed', 'enable:failed', 'rebind-old:changed', 'rollback-iis-reset:changed', 'start-stopped:ok']);
      expect(journal.find((event) => event['stepId'] === 'enable' && event['type'] === 'step-finished')).toMatchObject({ error: { message: expect.stringContaining('The certificate store is busy') } });

      // A rolled-back run cannot be resumed; a new run picks up from what is there.
      const runId = String(journal[0]?.['runId']);
      const resumed = runCli([...renew(ws), '--yes', '--resume', runId, ...shell()], { env: env(), cwd: ws.dir });
      expect(resumed.status).toBe(2);
      expect(resumed.stderr).toContain(`run ${runId} cannot be resumed: the run failed at step 5 of 17 (enable); steps before it changed the server: import; its onFailure steps changed it back: rebind-old, rollback-iis-reset. Resuming would skip steps whose effect was undone`);
      const again = runCli([...renew(ws), '--yes', ...shell()], { env: env(), cwd: ws.dir });
      expect(again.status, again.stderr).toBe(0);
      // The backup from the first run is there and verified; the certificate imported then is not imported again.
      expect(statuses(journalOf(ws.dir)).slice(0, 5)).toEqual(['preflight:ok', 'probe:ok', 'backup-old:ok', 'import:ok', 'enable:changed']);
      expectNoSecrets(result.stderr, again.stderr);
    });

    it('refuses a PFX its password does not open before it connects (exit 2), and one the preflight cannot read before any change', () => {
      const ws = workspace();
      const before = readFileSync(ws.state, 'utf8');
      const result = runCli([...renew(ws), '--yes', ...shell()], { env: env({ EXCH_CERT_PFX_PASSWORD: 'not the password' }), cwd: ws.dir });
      expect(result.status).toBe(2);
      expect(result.stderr).toContain('EXCH_CERT_PFX_PASSWORD: the password does not open');
      expect(result.stderr).toContain('nothing was run');
      expect(existsSync(join(ws.dir, '.exch-cert', 'runs')) ? readdirSync(join(ws.dir, '.exch-cert', 'runs')).filter((name) => name.endsWith('.jsonl')) : []).toEqual([]);
      expect(readFileSync(ws.state, 'utf8')).toBe(before);

      // A runbook that skips the plan-time check still finds it, in the read-only preflight.
      const runbook = join(ws.dir, 'renew.yaml');
      writeFileSync(runbook, readFileSync(join(repoRoot, 'runbooks', 'renew-certificate.yaml'), 'utf8'));
      const late = runCli(['run', runbook, '--server', 'EXCH01', '--var', `pfxPath=${ws.pfx}`, '--var', `fqdn=${FQDN}`, '--var', `backupDirectory=${join(ws.dir, 'backup')}`, ...mode.target(ws), '--yes', ...shell()], {
        env: env({ EXCH_CERT_PFX_PASSWORD: 'not the password' }),
        cwd: ws.dir,
      });
      expect(late.status).toBe(1);
      expect(late.stderr).toContain('cannot open the PFX: the password is wrong');
      expect(statuses(journalOf(ws.dir))).toEqual(['preflight:failed', 'rebind-old:skipped', 'rollback-iis-reset:skipped', 'start-stopped:skipped']);
      expect(readState(ws.state).certificates).toEqual(serverOf(JSON.parse(before) as SimState).certificates);
      expect(late.stderr).toContain('Nothing on the server was changed');
    });

    it('kills a hanging step at its timeout and reports timed_out', () => {
      const ws = workspace([{ command: 'Test-ServiceHealth', action: 'hang', seconds: 120 }]);
      const runbook = join(ws.dir, 'health.yaml');
      writeFileSync(runbook, readFileSync(join(repoRoot, 'runbooks', 'validate-exchange.yaml'), 'utf8').replace('    action: test-service-health\n', '    action: test-service-health\n    timeout: 3s\n'));
      // The fault hangs for 120 s: without the timeout the step would finish ok, and health:timed_out below fails.
      const result = runCli(runArgs(ws, runbook, ...shell()), { env: env(), cwd: ws.dir });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('timed out after');
      expect(statuses(journalOf(ws.dir))).toEqual(['front-end:ok', 'back-end:ok', 'health:timed_out']);
    });

    it('finds nothing without failing when allowMissing is set, and skips the steps that depend on it', () => {
      const ws = workspace();
      const runbook = join(ws.dir, 'missing.yaml');
      writeFileSync(
        runbook,
        [
          'version: 1',
          'name: missing',
          'params:',
          '  server: { type: string, required: true }',
          'steps:',
          '  - id: find',
          '    action: find-certificate',
          "    with: { server: '${{ params.server }}', site: Exchange Back End, port: 444, ip: 127.0.0.1, allowMissing: true }",
          '  - id: health',
          '    action: test-service-health',
          "    when: ${{ steps.find.outputs.found }}",
          "    with: { server: '${{ params.server }}' }",
          '',
        ].join('\n'),
      );
      const result = runCli(runArgs(ws, runbook, '--json', ...shell()), { env: env(), cwd: ws.dir });
      expect(result.status, result.stderr).toBe(0);
      const journal = journalOf(ws.dir);
      expect(statuses(journal)).toEqual(['find:ok', 'health:skipped']);
      expect(journal.find((event) => event['stepId'] === 'find' && event['type'] === 'step-finished')).toMatchObject({
        outputs: { found: false, thumbprint: '', subject: '', notAfter: '', services: '' },
      });
    });

    it('stops after the running step on Ctrl-C (130), and --resume finishes the run', async () => {
      const ws = workspace([{ command: 'Test-ServiceHealth', action: 'hang', seconds: 4, times: 1 }]);
      const runbook = join(ws.dir, 'check.yaml');
      const text = readFileSync(join(repoRoot, 'runbooks', 'validate-exchange.yaml'), 'utf8');
      // Health first, then the certificate checks, so the interrupt lands in the first step.
      writeFileSync(runbook, text.replace(/steps:\n([\s\S]*?)( {2}- id: health[\s\S]*)$/, 'steps:\n$2\n$1'));
      const run = new CliProcess(runArgs(ws, runbook, ...shell()), { env: env(), cwd: ws.dir });
      await run.waitFor(/\[1\/3\] health/);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      run.signal('SIGINT');
      expect(await run.exited).toBe(130);
      expect(run.stderr).toContain('Ctrl-C: finishing');
      expect(run.stderr).toMatch(/stopped by Ctrl-C before step front-end\. .*Resume with --resume (\S+)/);
      const journal = journalOf(ws.dir);
      expect(statuses(journal)).toEqual(['health:ok']);
      expect(journal.some((event) => event['type'] === 'interrupt')).toBe(true);

      const runId = String(journal[0]?.['runId']);
      const resumed = runCli(runArgs(ws, runbook, '--resume', runId, ...shell()), { env: env(), cwd: ws.dir });
      expect(resumed.status, resumed.stderr).toBe(0);
      expect(statuses(journalOf(ws.dir))).toEqual(['health:skipped', 'front-end:ok', 'back-end:ok']);
    });

    it('aborts the running step on a second Ctrl-C and says it may be half done', async () => {
      const ws = workspace([{ command: 'Test-ServiceHealth', action: 'hang', seconds: 60 }]);
      const run = new CliProcess(runArgs(ws, join(repoRoot, 'runbooks', 'validate-exchange.yaml'), ...shell()), { env: env(), cwd: ws.dir });
      await run.waitFor(/\[3\/3\] health/);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const started = Date.now();
      run.signal('SIGINT');
      await run.waitFor(/Ctrl-C: finishing/);
      run.signal('SIGINT');
      expect(await run.exited).toBe(130);
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(run.stderr).toContain('step health was aborted by Ctrl-C and may be half done');
      expect(statuses(journalOf(ws.dir))).toEqual(['front-end:ok', 'back-end:ok', 'health:failed']);
    });

    it.each(['SIGTERM', 'SIGHUP'] as const)('%s stops after the running step like Ctrl-C: journal, summary, exit 130; a second one aborts the step', async (signal) => {
      const ws = workspace([{ command: 'Test-ServiceHealth', action: 'hang', seconds: 4, times: 1 }]);
      const runbook = join(ws.dir, 'check.yaml');
      const text = readFileSync(join(repoRoot, 'runbooks', 'validate-exchange.yaml'), 'utf8');
      writeFileSync(runbook, text.replace(/steps:\n([\s\S]*?)( {2}- id: health[\s\S]*)$/, 'steps:\n$2\n$1'));
      const run = new CliProcess(runArgs(ws, runbook, ...shell()), { env: env(), cwd: ws.dir });
      await run.waitFor(/\[1\/3\] health/);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      run.signal(signal);
      expect(await run.exited).toBe(130);
      expect(run.stderr).toContain(`${signal}: finishing the current step, then stopping. Send ${signal} again to abort it.`);
      expect(run.stderr).toMatch(new RegExp(`stopped by ${signal} before step front-end\\. .*Resume with --resume`));
      expect(run.stderr).toMatch(/health +ok/);
      const journal = journalOf(ws.dir);
      expect(statuses(journal)).toEqual(['health:ok']);
      expect(journal.at(-1)).toMatchObject({ type: 'run-finished', outcome: 'interrupted', exitCode: 130 });

      const twice = workspace([{ command: 'Test-ServiceHealth', action: 'hang', seconds: 60 }]);
      const again = new CliProcess(runArgs(twice, runbook, ...shell()), { env: env(), cwd: twice.dir });
      await again.waitFor(/\[1\/3\] health/);
      await new Promise((resolve) => setTimeout(resolve, 500));
      again.signal(signal);
      await again.waitFor(new RegExp(`${signal}: finishing`));
      again.signal(signal);
      expect(await again.exited).toBe(130);
      expect(again.stderr).toContain(`${signal} again: aborting the running step.`);
      expect(again.stderr).toContain(`step health was aborted by ${signal} and may be half done`);
    });

    it('lets one run at a time change a server: a second run exits 2 naming the run that holds it', async () => {
      const ws = workspace([{ command: 'Test-ServiceHealth', action: 'hang', seconds: 5, times: 1 }]);
      const validate = join(repoRoot, 'runbooks', 'validate-exchange.yaml');
      const first = new CliProcess(runArgs(ws, validate, ...shell()), { env: env(), cwd: ws.dir });
      await first.waitFor(/\[3\/3\] health/);
      const runId = String(journalOf(ws.dir)[0]?.['runId']);
      const second = runCli(runArgs(ws, validate, ...shell()), { env: env(), cwd: ws.dir });
      expect(second.status).toBe(2);
      expect(second.stderr).toContain(`EXCH01 is being changed by run ${runId} (exch-cert pid`);
      expect(await first.exited).toBe(0);
      // Once the first run is done, the server is free again.
      expect(runCli(runArgs(ws, validate, ...shell()), { env: env(), cwd: ws.dir }).status).toBe(0);
    });

    it('a one-letter secret is masked without corrupting output, events or the journal, and exch-cert warns about it', () => {
      const ws = workspace();
      const result = runCli([...renew(ws), '--yes', '--json', ...shell()], { env: env({ EXCH_CERT_BACKUP_PASSWORD: 'e' }), cwd: ws.dir });
      expect(result.status, result.stderr).toBe(0);
      expect(result.stderr).toContain('warning: the secret in EXCH_CERT_BACKUP_PASSWORD is shorter than 8 characters');
      const events = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(events.map((event) => event['type'])).toEqual(expect.arrayContaining(['run-started', 'session-started', 'step-started', 'step-finished', 'run-finished']));
      expect(events.every((event) => !String(event['type']).includes('*'))).toBe(true);
      expect(events.at(-1)).toMatchObject({ type: 'run-finished', outcome: 'ok', message: 'all 17 steps done' });
      expect(journalOf(ws.dir)[0]).toMatchObject({ type: 'run-started', runbook: 'renew-certificate' });
    });

    it('shows control characters from PowerShell escaped: output cannot forge lines or retitle the terminal', () => {
      const ws = workspace();
      const runbook = join(ws.dir, 'noisy.yaml');
      writeFileSync(
        runbook,
        [
          'version: 1',
          'name: noisy',
          'params:',
          '  server: { type: string, required: true }',
          'steps:',
          '  - id: noisy',
          '    action: powershell',
          '    with:',
          '      script: |',
          "        Write-Host ('x' + [char]27 + ']0;pwned' + [char]7 + [char]13 + [char]0x2714 + ' FAKE: all 11 steps done' + [char]0x202e)",
          '  - id: health',
          '    action: test-service-health',
          "    with: { server: '${{ params.server }}' }",
          '',
        ].join('\n'),
      );
      const result = runCli(runArgs(ws, runbook, '--verbose', ...shell()), { env: env(), cwd: ws.dir });
      expect(result.status, result.stderr).toBe(0);
      expect(result.stderr).toContain('| x\\e]0;pwned\\a\\r✔ FAKE: all 11 steps done\\u202e');
      expect(result.stderr).not.toMatch(/[\u001b\u0007\r\u202e]/);
    });

    it.skipIf(!mode.name.startsWith('in-process'))('stops at a step boundary, saying what changed, when the disk of the journal fills up', () => {
      const ws = workspace();
      const disk = join(ws.dir, 'small-disk');
      mkdirSync(disk);
      const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', disk]);
      if (mount.status !== 0) {
        // Mounting a small file system needs root, which CI has; elsewhere say so rather than pass.
        if (process.env['EXCH_CERT_REQUIRE_REMOTING'] === '1') throw new Error(`cannot mount a tmpfs for the full-disk test: ${mount.stderr.toString()}`);
        // eslint-disable-next-line no-console -- a skip must be visible in the test output
        console.warn('SKIPPED: the full-disk journal test needs root (mount -t tmpfs)');
        return;
      }
      try {
        // Leave three pages free: the lock file takes one, the journal gets two (8 KiB), less than a renewal writes.
        writeFileSync(join(disk, 'filler'), Buffer.alloc(52 * 1024));
        const result = runCli([...renew(ws), '--yes', '--journal-dir', disk, ...shell()], { env: env(), cwd: ws.dir });
        // Steps had changed the server and no rollback ran: the server is left changed.
        expect(result.status).toBe(4);
        expect(result.stderr).toMatch(/the journal cannot be written \(.*no space left on the disk\); stopped before the next step was sent\. Steps that changed the server: /);
        expect(result.stderr).not.toMatch(STACK_LINE);
      } finally {
        spawnSync('umount', [disk]);
      }
    });

    it('kill -9 of exch-cert: its PowerShell exits at once and changes nothing afterwards', async () => {
      const ws = workspace([{ command: 'Set-PopSettings', action: 'hang', seconds: 6 }]);
      const runbook = join(ws.dir, 'pop.yaml');
      writeFileSync(
        runbook,
        [
          'version: 1',
          'name: pop-name',
          'params:',
          '  server: { type: string, required: true }',
          'steps:',
          '  - id: name',
          '    action: set-pop-imap-certificate-name',
          "    with: { server: '${{ params.server }}', name: imap.contoso.com, protocols: [POP] }",
          '  - id: restart',
          '    action: restart-services',
          "    with: { server: '${{ params.server }}', services: [MSExchangePop3, MSExchangePOP3BE] }",
          '  - id: health',
          '    action: test-service-health',
          "    with: { server: '${{ params.server }}' }",
          '',
        ].join('\n'),
      );
      const run = new CliProcess(runArgs(ws, runbook, ...shell()), { env: env(), cwd: ws.dir });
      await run.waitFor(/\[1\/3\] name/);
      const shellPid = Number(journalOf(ws.dir).find((event) => event['type'] === 'session-started')?.['pid']);
      expect(shellPid).toBeGreaterThan(0);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      run.signal('SIGKILL');
      await run.exited;
      const gone = Date.now();
      while (isAlive(shellPid) && Date.now() - gone < 3000) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(isAlive(shellPid)).toBe(false);
      // The hang ends 6 s after it began; an orphaned shell would then set the name and save.
      await new Promise((resolve) => setTimeout(resolve, 7000));
      expect(readState(ws.state).pop.x509CertificateName).toBe(FQDN);
    });

    it('leaves nothing behind in the temporary folder when it ends', () => {
      const ws = workspace();
      const tmp = join(ws.dir, 'tmp');
      mkdirSync(tmp);
      const result = runCli(runArgs(ws, join(repoRoot, 'runbooks', 'validate-exchange.yaml'), ...shell()), { env: env({ TMPDIR: tmp }), cwd: ws.dir });
      expect(result.status, result.stderr).toBe(0);
      expect(readdirSync(tmp).filter((name) => /^(CoreFxPipe_|clr-debug-pipe-|dotnet-diagnostic-)/.test(name))).toEqual([]);
    });

    it('asks before the destructive step on a terminal; "n" stops the run with exit 5 and removes nothing', async () => {
      const ws = workspace();
      const old = certificate(readState(ws.state), new RegExp(`^CN=${FQDN}`));
      // script(1) gives exch-cert a terminal, as an admin at a console has.
      const quote = (arg: string): string => `'${arg.replace(/'/g, "'\\''")}'`;
      const command = `stty cols 100 rows 40; ${[process.execPath, cliBin, ...renew(ws), ...shell()].map(quote).join(' ')}`;
      const run = new CliProcess([], { env: env({ TERM: 'xterm' }), cwd: ws.dir, command: ['script', '-qefc', command, '/dev/null'], noBin: true });
      await run.waitFor(/Run it\? \[y\/N\]/, 120_000);
      expect(run.stdout).toContain('Step remove-old (remove-certificate) cannot be undone: Remove the old certificate');
      // The prompt names the certificate it removes and the backup it relies on.
      expect(run.stdout).toContain(`preflight oldThumbprint: ${old?.thumbprint ?? ''}`);
      expect(run.stdout).toMatch(/backup-old path: \S+backup\/[0-9A-F]{40}\.pfx/);
      run.write('n\r');
      expect(await run.exited).toBe(5);
      expect(run.stdout).toContain('step remove-old was not confirmed; it and the steps after it did not run');
      expect(readState(ws.state).certificates.some((c) => c.thumbprint === old?.thumbprint)).toBe(true);
      expect(journalOf(ws.dir).find((event) => event['type'] === 'confirmation')).toMatchObject({ stepId: 'remove-old', answer: 'no' });
    });

    it('on a terminal, Ctrl-C reaches exch-cert only: the running step still finishes in PowerShell', async () => {
      const ws = workspace([{ command: 'Test-ServiceHealth', action: 'hang', seconds: 4, times: 1 }]);
      const quote = (arg: string): string => `'${arg.replace(/'/g, "'\\''")}'`;
      const args = runArgs(ws, join(repoRoot, 'runbooks', 'validate-exchange.yaml'), ...shell());
      const command = `stty cols 100 rows 40; ${[process.execPath, cliBin, ...args].map(quote).join(' ')}`;
      const run = new CliProcess([], { env: env({ TERM: 'xterm' }), cwd: ws.dir, command: ['script', '-qefc', command, '/dev/null'], noBin: true });
      await run.waitFor(/\[3\/3\] health/, 120_000);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      run.write('\u0003');
      expect(await run.exited).toBe(130);
      // health ran to the end although Ctrl-C came in the middle of it: PowerShell never saw the interrupt.
      expect(statuses(journalOf(ws.dir))).toEqual(['front-end:ok', 'back-end:ok', 'health:ok']);
      expect(run.stdout).toContain('Ctrl-C: finishing the current step, then stopping');
      expect(run.stdout).toContain('Ctrl-C came during the last step; all 3 steps ran');
    });
  });
});
}
