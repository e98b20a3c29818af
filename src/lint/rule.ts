import type { Diagnostic, Severity } from '../diagnostics.js';
import { locate, type PathSegment, type RunbookDocument, type Span } from '../runbook/document.js';
import type { Runbook } from '../runbook/model.js';
import type { ScriptChecker } from './scripts.js';

/** What a rule sees: the (possibly partial) validated runbook and the document for positions. */
export interface RuleContext {
  readonly runbook: Runbook;
  readonly document: RunbookDocument;
  /** Reports a problem at a path in the document, with the rule's id and severity. */
  readonly report: (path: readonly PathSegment[], message: string, hint?: string) => void;
  /** Reports a problem at an exact position (e.g. a line inside a script); a rule may report some findings with a lower severity. */
  readonly reportAt: (span: Span, message: string, hint?: string, severity?: Severity) => void;
  /** Parses the scripts of powershell steps. */
  readonly scripts: ScriptChecker;
}

/** One lint check beyond the schema: a best practice or a safety rule. */
export interface LintRule {
  readonly id: string;
  readonly severity: Severity;
  /** One line, shown by `exch-cert lint --help`-style listings and the README. */
  readonly description: string;
  check(context: RuleContext): void | Promise<void>;
}

/** Runs one rule and collects what it reports. */
export async function runRule(rule: LintRule, runbook: Runbook, document: RunbookDocument, scripts: ScriptChecker): Promise<Diagnostic[]> {
  const found: Diagnostic[] = [];
  const reportAt = (span: Span, message: string, hint?: string, severity: Severity = rule.severity): void => {
    found.push({ file: document.file, ...span, severity, message, ruleId: rule.id, ...(hint ? { hint } : {}) });
  };
  await rule.check({ runbook, document, scripts, reportAt, report: (path, message, hint) => reportAt(locate(document, path), message, hint) });
  return found;
}
