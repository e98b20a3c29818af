import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readJournal } from '../engine/journal.js';
import { InputError, UserError } from '../errors.js';
import { judgeResume } from './resume.js';

/** One run, as `exch-cert runs` lists it. */
export interface RunListing {
  readonly runId: string;
  readonly runbook: string | null;
  readonly server: string | null;
  readonly startedAt: string | null;
  /** ok, failed, declined, interrupted, environment; running (its process lives), unfinished (it was cut off), or damaged. */
  readonly outcome: string;
  readonly exitCode: number | null;
  readonly resumable: boolean;
  /** What happened, or why it cannot be resumed. */
  readonly reason: string;
  /** The run this one resumed, and the later run that resumed this one. */
  readonly resumedFrom: string | null;
  readonly resumedBy: string | null;
  readonly file: string;
}

const JOURNAL_NAME = /^([A-Za-z0-9-]+)\.jsonl$/;

/** Every journal in `dir`, oldest first; a folder that does not exist has none. */
export function listRuns(dir: string): RunListing[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new InputError(`--journal-dir ${JSON.stringify(dir)}: cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  const runs: Array<Omit<RunListing, 'resumedBy'>> = [];
  for (const name of names.sort()) {
    const runId = JOURNAL_NAME.exec(name)?.[1];
    if (runId === undefined) continue;
    const file = join(dir, name);
    try {
      const state = readJournal(dir, runId);
      const judged = judgeResume(state);
      runs.push({
        runId,
        runbook: state.runbook ?? null,
        server: state.server ?? null,
        startedAt: state.startedAt ?? null,
        outcome: judged.outcome,
        exitCode: state.finished?.exitCode ?? null,
        resumable: judged.resumable,
        reason: judged.reason,
        resumedFrom: state.resumedFrom ?? null,
        file,
      });
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      runs.push({ runId, runbook: null, server: null, startedAt: null, outcome: 'damaged', exitCode: null, resumable: false, reason: error.message, resumedFrom: null, file });
    }
  }
  // A run that a later run resumed goes on there: that later run is the one to resume.
  return runs.map((run) => {
    const later = runs.find((other) => other.resumedFrom === run.runId);
    if (later === undefined) return { ...run, resumedBy: null };
    return { ...run, resumedBy: later.runId, resumable: false, reason: `resumed by run ${later.runId} (${later.outcome}); ${later.resumable ? `resume that one: --resume ${later.runId}` : 'that run is the one to look at'}` };
  });
}
