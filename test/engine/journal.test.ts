import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunEvent, StepStatus } from '../../src/engine/events.js';
import { Journal, newRunId, planFingerprint, readJournal } from '../../src/engine/journal.js';
import { InputError } from '../../src/errors.js';
import { planFromText, shippedRunbookText } from '../helpers/plan.js';

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
    journal.emit({ type: 'run-started', runId: 'r1', runbook: 'x', file: 'x.yaml', server: 'EXCH01', fingerprint: 'abc', toolVersion: '1', params: {}, steps: ['a', 'b', 'c'] });
    journal.emit(finished('a', 'ok', { thumbprint: 'T' }));
    journal.emit(finished('b', 'failed'));
    journal.emit(finished('c', 'changed'));
    journal.close();
    const lines = readFileSync(join(dir, 'r1.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(4);
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
    journal.emit({ type: 'run-started', runId: 'r2', runbook: 'x', file: 'x.yaml', server: 'EXCH01', fingerprint: 'f', toolVersion: '1', params: {}, steps: [] });
    journal.emit(finished('a', 'ok'));
    journal.close();
    appendFileSync(join(dir, 'r2.jsonl'), '{"v":1,"type":"step-fin');
    expect(readJournal(dir, 'r2').completed.has('a')).toBe(true);
    appendFileSync(join(dir, 'r2.jsonl'), '\n' + JSON.stringify(finished('b', 'ok')) + '\n');
    expect(() => readJournal(dir, 'r2')).toThrow('is damaged at line 3');
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
});
