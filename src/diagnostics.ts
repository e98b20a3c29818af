/** A problem found in a runbook, pointing at the place to fix. */
export interface Diagnostic {
  /** The file as the user named it. */
  readonly file: string;
  /** 1-based line and column of the offending node. */
  readonly line: number;
  readonly column: number;
  readonly endLine?: number;
  readonly endColumn?: number;
  readonly severity: Severity;
  /** What is wrong. */
  readonly message: string;
  /** How to fix it, when there is something specific to say. */
  readonly hint?: string;
  /** Stable id of the check, shown as `[rule-id]` and used by `--format json`. */
  readonly ruleId: string;
}

export type Severity = 'error' | 'warning';

/** Orders diagnostics by file, then position, then rule, so output is stable. */
export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  return (
    (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
    a.line - b.line ||
    a.column - b.column ||
    (a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : 0) ||
    (a.message < b.message ? -1 : a.message > b.message ? 1 : 0)
  );
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}
