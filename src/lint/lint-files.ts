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
 * Lints files. Reading and YAML parsing run one file after the other (worker
 * threads were measured and gained nothing on the 2-core machines this runs
 * on); the analyses wait for the script checker side by side, so a pwsh
 * parser starts while the other files are parsed.
 */
export async function lintFiles(targets: readonly LintTarget[], scripts: ScriptChecker): Promise<LintResult> {
  const analyses = targets.map(async (target): Promise<{ diagnostics: readonly Diagnostic[]; counts: ProblemCounts; text?: string }> => {
    const read = readRunbookSourceSync(target.path);
    if (!read.ok) return { diagnostics: [{ ...read.diagnostic, file: target.display }], counts: { errors: 1, warnings: 0 } };
    const analysis = await analyzeRunbook({ file: target.display, text: read.source.text }, { scripts });
    return { ...analysis, text: read.source.text };
  });
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
