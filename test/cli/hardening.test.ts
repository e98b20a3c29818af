/**
 * Errors a person can act on, before anything runs: every one is exit 2 and one line (never exit
 * 70 or a stack trace), and with --json the last line of stdout is the final event with the code.
 */
import { spawn } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, STACK_LINE } from '../helpers/cli.js';

const work = mkdtempSync(join(tmpdir(), 'exch-cert-hardening-'));
const file = join(work, 'a-file.txt');
writeFileSync(file, 'not a folder');
const existing = join(work, 'existing.ps1');
writeFileSync(existing, 'keep me');
const dangling = join(work, 'dangling.ps1');
symlinkSync(join(work, 'nowhere', 'target.ps1'), dangling);
mkdirSync(join(work, 'folder'));

const PLAN = ['plan', 'runbooks/validate-exchange.yaml', '--server', 'EXCH01'];
// The renewal checks that its PFX is a file on this machine before anything else; any file will do here.
const pfx = join(work, 'new.pfx');
writeFileSync(pfx, 'not read before the import step');
const RUN = ['run', 'runbooks/validate-exchange.yaml', '--server', 'EXCH01', '--shell', '/nonexistent/pwsh'];

describe('--output and --journal-dir mistakes are exit 2 with one line', () => {
  it.each([
    ['a folder', ['--output', join(work, 'folder')], 'is a folder, not a file'],
    ['a path under a missing folder', ['--output', join(work, 'missing', 'plan.ps1')], 'does not exist'],
    ['a path under a file', ['--output', join(file, 'plan.ps1')], 'part of its folder is a file'],
    ['/dev/full', ['--output', '/dev/full'], 'is a device, not a file'],
    ['a dangling symbolic link', ['--output', dangling], 'is a symbolic link; exch-cert does not write through one'],
    ['an empty name', ['--output', ''], '--output is empty'],
    ['an existing file, without --force', ['--output', existing], 'exists'],
  ])('--output to %s', (_name, flags, message) => {
    const result = runCli([...PLAN, ...flags]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr).not.toMatch(STACK_LINE);
    expect(result.stderr.trim().split('\n').filter((line) => line.startsWith('exch-cert: error:'))).toHaveLength(1);
  });

  it('replaces an existing file only with --force, and leaves it alone without', () => {
    expect(readFileSync(existing, 'utf8')).toBe('keep me');
    const forced = runCli([...PLAN, '--output', existing, '--force']);
    expect(forced.status, forced.stderr).toBe(0);
    expect(readFileSync(existing, 'utf8')).toContain('# exch-cert ');
  });

  it.each([
    ['an existing file', file, 'is a file, not a folder'],
    ['/proc', '/proc', 'cannot write there'],
    ['/proc/nope', '/proc/nope', 'cannot create /proc/nope'],
    ['/dev/full', '/dev/full', 'is a device, not a folder'],
  ])('--journal-dir set to %s fails at once', (_name, dir, message) => {
    const result = runCli([...RUN, '--journal-dir', dir]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`--journal-dir ${JSON.stringify(dir)}`);
    expect(result.stderr).toContain(message);
    expect(result.stderr).not.toMatch(STACK_LINE);
  });
});

describe('--json ends with the final event, also when the run never started', () => {
  it.each([
    ['a usage error (exit 2)', ['run', 'runbooks/validate-exchange.yaml', '--json', '--server', "EX'01"], 2, 'invalid'],
    ['a confirmation that cannot be asked (exit 5)', ['renew', '--server', 'EXCH01', '--pfx', pfx, '--fqdn', 'mail.contoso.com', '--json'], 5, 'declined'],
  ])('%s', (_name, args, code, outcome) => {
    // No PFX password: the file is not a PFX, and the confirmation is refused before secrets are read.
    const result = runCli(args, { env: { EXCH_CERT_PFX_PASSWORD: undefined, EXCH_CERT_BACKUP_PASSWORD: 'backup-password' } });
    expect(result.status).toBe(code);
    const last = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    expect(last).toMatchObject({ v: 1, type: 'run-finished', outcome, exitCode: code, started: false });
  });
});

describe('powershell steps are trusted code, and run and plan say so', () => {
  it('names every powershell step before anything runs', () => {
    const runbook = join(work, 'script.yaml');
    writeFileSync(
      runbook,
      [
        'version: 1',
        'name: script',
        'params:',
        '  server: { type: string, required: true }',
        'steps:',
        '  - id: custom-check',
        '    action: powershell',
        '    with:',
        '      script: Get-Date',
        '  - id: health',
        '    action: test-service-health',
        "    with: { server: '${{ params.server }}' }",
        '',
      ].join('\n'),
    );
    const result = runCli(['plan', runbook, '--server', 'EXCH01']);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toContain('warning: step custom-check runs a PowerShell script written in the runbook');
  });
});

describe('--resume', () => {
  const children: Array<{ kill(): boolean }> = [];
  afterAll(() => {
    for (const child of children) child.kill();
  });

  it('refuses while a process of the earlier run still lives on this machine', () => {
    const dir = mkdtempSync(join(tmpdir(), 'exch-cert-resume-'));
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    children.push(sleeper);
    const runId = '20261201T100000Z-abcdef';
    writeFileSync(
      join(dir, `${runId}.jsonl`),
      [
        { v: 1, runId, type: 'run-started', fingerprint: 'f', host: hostname(), pid: 999_999, runbook: 'validate-exchange', steps: [] },
        { v: 1, runId, type: 'session-started', pid: sleeper.pid },
      ].map((record) => JSON.stringify(record)).join('\n') + '\n',
    );
    const result = runCli([...RUN, '--journal-dir', dir, '--resume', runId, '--force']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`run ${runId} is still running here (process ${String(sleeper.pid)})`);
  });
});
