import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeRunbook } from '../../src/lint/index.js';
import { compilePlan, type Plan } from '../../src/plan/compile.js';
import { bindParams } from '../../src/plan/params.js';
import type { Connection } from '../../src/plan/connection.js';

export const repoRoot = join(import.meta.dirname, '..', '..');

/** Compiles runbook text with --var style values, as `exch-cert plan` does (minus the files). */
export async function planFromText(text: string, vars: Record<string, string>, connection: Connection = { kind: 'remote', server: 'EXCH01' }): Promise<Plan> {
  const { runbook, diagnostics } = await analyzeRunbook({ file: 'test.yaml', text });
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (!runbook || errors.length > 0) throw new Error(errors.map((d) => `${d.line}:${d.column} ${d.message}`).join('\n'));
  return compilePlan(runbook, bindParams(runbook, new Map(Object.entries(vars))), { connection, toolVersion: '0.0.0-test' });
}

/** A shipped runbook's text. */
export function shippedRunbookText(name: string): string {
  return readFileSync(join(repoRoot, 'runbooks', `${name}.yaml`), 'utf8');
}
