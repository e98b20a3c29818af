import { isScalar, type Scalar } from 'yaml';
import { INTERNALS_HINT } from '../../powershell/internals.js';
import type { SyntaxProblem, SyntaxProblemKind } from '../../powershell/syntax.js';
import type { PathSegment, RunbookDocument, Span } from '../../runbook/document.js';
import { locate } from '../../runbook/document.js';
import type { Severity } from '../../diagnostics.js';
import type { LintRule, RuleContext } from '../rule.js';

const SEVEN_HINT = 'Exchange runs Windows PowerShell 5.1: write it in 5.1 syntax';

/** What each kind of problem becomes in a report; kinds not listed belong to another rule. */
type Reporting = Partial<Record<SyntaxProblemKind, { readonly severity: Severity; readonly hint?: string; readonly note?: string }>>;

/**
 * Scripts in powershell steps must parse under Windows PowerShell 5.1, which
 * Exchange needs, and leave exch-cert's own state alone. The scripts are
 * judged by the run's ScriptChecker (PowerShell's own parser or the built-in one).
 */
function scriptRule(id: string, description: string, reporting: Reporting): LintRule {
  return {
    id,
    severity: 'error',
    description,
    async check(context: RuleContext) {
      const steps = [...context.runbook.steps, ...context.runbook.onFailure].filter((step) => step.action.name === 'powershell');
      for (const step of steps) {
        const script = step.rawWith['script'];
        if (typeof script !== 'string') continue;
        const path = [...step.path, 'with', 'script'];
        for (const problem of await context.scripts.check(script)) {
          const how = reporting[problem.kind];
          if (!how) continue;
          context.reportAt(positionInScalar(context.document, path, problem), `script of step '${step.id}': ${problem.message}${how.note ?? ''}`, how.hint, how.severity);
        }
      }
    },
  };
}

export const powershellSyntax = scriptRule('powershell-syntax', 'A powershell step whose script does not parse (a warning where only the built-in checker objects).', {
  syntax: { severity: 'error' },
  'syntax-uncertain': {
    severity: 'warning',
    note: ' (the built-in checker; it also objects to some valid scripts)',
    hint: 'PowerShell decides: lint where pwsh is installed (--parser pwsh) for a verdict',
  },
});

export const powershellSevenOnly = scriptRule(
  'powershell-7-only',
  'A powershell step that uses PowerShell 7-only syntax (&&, ||, ??, ?., ternary, ...), which Windows PowerShell 5.1 rejects; PowerShell 7 variables ($IsWindows) are a warning.',
  {
    'powershell-7-only': { severity: 'error', hint: SEVEN_HINT },
    'powershell-7-variable': { severity: 'warning', hint: "fine where the code is guarded for 5.1; otherwise test $PSVersionTable.PSEdition -eq 'Desktop' instead" },
  },
);

export const exchCertInternals = scriptRule('exch-cert-internals', "A powershell step whose script touches exch-cert's own state ($ExchCert, Get-PSCallStack).", {
  internals: { severity: 'error', hint: INTERNALS_HINT },
});

/**
 * Maps a line and column inside a script to the file. In a block scalar
 * (`script: |`) the script's lines are the file's lines less the block's
 * indentation; a one-line plain or quoted scalar without escapes maps by
 * offset; anything else points at the value.
 */
function positionInScalar(document: RunbookDocument, path: readonly PathSegment[], problem: SyntaxProblem): Span {
  const span = locate(document, path);
  const node = document.yaml.getIn(path as PathSegment[], true) as Scalar | undefined;
  if (!isScalar(node) || !node.range || typeof node.value !== 'string') return span;
  const lines = document.text.split('\n');
  if (node.type === 'BLOCK_LITERAL') {
    const fileLine = span.line + problem.line;
    const text = (lines[fileLine - 1] ?? '').replace(/\r$/, '');
    const scriptLine = node.value.split('\n')[problem.line - 1] ?? '';
    // The block's own indentation: the file line's leading spaces less the script line's own.
    const blockIndent = text.length - text.trimStart().length - (scriptLine.length - scriptLine.trimStart().length);
    const column = blockIndent + problem.column;
    return { line: fileLine, column, endLine: fileLine, endColumn: column };
  }
  const source = document.text.slice(node.range[0], node.range[1]);
  const quote = node.type === 'QUOTE_SINGLE' || node.type === 'QUOTE_DOUBLE' ? 1 : 0;
  const oneLine = problem.line === 1 && !source.includes('\n') && source.slice(quote, source.length - quote) === node.value;
  if (!oneLine) return span;
  const column = span.column + quote + problem.column - 1;
  return { line: span.line, column, endLine: span.line, endColumn: column };
}
