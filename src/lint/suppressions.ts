import type { Diagnostic } from '../diagnostics.js';
import { didYouMean } from '../runbook/suggest.js';

const DIRECTIVE = 'exch-cert-lint-disable-next-line';
const LINE = /^(\s*)#\s*exch-cert-lint-disable-next-line(?:\s+(.*?))?\s*$/;

interface Suppression {
  readonly line: number;
  readonly column: number;
  readonly rules: readonly string[];
  used: Set<string>;
}

/**
 * Applies `# exch-cert-lint-disable-next-line RULE[, RULE] -- reason` lines,
 * as ESLint and ansible-lint users write them: the findings of those rules on
 * the next line are dropped. The comment may be a YAML comment or a line of a
 * powershell step's script. A suppression needs a reason, may name only the
 * rules in `suppressible` (never a problem that stops the runbook from
 * running at all), and must suppress something; otherwise it is reported.
 */
export function applySuppressions(file: string, text: string, findings: readonly Diagnostic[], suppressible: ReadonlySet<string>, known: ReadonlySet<string>): Diagnostic[] {
  if (!text.includes(DIRECTIVE)) return [...findings];
  const problems: Diagnostic[] = [];
  const byLine = new Map<number, Suppression>();
  const report = (line: number, column: number, ruleId: string, message: string, hint: string): void => {
    problems.push({ file, line, column, severity: ruleId === 'unused-suppression' ? 'warning' : 'error', message, hint, ruleId });
  };
  text.split('\n').forEach((raw, index) => {
    const match = LINE.exec(raw.replace(/\r$/, ''));
    if (!match) return;
    const line = index + 1;
    const column = (match[1]?.length ?? 0) + 1;
    const body = match[2] ?? '';
    const separator = body.indexOf('--');
    const reason = separator === -1 ? '' : body.slice(separator + 2).trim();
    const rules = (separator === -1 ? body : body.slice(0, separator)).split(/[\s,]+/).filter((rule) => rule !== '');
    if (rules.length === 0 || reason === '') {
      report(line, column, 'invalid-suppression', rules.length === 0 ? 'a suppression must name the rules it suppresses' : 'a suppression needs a reason', `write '# ${DIRECTIVE} ${rules[0] ?? 'RULE-ID'} -- why it is safe here'`);
      return;
    }
    const valid = rules.filter((rule) => {
      if (suppressible.has(rule)) return true;
      if (known.has(rule)) report(line, column, 'invalid-suppression', `'${rule}' cannot be suppressed`, 'only the rules beyond the schema can be, and never exch-cert-internals: fix the runbook');
      else report(line, column, 'invalid-suppression', `there is no rule '${rule}'`, didYouMean(rule, suppressible) || `rules that can be suppressed: ${[...suppressible].join(', ')}`);
      return false;
    });
    if (valid.length > 0) byLine.set(line + 1, { line, column, rules: valid, used: new Set() });
  });
  const kept = findings.filter((d) => {
    const suppression = byLine.get(d.line);
    if (!suppression?.rules.includes(d.ruleId)) return true;
    suppression.used.add(d.ruleId);
    return false;
  });
  for (const suppression of byLine.values()) {
    for (const rule of suppression.rules) {
      if (!suppression.used.has(rule)) report(suppression.line, suppression.column, 'unused-suppression', `this suppression of '${rule}' suppresses nothing on line ${suppression.line + 1}`, 'remove it, or move it to the line before the finding');
    }
  }
  return [...kept, ...problems];
}
