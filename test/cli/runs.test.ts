/**
 * `exch-cert runs`, `runs prune`, and what the journal tells about a run: whether --resume can
 * continue it, and in words why not. Journals are written here as exch-cert writes them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readJournal } from '../../src/engine/journal.js';
import { judgeResume } from '../../src/cli/resume.js';
import { runCli, STACK_LINE } from '../helpers/cli.js';

/** A process id that no process has any more. */
const DEAD = spawnSync('true').pid ?? 999_999;
const STEPS = ['find-old', 'import', 'enable', 'remove-old'];

type Line = Record<string, unknown>;

function journal(dir: string, runId: string, startedAt: string, lines: Line[], extra: Line = {}): void {
  mkdirSync(dir, { recursive: true });
  const started = { v: 1, ts: startedAt, runId, type: 'run-started', runbook: 'renew-certificate', file: 'renew.yaml', server: 'EXCH01', fingerprint: 'f', toolVersion: '0.1.0', params: {}, steps: STEPS, host: hostname(), pid: DEAD, ...extra };
  writeFileSync(join(dir, `${runId}.jsonl`), [started, ...lines.map((line) => ({ v: 1, ts: startedAt, runId, ...line }))].map((line) => JSON.stringify(line)).join('\n') + '\n');
}

const step = (stepId: string, status: string, position: number, phase = 'steps'): Line => ({ type: 'step-finished', stepId, phase, position, total: phase === 'steps' ? STEPS.length : 2, title: stepId, status, attempts: 1, durationMs: 10, outputs: {} });
const finished = (outcome: string, exitCode: number, message: string): Line => ({ type: 'run-finished', outcome, exitCode, durationMs: 100, message, counts: {}, serverLeftChanged: false });

/** A folder with one journal of each kind. */
function history(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'exch-cert-runs-')), 'runs');
  journal(dir, '20260101T000000Z-aaaaaa', '2026-01-01T00:00:00.000Z', [step('find-old', 'ok', 1), step('import', 'changed', 2), step('enable', 'changed', 3), step('remove-old', 'changed', 4), finished('ok', 0, 'all 4 steps done')]);
  journal(dir, '20260201T000000Z-bbbbbb', '2026-02-01T00:00:00.000Z', [
    step('find-old', 'ok', 1),
    step('import', 'failed', 2),
    { type: 'rollback-started', failedStepId: 'import', steps: ['rebind-old', 'rollback-iis-reset'] },
    step('rebind-old', 'ok', 1, 'onFailure'),
    step('rollback-iis-reset', 'skipped', 2, 'onFailure'),
    finished('failed', 1, 'step import failed'),
  ]);
  journal(dir, '20260301T000000Z-cccccc', '2026-03-01T00:00:00.000Z', [
    step('find-old', 'ok', 1),
    step('import', 'changed', 2),
    step('enable', 'failed', 3),
    { type: 'rollback-started', failedStepId: 'enable', steps: ['rebind-old', 'rollback-iis-reset'] },
    step('rebind-old', 'changed', 1, 'onFailure'),
    step('rollback-iis-reset', 'changed', 2, 'onFailure'),
    finished('failed', 1, 'step enable failed'),
  ]);
  journal(dir, '20260401T000000Z-dddddd', '2026-04-01T00:00:00.000Z', [step('find-old', 'ok', 1), step('import', 'changed', 2)]);
  journal(dir, '20260402T000000Z-eeeeee', '2026-04-02T00:00:00.000Z', [step('find-old', 'ok', 1), step('import', 'changed', 2)], { pid: process.pid });
  return dir;
}

describe('what a journal tells about resuming', () => {
  const dir = history();
  const judged = (runId: string) => judgeResume(readJournal(dir, runId));

  it('a run that finished has nothing to resume', () => {
    expect(judged('20260101T000000Z-aaaaaa')).toEqual({ resumable: false, outcome: 'ok', reason: 'finished: all 4 steps done; there is nothing to resume' });
  });

  it('a run that failed before any change, whose onFailure steps changed nothing, says so and can be resumed', () => {
    expect(judged('20260201T000000Z-bbbbbb')).toEqual({
      resumable: true,
      outcome: 'failed',
      reason: 'the run failed at step 2 of 4 (import); no step before it had changed the server; its onFailure steps changed nothing (rebind-old: ok, rollback-iis-reset: skipped), so nothing was rolled back',
    });
  });

  it('a run whose onFailure steps changed the server back cannot be resumed, and the reason says what happened', () => {
    expect(judged('20260301T000000Z-cccccc')).toEqual({
      resumable: false,
      outcome: 'failed',
      reason: 'the run failed at step 3 of 4 (enable); steps before it changed the server: import; its onFailure steps changed it back: rebind-old, rollback-iis-reset. Resuming would skip steps whose effect was undone',
    });
  });

  it('a run that was cut off (killed) can be resumed from the step it did not finish', () => {
    expect(judged('20260401T000000Z-dddddd')).toEqual({ resumable: true, outcome: 'unfinished', reason: 'the run was cut off before step 3 of 4 (enable) finished; steps before it changed the server: import' });
  });

  it('a run whose process still lives is running', () => {
    expect(judged('20260402T000000Z-eeeeee')).toMatchObject({ resumable: false, outcome: 'running' });
  });
});

describe('exch-cert runs', () => {
  it('lists id, runbook, server, start, outcome and whether it can be resumed, on stdout', () => {
    const dir = history();
    const result = runCli(['runs', '--journal-dir', dir]);
    expect(result.status).toBe(0);
    expect(result.stdout.split('\n')).toEqual([
      'RUN                      RUNBOOK            SERVER  STARTED (UTC)        OUTCOME     RESUMABLE',
      '20260101T000000Z-aaaaaa  renew-certificate  EXCH01  2026-01-01 00:00:00  ok          no',
      '20260201T000000Z-bbbbbb  renew-certificate  EXCH01  2026-02-01 00:00:00  failed      yes',
      '20260301T000000Z-cccccc  renew-certificate  EXCH01  2026-03-01 00:00:00  failed      no',
      '20260401T000000Z-dddddd  renew-certificate  EXCH01  2026-04-01 00:00:00  unfinished  yes',
      '20260402T000000Z-eeeeee  renew-certificate  EXCH01  2026-04-02 00:00:00  running     no',
      '',
    ]);
    expect(result.stderr).toContain('5 run(s) in');
    expect(result.stderr).toContain('2 resumable');
  });

  it('--json gives the same, with the reasons', () => {
    const dir = history();
    const runs = JSON.parse(runCli(['runs', '--journal-dir', dir, '--json']).stdout) as Array<Record<string, unknown>>;
    expect(runs.map((run) => [run['runId'], run['outcome'], run['resumable']])).toEqual([
      ['20260101T000000Z-aaaaaa', 'ok', false],
      ['20260201T000000Z-bbbbbb', 'failed', true],
      ['20260301T000000Z-cccccc', 'failed', false],
      ['20260401T000000Z-dddddd', 'unfinished', true],
      ['20260402T000000Z-eeeeee', 'running', false],
    ]);
    expect(runs[2]).toMatchObject({ server: 'EXCH01', exitCode: 1, reason: expect.stringContaining('its onFailure steps changed it back: rebind-old, rollback-iis-reset') });
  });

  it('a run that a later run resumed points at that later run', () => {
    const dir = history();
    journal(dir, '20260202T000000Z-ffffff', '2026-02-02T00:00:00.000Z', [step('import', 'changed', 2), finished('interrupted', 130, 'stopped by Ctrl-C')], { resumedFrom: '20260201T000000Z-bbbbbb' });
    const runs = JSON.parse(runCli(['runs', '--journal-dir', dir, '--json']).stdout) as Array<Record<string, unknown>>;
    expect(runs.find((run) => run['runId'] === '20260201T000000Z-bbbbbb')).toMatchObject({
      resumable: false,
      resumedBy: '20260202T000000Z-ffffff',
      reason: 'resumed by run 20260202T000000Z-ffffff (interrupted); resume that one: --resume 20260202T000000Z-ffffff',
    });
  });

  it('shows a damaged journal as damaged, and text from a journal escaped', () => {
    const dir = history();
    writeFileSync(join(dir, '20260501T000000Z-999999.jsonl'), '{"v":1}\nnot json\n{"v":1}\n');
    journal(dir, '20260502T000000Z-888888', '2026-05-02T00:00:00.000Z', [], { server: 'EXCH\u001b[2J01' });
    const result = runCli(['runs', '--journal-dir', dir]);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/20260501T000000Z-999999 +\? +\? +\? +damaged +no/);
    expect(result.stdout).toContain('EXCH\\e[2J01');
    expect(result.stdout).not.toContain('\u001b');
  });

  it('a folder without journals is no error', () => {
    const result = runCli(['runs', '--journal-dir', join(tmpdir(), 'exch-cert-no-such-folder')]);
    expect(result.status).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('no runs in');
  });
});

describe('exch-cert runs prune', () => {
  it('removes the journals of runs older than the age given, keeps the newer and the running ones', () => {
    const dir = history();
    // Every run is from 2026; the running one stays whatever its age.
    const dry = runCli(['runs', 'prune', '--older-than', '1d', '--journal-dir', dir, '--dry-run']);
    expect(dry.status).toBe(0);
    expect(dry.stdout.trim().split('\n')).toEqual(['20260101T000000Z-aaaaaa', '20260201T000000Z-bbbbbb', '20260301T000000Z-cccccc', '20260401T000000Z-dddddd']);
    expect(dry.stderr).toContain('would remove 4 journal(s)');
    expect(existsSync(join(dir, '20260101T000000Z-aaaaaa.jsonl'))).toBe(true);
    const result = runCli(['runs', 'prune', '--older-than', '1d', '--journal-dir', dir]);
    expect(result.status).toBe(0);
    expect(result.stderr).toContain('removed 4 journal(s) of runs started more than 1d ago');
    expect(existsSync(join(dir, '20260101T000000Z-aaaaaa.jsonl'))).toBe(false);
    expect(existsSync(join(dir, '20260402T000000Z-eeeeee.jsonl'))).toBe(true);
  });

  it('keeps runs newer than the age', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'exch-cert-prune-')), 'runs');
    journal(dir, '20260101T000000Z-aaaaaa', new Date(Date.now() - 40 * 86_400_000).toISOString(), [finished('ok', 0, 'done')]);
    journal(dir, '20260102T000000Z-bbbbbb', new Date(Date.now() - 10 * 86_400_000).toISOString(), [finished('ok', 0, 'done')]);
    const result = runCli(['runs', 'prune', '--older-than', '30d', '--journal-dir', dir]);
    expect(result.stdout).toBe('20260101T000000Z-aaaaaa\n');
    expect(existsSync(join(dir, '20260102T000000Z-bbbbbb.jsonl'))).toBe(true);
  });

  it('does not follow a symbolic link put among the journals', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'exch-cert-prune-')), 'runs');
    mkdirSync(dir, { recursive: true });
    const target = join(dir, '..', 'keep.txt');
    writeFileSync(target, 'keep me');
    symlinkSync(target, join(dir, '20200101T000000Z-abcdef.jsonl'));
    const result = runCli(['runs', 'prune', '--older-than', '1d', '--journal-dir', dir]);
    expect(result.status).toBe(0);
    expect(existsSync(target)).toBe(true);
  });

  it.each([['30'], ['thirty days'], ['0d'], ['-3d']])('--older-than %s is a usage error', (age) => {
    const result = runCli(['runs', 'prune', '--older-than', age, '--journal-dir', tmpdir()]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('is not an age');
    expect(result.stderr).toContain('30d (days), 12h (hours), 90m (minutes) or 2w (weeks)');
    expect(result.stderr).not.toMatch(STACK_LINE);
  });
});
