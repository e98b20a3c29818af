import { compareDiagnostics, type Diagnostic } from '../diagnostics.js';
import { readRunbookSourceSync } from '../runbook/source.js';
import { analyzeRunbook, type ProblemCounts } from './index.js';

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
 * Lints files one after the other. Runbooks are small and reading them is
 * cheap next to parsing YAML; splitting the work over worker threads was
 * measured and gained nothing on the 2-core machines this runs on.
 */
export async function lintFiles(targets: readonly LintTarget[]): Promise<LintResult> {
  const diagnostics: Diagnostic[] = [];
  const sources: Array<[string, string]> = [];
  let errors = 0;
  let warnings = 0;
  for (const target of targets) {
    const read = readRunbookSourceSync(target.path);
    if (!read.ok) {
      diagnostics.push({ ...read.diagnostic, file: target.display });
      errors++;
      continue;
    }
    const analysis = await analyzeRunbook({ file: target.display, text: read.source.text });
    errors += analysis.counts.errors;
    warnings += analysis.counts.warnings;
    if (analysis.diagnostics.length > 0) {
      diagnostics.push(...analysis.diagnostics);
      sources.push([target.display, read.source.text]);
    }
  }
  return { diagnostics: diagnostics.sort(compareDiagnostics), counts: { errors, warnings }, sources };
}
