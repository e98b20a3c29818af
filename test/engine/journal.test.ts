import { execFileSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunEvent, StepStatus } from '../../src/engine/events.js';
import { Journal, newRunId, planFingerprint, readJournal } from '../../src/engine/journal.js';
import { InputError } from '../../src/errors.js';
import { planFromText, shippedRunbookText } from '../helpers/plan.js';

const started = (stepId: string): RunEvent => ({ type: 'step-started', stepId, phase: 'steps', position: 1, total: 3, title: stepId, attempt: 1 });
const runStarted = (runId: string): RunEvent => ({ type: 'run-started', runId, runbook: 'x', file: 'x.yaml', server: 'EXCH01', fingerprint: 'abc', toolVersion: '1', params: {}, steps: ['a'], host: 'ADMINPC', pid: 4242 });

const finished = (stepId: string, status: StepStatus, outputs: Record<string, unknown> = {}): RunEvent => ({
  type: 'step-finished',
  stepId,
  phase: 'steps',
  position: 1,
  total: 3,
  title: stepId,
  status,
  attempts: 1,
  durationMs: 5,
  outputs,
});

describe('journal', () => {
  it('writes one JSON line per event and reads back what finished', () => {
    const dir = mkdtempSync(join(tmpdir(), 'exch-cert-journal-'));
    const journal = Journal.create(dir, 'r1');
    journal.emit({ type: 'run-started', runId: 'r1', runbook: 'x', file: 'x.yaml', server: 'EXCH01', fingerprint: 'abc', toolVersion: '1', params: {}, steps: ['a', 'b', 'c'], host: 'ADMINPC', pid: 4242 });
    journal.emit(started('a'));
    journal.emit(finished('a', 'ok', { thumbprint: 'T' }));
    journal.emit(finished('b', 'failed'));
    journal.emit(finished('c', 'changed'));
    journal.close();
    const lines = readFileSync(join(dir, 'r1.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatchObject({ v: 1, runId: 'r1', type: 'run-started' });
    const state = readJournal(dir, 'r1');
    expect(state.fingerprint).toBe('abc');
    expect([...state.completed]).toEqual([
      ['a', { status: 'ok', outputs: { thumbprint: 'T' } }],
      ['c', { status: 'changed', outputs: {} }],
    ]);
  });

  it('tolerates a last line cut off by a crash, but not damage in the middle', () => {
    const dir = mkdtempSync(join(tmpdir(), 'exch-cert-journal-'));
    const journal = Journal.create(dir, 'r2');
    journal.emit({ type: 'run-started', runId: 'r2', runbook: 'x', file: 'x.yaml', server: 'EXCH01', fingerprint: 'f', toolVersion: '1', params: {}, steps: [], host: 'ADMINPC', pid: 4242 });
    journal.emit(started('a'));
    journal.emit(finished('a', 'ok'));
    journal.close();
    appendFileSync(join(dir, 'r2.jsonl'), '{"v":1,"type":"step-fin');
    expect(readJournal(dir, 'r2').completed.has('a')).toBe(true);
    appendFileSync(join(dir, 'r2.jsonl'), '\n' + JSON.stringify({ runId: 'r2', ...finished('b', 'ok') }) + '\n');
    expect(() => readJournal(dir, 'r2')).toThrow('is damaged at line 4');
  });

  it('refuses unknown or malformed run ids', () => {
    const dir = mkdtempSync(join(tmpdir(), 'exch-cert-journal-'));
    expect(() => readJournal(dir, '../../etc/passwd')).toThrow(InputError);
    expect(() => readJournal(dir, '20260101T000000Z-abcdef')).toThrow('no journal for run');
  });

  it('makes sortable, distinct run ids', () => {
    const a = newRunId(new Date('2026-11-26T06:48:00.123Z'));
    expect(a).toMatch(/^20261126T064800Z-[0-9a-f]{6}$/);
    expect(newRunId(new Date('2026-11-26T06:48:00.123Z'))).not.toBe(a);
  });

  it('fingerprints what would run, not where the file was opened from', async () => {
    const vars = { server: 'EXCH01', pfxPath: 'C:\\a.pfx', fqdn: 'mail.contoso.com' };
    const a = await planFromText(shippedRunbookText('renew-certificate'), vars);
    const b = { ...(await planFromText(shippedRunbookText('renew-certificate'), vars)), runbook: { ...a.runbook, file: 'elsewhere/renew.yaml' } };
    const c = await planFromText(shippedRunbookText('renew-certificate'), { ...vars, fqdn: 'owa.contoso.com' });
    expect(planFingerprint(b)).toBe(planFingerprint(a));
    expect(planFingerprint(c)).not.toBe(planFingerprint(a));
  });

  it('leaves no file when the run never reaches a step, and writes the file 0600 when it does', () => {
    const dir = mkdtempSync(join(tmpdir(), 'exch-cert-journal-'));
    const none = Journal.create(dir, 'r3');
    none.emit(runStarted('r3'));
    none.emit({ type: 'run-finished', outcome: 'declined', exitCode: 5, durationMs: 1, message: 'no', counts: { ok: 0, changed: 0, skipped: 0, failed: 0, timed_out: 0 }, serverLeftChanged: false });
    none.close();
    expect(none.created).toBe(false);
    expect(existsSync(join(dir, 'r3.jsonl'))).toBe(false);
    const some = Journal.create(dir, 'r4');
    some.emit(runStarted('r4'));
    some.emit(started('a'));
    some.close();
    expect(statSync(join(dir, 'r4.jsonl')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'r4.jsonl'), 'utf8').split('\n').filter(Boolean)).toHaveLength(2);
  });

  it('records a write that fails (a full disk) and writes nothing after it', () => {
    const written: string[] = [];
    let writes = 0;
    const journal = Journal.create('/journals', 'r5', {
      open: () => 7,
      write: (_fd, text) => {
        if (++writes > 2) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        written.push(text);
      },
      close: () => undefined,
    });
    journal.emit(runStarted('r5'));
    journal.emit(started('a'));
    expect(journal.problem).toBeUndefined();
    journal.emit(finished('a', 'ok'));
    journal.emit(started('b'));
    expect(journal.problem).toBe('/journals/r5.jsonl: no space left on the disk');
    expect(written).toHaveLength(2);
  });

  it('refuses a journal that is a FIFO, or one copied under another run id', () => {
    const dir = mkdtempSync(join(tmpdir(), 'exch-cert-journal-'));
    execFileSync('mkfifo', [join(dir, '20260101T000000Z-aaaaaa.jsonl')]);
    expect(() => readJournal(dir, '20260101T000000Z-aaaaaa')).toThrow('is a FIFO');
    const journal = Journal.create(dir, '20260101T000000Z-bbbbbb');
    journal.emit(runStarted('20260101T000000Z-bbbbbb'));
    journal.emit(started('a'));
    journal.close();
    copyFileSync(join(dir, '20260101T000000Z-bbbbbb.jsonl'), join(dir, '20260101T000000Z-cccccc.jsonl'));
    expect(() => readJournal(dir, '20260101T000000Z-cccccc')).toThrow('belongs to run "20260101T000000Z-bbbbbb", not 20260101T000000Z-cccccc');
  });

  it('reads back where the run ran and the pids of exch-cert and its shells', () => {
    const dir = mkdtempSync(join(tmpdir(), 'exch-cert-journal-'));
    const journal = Journal.create(dir, 'r6');
    journal.emit(runStarted('r6'));
    journal.emit({ type: 'session-started', executable: 'pwsh', edition: 'Core', version: '7.6.9', pid: 5151, restart: false });
    journal.emit(started('a'));
    journal.close();
    expect(readJournal(dir, 'r6')).toMatchObject({ host: 'ADMINPC', pids: [4242, 5151] });
  });

  it('keeps the command line on the run-started line (and only there), and reads back what --resume and `runs` need', () => {
    const dir = mkdtempSync(join(tmpdir(), 'exch-cert-journal-'));
    const request = { command: 'renew', runbookFile: '/opt/exch-cert/runbooks/renew-certificate.yaml', vars: { server: 'EXCH01', fqdn: 'mail.contoso.com' }, cwd: '/home/admin' };
    const journal = Journal.create(dir, 'r7', undefined, request);
    journal.emit({ type: 'run-started', runId: 'r7', runbook: 'x', file: 'x.yaml', server: 'EXCH01', fingerprint: 'abc', toolVersion: '1', params: {}, steps: ['a', 'b'], host: 'ADMINPC', pid: 4242, resumedFrom: 'r6' });
    journal.emit(started('a'));
    journal.emit(finished('a', 'changed'));
    journal.emit({ type: 'rollback-started', failedStepId: 'b', steps: ['undo'] });
    journal.emit({ type: 'step-finished', stepId: 'undo', phase: 'onFailure', position: 1, total: 1, title: 'undo', status: 'ok', attempts: 1, durationMs: 5, outputs: {} });
    journal.emit({ type: 'run-finished', outcome: 'failed', exitCode: 1, durationMs: 9, message: 'step b failed', counts: { ok: 0, changed: 1, skipped: 0, failed: 1, timed_out: 0 }, serverLeftChanged: false });
    journal.close();
    const lines = readFileSync(join(dir, 'r7.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ type: 'run-started', request });
    expect(lines.slice(1).some((line) => 'request' in line)).toBe(false);
    const state = readJournal(dir, 'r7');
    expect(state).toMatchObject({
      request,
      runbook: 'x',
      server: 'EXCH01',
      stepIds: ['a', 'b'],
      resumedFrom: 'r6',
      rolledBack: true,
      steps: [{ id: 'a', status: 'changed', position: 1, title: 'a' }],
      onFailure: [{ id: 'undo', status: 'ok' }],
      finished: { outcome: 'failed', exitCode: 1, message: 'step b failed' },
    });
    expect(state.startedAt).toMatch(/^\d{4}-\d{2}-\d{2}T/);
  });
});
