import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ResumeState } from '../../src/engine/journal.js';
import type { FleetEvent } from '../../src/fleet/events.js';
import { FleetJournal, isFleetJournal, readFleetJournal } from '../../src/fleet/journal.js';
import { fleetFingerprint, resolveResume } from '../../src/fleet/resume.js';
import type { FleetServer } from '../../src/fleet/run-fleet.js';
import { planFromText, shippedRunbookText } from '../helpers/plan.js';

const started: FleetEvent = { type: 'fleet-started', runId: 'F1', servers: ['EXCH01', 'EXCH02', 'EXCH03'], maxParallel: 1, drain: false, fingerprint: 'fp', toolVersion: '0', host: 'ADMINPC', pid: 42 };

function write(events: FleetEvent[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'exch-cert-fleet-journal-'));
  const journal = FleetJournal.create(dir, 'F1');
  for (const event of events) journal.emit(event);
  journal.close();
  return dir;
}

describe('the fleet journal', () => {
  it('keeps the fleet events and preflights (0600), but not the renewals, which have journals of their own', () => {
    const step: FleetEvent = { type: 'server-event', server: 'EXCH01', runId: 'F1-exch01', phase: 'renewal', event: { type: 'confirmation', stepId: 'remove-old', answer: 'yes' } };
    const dir = write([started, { ...step, phase: 'preflight', runId: 'F1-exch01-preflight' }, step]);
    const lines = readFileSync(join(dir, 'F1.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => `${String(line['type'])}:${typeof line['phase'] === 'string' ? line['phase'] : ''}`)).toEqual(['fleet-started:', 'server-event:preflight']);
    expect(lines[0]).toMatchObject({ v: 1, fleetRunId: 'F1' });
    expect(statSync(join(dir, 'F1.jsonl')).mode & 0o777).toBe(0o600);
    expect(isFleetJournal(dir, 'F1')).toBe(true);
  });

  it('reads back each server\u2019s last run and how it ended, carrying over those of the runs before', () => {
    const dir = write([
      { ...started, resumedFrom: 'F0', previous: [{ server: 'EXCH01', runId: 'F0-exch01', outcome: 'renewed' }, { server: 'EXCH03', runId: 'F0-exch03', outcome: 'failed' }] },
      { type: 'server-started', server: 'EXCH02', runId: 'F1-exch02', wave: 'rest' },
      { type: 'server-finished', server: 'EXCH01', runId: 'F0-exch01', outcome: 'done-before', exitCode: 0, message: '', inMaintenance: false },
    ]);
    const state = readFleetJournal(dir, 'F1');
    expect(state).toMatchObject({ runId: 'F1', fingerprint: 'fp', servers: ['EXCH01', 'EXCH02', 'EXCH03'], host: 'ADMINPC', pid: 42 });
    expect([...state.runs]).toEqual([
      ['exch01', { runId: 'F0-exch01', outcome: 'done-before' }],
      ['exch03', { runId: 'F0-exch03', outcome: 'failed' }],
      ['exch02', { runId: 'F1-exch02' }],
    ]);
  });

  it('refuses a missing journal, one of a single-server run, and one copied under another id', () => {
    const dir = write([started]);
    expect(() => readFleetJournal(dir, 'F9')).toThrow('no journal for run F9');
    writeFileSync(join(dir, 'R1.jsonl'), JSON.stringify({ v: 1, runId: 'R1', fleetRunId: 'R1', type: 'run-started' }) + '\n');
    expect(isFleetJournal(dir, 'R1')).toBe(false);
    expect(() => readFleetJournal(dir, 'R1')).toThrow('is not the journal of a fleet run');
    writeFileSync(join(dir, 'F2.jsonl'), readFileSync(join(dir, 'F1.jsonl')));
    expect(() => readFleetJournal(dir, 'F2')).toThrow('belongs to run "F1", not F2');
  });
});

describe('resolveResume', () => {
  async function servers(): Promise<FleetServer[]> {
    return Promise.all(['EXCH01', 'EXCH02', 'EXCH03', 'EXCH04'].map(async (name) => ({ name, fqdn: name, shellEnv: {}, plan: await planFromText(shippedRunbookText('validate-exchange'), { server: name }) })));
  }
  const state = (runId: string, fingerprint: string, rolledBack = false): ResumeState => ({ runId, fingerprint, completed: new Map(), rolledBack, host: 'ADMINPC', pids: [] });

  it('skips the servers renewed, resumes one that stopped part-way, starts afresh one that rolled back or never started', async () => {
    const fleet = await servers();
    const { planFingerprint } = await import('../../src/engine/journal.js');
    const fingerprint = fleetFingerprint(fleet, false);
    const journals: Record<string, ResumeState> = { 'F1-exch02': state('F1-exch02', planFingerprint(fleet[1]!.plan)), 'F1-exch03': state('F1-exch03', planFingerprint(fleet[2]!.plan), true) };
    const earlier = { runId: 'F1', fingerprint, servers: fleet.map((s) => s.name), host: 'ADMINPC', pid: 1, runs: new Map([['exch01', { runId: 'F1-exch01', outcome: 'renewed' as const }], ['exch02', { runId: 'F1-exch02', outcome: 'interrupted' as const }], ['exch03', { runId: 'F1-exch03', outcome: 'failed' as const }]]) };
    const decisions = resolveResume(earlier, fleet, fingerprint, (runId) => journals[runId], false);
    expect([...decisions].map(([name, decision]) => `${name}:${decision.kind}`)).toEqual(['exch01:done', 'exch02:resume', 'exch03:fresh', 'exch04:fresh']);
  });

  it('refuses when the servers or a plan changed, unless forced', async () => {
    const fleet = await servers();
    const earlier = { runId: 'F1', fingerprint: 'other', servers: ['EXCH01'], host: 'ADMINPC', pid: 1, runs: new Map([['exch02', { runId: 'F1-exch02' }]]) };
    expect(() => resolveResume(earlier, fleet, fleetFingerprint(fleet, false), () => undefined, false)).toThrow('the servers, the runbook, its params or the connection changed since run F1 (EXCH01)');
    const same = { ...earlier, fingerprint: fleetFingerprint(fleet, false) };
    expect(() => resolveResume(same, fleet, same.fingerprint, () => state('F1-exch02', 'old plan'), false)).toThrow('the plan of EXCH02 changed since its run F1-exch02');
    expect(resolveResume(same, fleet, same.fingerprint, () => state('F1-exch02', 'old plan'), true).get('exch02')?.kind).toBe('resume');
    expect(fleetFingerprint(fleet, true)).not.toBe(fleetFingerprint(fleet, false));
  });
});
