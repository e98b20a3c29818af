import { compareDiagnostics, type Diagnostic } from '../diagnostics.js';
import { parseRunbookDocument } from '../runbook/document.js';
import type { Runbook } from '../runbook/model.js';
import type { RunbookSource } from '../runbook/source.js';
import { validateRunbook } from '../runbook/validate.js';
import { runRule, type LintRule } from './rule.js';
import { healthCheckMissing } from './rules/health-check-missing.js';
import { iisResetMissing } from './rules/iis-reset-missing.js';
import { popImapNameMissing } from './rules/pop-imap-name-missing.js';
import { popImapRestartMissing } from './rules/pop-imap-restart-missing.js';
import { powershellStep } from './rules/powershell-step.js';
import { powershellSevenOnly, powershellSyntax } from './rules/powershell-syntax.js';
import { removeWithoutBackup } from './rules/remove-without-backup.js';
import { secretLikeParam } from './rules/secret-like-param.js';

/** The rules that run after schema validation, in report order. */
export const RULES: readonly LintRule[] = [
  removeWithoutBackup,
  popImapNameMissing,
  popImapRestartMissing,
  iisResetMissing,
  healthCheckMissing,
  secretLikeParam,
  powershellStep,
  powershellSyntax,
  powershellSevenOnly,
];

export interface Analysis {
  /** Undefined when the file is not even YAML. */
  readonly runbook: Runbook | undefined;
  readonly diagnostics: readonly Diagnostic[];
}

/**
 * Everything lint knows about one runbook: YAML syntax, schema, references and
 * the rules. `run` and `plan` use the same analysis and refuse on any error.
 */
export async function analyzeRunbook(source: RunbookSource): Promise<Analysis> {
  const parsed = parseRunbookDocument(source);
  if (!parsed.ok) return { runbook: undefined, diagnostics: parsed.diagnostics.sort(compareDiagnostics) };
  const { runbook, diagnostics } = validateRunbook(parsed.document);
  const found = [...diagnostics];
  for (const rule of RULES) found.push(...(await runRule(rule, runbook, parsed.document)));
  return { runbook, diagnostics: found.sort(compareDiagnostics) };
}
