import { compareDiagnostics, type Diagnostic } from '../diagnostics.js';
import { parseRunbookDocument } from '../runbook/document.js';
import type { Runbook } from '../runbook/model.js';
import type { RunbookSource } from '../runbook/source.js';
import { validateRunbook } from '../runbook/validate.js';
import { controlCharacterDiagnostics } from './control-characters.js';
import { runRule, type LintRule } from './rule.js';
import { applySuppressions } from './suppressions.js';
import { createBuiltinChecker, type ScriptChecker } from './scripts.js';
import { healthCheckMissing } from './rules/health-check-missing.js';
import { iisResetMissing } from './rules/iis-reset-missing.js';
import { popImapNameMissing } from './rules/pop-imap-name-missing.js';
import { popImapRestartMissing } from './rules/pop-imap-restart-missing.js';
import { powershellStep } from './rules/powershell-step.js';
import { exchCertInternals, powershellSevenOnly, powershellSyntax } from './rules/powershell-syntax.js';
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
  exchCertInternals,
];

/** Every rule id lint reports, with what it checks (for SARIF and the README); the schema's rules first. */
export const RULE_DESCRIPTIONS: ReadonlyMap<string, string> = new Map([
  ['file', 'The file cannot be read as a runbook: missing, not UTF-8, empty or too large.'],
  ['control-character', 'A control character (other than tab, CR, LF) or a bidirectional control anywhere in the runbook.'],
  ['yaml-syntax', 'The file is not valid YAML (indentation, duplicate keys, tabs).'],
  ['unknown-key', 'A key the runbook format or the action does not have.'],
  ['wrong-type', 'A value of the wrong type.'],
  ['missing-field', 'A required field is missing.'],
  ['unknown-action', 'An action exch-cert does not have.'],
  ['bad-duration', 'A timeout or delay that is not a duration.'],
  ['invalid-value', 'A value outside what is allowed (patterns, enums, names).'],
  ['unsupported-version', 'A runbook version this exch-cert does not read.'],
  ['duplicate-step-id', 'Two steps with the same id.'],
  ['unknown-reference', 'A template that names an unknown param, step or output.'],
  ['forward-reference', 'A template that reads a step that runs later.'],
  ['invalid-template', 'A template expression other than params.NAME or steps.ID.outputs.NAME.'],
  ['secret-misuse', 'A secret passed where secrets may not go.'],
  ['too-many-problems', 'More problems in one file than are shown.'],
  ['invalid-suppression', 'A suppression comment without a reason, or naming a rule that cannot be suppressed.'],
  ['unused-suppression', 'A suppression comment that suppresses nothing.'],
  ...RULES.map((rule): [string, string] => [rule.id, rule.description]),
  ['plaintext-secret', 'A secret written in the runbook, a password-like param that is not a secret, or a SecureString from plain text.'],
]);

export interface AnalyzeOptions {
  /** Who parses the scripts of powershell steps; the built-in checker by default. */
  readonly scripts?: ScriptChecker;
}

/** A file with thousands of problems is one mistake repeated; more than this many are summed up in one line. */
export const MAX_DIAGNOSTICS_PER_FILE = 200;

/**
 * The rules a suppression comment may silence: those beyond the schema. A
 * runbook with a schema or YAML error cannot run at all, and touching
 * exch-cert's internals is never a matter of judgement.
 */
const SUPPRESSIBLE: ReadonlySet<string> = new Set(RULES.map((rule) => rule.id).filter((id) => id !== 'exch-cert-internals'));

export interface Analysis {
  /** Undefined when the file is not even YAML. */
  readonly runbook: Runbook | undefined;
  /** At most MAX_DIAGNOSTICS_PER_FILE, then one `too-many-problems` line for the rest. */
  readonly diagnostics: readonly Diagnostic[];
  /** What all the problems were, including those summed up. */
  readonly counts: ProblemCounts;
}

export interface ProblemCounts {
  readonly errors: number;
  readonly warnings: number;
}

/**
 * Everything lint knows about one runbook: control characters, YAML syntax,
 * schema, references and the rules. `run` and `plan` use the same analysis and
 * refuse on any error.
 */
export async function analyzeRunbook(source: RunbookSource, options: AnalyzeOptions = {}): Promise<Analysis> {
  const scripts = options.scripts ?? createBuiltinChecker();
  const found = controlCharacterDiagnostics(source);
  const parsed = parseRunbookDocument(source);
  if (!parsed.ok) return finish(undefined, [...found, ...parsed.diagnostics]);
  const { runbook, diagnostics } = validateRunbook(parsed.document);
  found.push(...diagnostics);
  const ruleFindings: Diagnostic[] = [];
  for (const rule of RULES) ruleFindings.push(...(await runRule(rule, runbook, parsed.document, scripts)));
  found.push(...applySuppressions(source.file, source.text, ruleFindings, SUPPRESSIBLE, new Set(RULE_DESCRIPTIONS.keys())));
  return finish(runbook, found);
}

function finish(runbook: Runbook | undefined, diagnostics: Diagnostic[]): Analysis {
  diagnostics.sort(compareDiagnostics);
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const counts = { errors, warnings: diagnostics.length - errors };
  if (diagnostics.length <= MAX_DIAGNOSTICS_PER_FILE) return { runbook, diagnostics, counts };
  const hidden = diagnostics.slice(MAX_DIAGNOSTICS_PER_FILE);
  const first = hidden[0] as Diagnostic;
  const hiddenErrors = hidden.filter((d) => d.severity === 'error').length;
  const summary: Diagnostic = {
    file: first.file,
    line: first.line,
    column: first.column,
    severity: hiddenErrors > 0 ? 'error' : 'warning',
    message: `and ${hidden.length} more problems in this file (${hiddenErrors} errors, ${hidden.length - hiddenErrors} warnings), not shown`,
    hint: 'fix the ones above first; they are often one mistake repeated',
    ruleId: 'too-many-problems',
  };
  return { runbook, diagnostics: [...diagnostics.slice(0, MAX_DIAGNOSTICS_PER_FILE), summary], counts };
}
