import type { Diagnostic } from '../../src/diagnostics.js';
import { analyzeRunbook } from '../../src/lint/index.js';
import type { Runbook } from '../../src/runbook/model.js';

/** Analyzes runbook text as lint and run do, for tests. */
export async function analyze(text: string, file = 'test.yaml'): Promise<{ runbook: Runbook | undefined; diagnostics: readonly Diagnostic[] }> {
  return analyzeRunbook({ file, text });
}

/** `line:col rule-id` of each diagnostic, compact for assertions. */
export function brief(diagnostics: readonly Diagnostic[]): string[] {
  return diagnostics.map((d) => `${d.line}:${d.column} ${d.severity} ${d.ruleId}`);
}

/** A minimal valid runbook around the given steps YAML (indented as list items under steps:). */
export function runbookWith(steps: string, params = 'server: { type: string, required: true }'): string {
  return ['version: 1', 'name: test-runbook', 'params:', `  ${params.split('\n').join('\n  ')}`, 'steps:', steps].join('\n') + '\n';
}
