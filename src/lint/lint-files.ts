import { compareDiagnostics, type Diagnostic } from '../diagnostics.js';
import { readRunbookSourceSync } from '../runbook/source.js';
import { analyzeRunbook, type ProblemCounts } from './index.js';
import type { ScriptChecker } from './scripts.js';

/** What linting a set of files found: the problems, and the text of each file that has any (for source excerpts). */
export interface LintResult {
  readonly diagnostics: Diagnostic[];
  /** Errors and warnings in all, including those a file's cap summed up. */
  readonly counts: ProblemCounts;
  readonly sources: Array<[file: string, text: string]>;
}

/** A file to lint: where to read it, and how to name it in messages. */
export interface LintTarget {
  readonly path: string;
  readonly display: string;
}

/**
 * Lints files one after the other (worker threads were measured and gained
 * nothing on the 2-core machines this runs on). A file whose scripts wait
 * for the script checker (a pwsh parser starting) is left to finish while
 * the next files are parsed; the others finish before the next one starts,
 * so their documents do not pile up in memory.
 */
export async function lintFiles(targets: readonly LintTarget[], scripts: ScriptChecker): Promise<LintResult> {
  const analyses: Array<Promise<FileAnalysis>> = [];
  for (const target of targets) {
    const analysis = analyzeFile(target, scripts);
    analyses.push(analysis);
    await Promise.race([analysis, new Promise((resolve) => setImmediate(resolve))]);
  }
  const diagnostics: Diagnostic[] = [];
  const sources: Array<[string, string]> = [];
  let errors = 0;
  let warnings = 0;
  for (const [index, analysis] of (await Promise.all(analyses)).entries()) {
    errors += analysis.counts.errors;
    warnings += analysis.counts.warnings;
    if (analysis.diagnostics.length === 0) continue;
    diagnostics.push(...analysis.diagnostics);
    if (analysis.text !== undefined) sources.push([targets[index]?.display ?? '', analysis.text]);
  }
  return { diagnostics: diagnostics.sort(compareDiagnostics), counts: { errors, warnings }, sources };
}

interface FileAnalysis {
  readonly diagnostics: readonly Diagnostic[];
  readonly counts: ProblemCounts;
  /** The file's text, when it has problems to show with source excerpts. */
  readonly text?: string;
}

async function analyzeFile(target: LintTarget, scripts: ScriptChecker): Promise<FileAnalysis> {
  const read = readRunbookSourceSync(target.path);
  if (!read.ok) return { diagnostics: [{ ...read.diagnostic, file: target.display }], counts: { errors: 1, warnings: 0 } };
  const { diagnostics, counts } = await analyzeRunbook({ file: target.display, text: read.source.text }, { scripts });
  return { diagnostics, counts, ...(diagnostics.length > 0 ? { text: read.source.text } : {}) };
}
