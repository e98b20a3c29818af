import { lstatSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { ExitCode, InputError } from '../../errors.js';
import { escapeUntrusted, safeJson } from '../../text/untrusted.js';
import { DEFAULT_JOURNAL_DIR } from '../journal-dir.js';
import { displayPath } from '../load-plan.js';
import { listRuns, type RunListing } from '../run-history.js';
import type { CliIo, Terminal } from '../terminal.js';

/** `exch-cert runs`: the journals of a folder, newest last, as a table (or JSON) on stdout. */
export function runsCommand(options: { journalDir?: string; json?: boolean }, io: CliIo, terminal: Terminal): number {
  const dir = resolve(io.cwd, options.journalDir ?? DEFAULT_JOURNAL_DIR);
  const runs = listRuns(dir);
  if (options.json) {
    io.stdout.write(safeJson(runs) + '\n');
    return ExitCode.ok;
  }
  if (runs.length === 0) {
    io.stderr.write(`exch-cert: no runs in ${displayPath(dir, io.cwd)}\n`);
    return ExitCode.ok;
  }
  const rows = [
    ['RUN', 'RUNBOOK', 'SERVER', 'STARTED (UTC)', 'OUTCOME', 'RESUMABLE'],
    ...runs.map((run) => [run.runId, run.runbook ?? '?', run.server ?? '?', run.startedAt ? run.startedAt.replace('T', ' ').replace(/\.\d+Z$|Z$/, '') : '?', run.outcome, run.resumable ? 'yes' : 'no'].map(escapeUntrusted)),
  ];
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  for (const row of rows) io.stdout.write(row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd() + '\n');
  const resumable = runs.filter((run) => run.resumable).length;
  io.stderr.write(terminal.color.dim(`exch-cert: ${runs.length} run(s) in ${displayPath(dir, io.cwd)}, ${resumable} resumable (exch-cert runs --json says why each is or is not)\n`));
  return ExitCode.ok;
}

/** `exch-cert runs prune --older-than AGE`: removes the journals of runs that started before now - AGE; a run still going is kept. */
export function pruneRunsCommand(options: { olderThan: string; journalDir?: string; dryRun?: boolean }, io: CliIo, terminal: Terminal, now: Date): number {
  const age = parseAge(options.olderThan);
  const dir = resolve(io.cwd, options.journalDir ?? DEFAULT_JOURNAL_DIR);
  const cutoff = now.getTime() - age;
  const old = listRuns(dir).filter((run) => run.outcome !== 'running' && startOf(run) < cutoff);
  for (const run of old) {
    // Only the regular file itself: a symbolic link put there is not followed.
    if (!options.dryRun && lstatSync(run.file).isFile()) rmSync(run.file);
    io.stdout.write(`${run.runId}\n`);
  }
  io.stderr.write(terminal.color.dim(`exch-cert: ${options.dryRun ? 'would remove' : 'removed'} ${old.length} journal(s) of runs started more than ${options.olderThan} ago from ${displayPath(dir, io.cwd)}\n`));
  return ExitCode.ok;
}

/** When a run started: its run-started line, else the time in its id, else the file's. */
function startOf(run: RunListing): number {
  if (run.startedAt !== null) return Date.parse(run.startedAt);
  const stamp = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-/.exec(run.runId);
  if (stamp) return Date.parse(`${stamp[1]}-${stamp[2]}-${stamp[3]}T${stamp[4]}:${stamp[5]}:${stamp[6]}Z`);
  return lstatSync(run.file).mtimeMs;
}

const UNITS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** 30d, 12h, 90m, 2w. */
export function parseAge(text: string): number {
  const match = /^(\d+)([mhdw])$/.exec(text.trim());
  const unit = match?.[2] !== undefined ? UNITS[match[2]] : undefined;
  if (!match || unit === undefined || Number(match[1]) <= 0) throw new InputError(`--older-than ${JSON.stringify(text)} is not an age`, 'write a number and a unit: 30d (days), 12h (hours), 90m (minutes) or 2w (weeks)');
  return Number(match[1]) * unit;
}
