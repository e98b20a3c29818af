import { isScalar, type Scalar } from 'yaml';
import type { PathSegment, RunbookDocument, Span } from '../../runbook/document.js';
import { locate } from '../../runbook/document.js';
import type { LintRule, RuleContext } from '../rule.js';

/**
 * Scripts in powershell steps must parse under Windows PowerShell 5.1, which
 * Exchange needs: no syntax errors and no PowerShell 7-only syntax.
 * The parser is loaded only when a runbook has such a step.
 */
function scriptSyntaxRule(kind: 'syntax' | 'powershell-7-only'): LintRule {
  return {
    id: kind === 'syntax' ? 'powershell-syntax' : 'powershell-7-only',
    severity: 'error',
    description:
      kind === 'syntax'
        ? 'A powershell step whose script does not parse.'
        : 'A powershell step that uses PowerShell 7-only syntax (&&, ||, ??, ?., ternary, ...), which Windows PowerShell 5.1 rejects.',
    async check(context: RuleContext) {
      const steps = [...context.runbook.steps, ...context.runbook.onFailure].filter((step) => step.action.name === 'powershell');
      if (steps.length === 0) return;
      const { checkScriptSyntax } = await import('../../powershell/syntax.js');
      for (const step of steps) {
        const script = step.rawWith['script'];
        if (typeof script !== 'string') continue;
        const path = [...step.path, 'with', 'script'];
        for (const problem of await checkScriptSyntax(script)) {
          if (problem.kind !== kind) continue;
          context.reportAt(
            positionInScalar(context.document, path, problem.line, problem.column),
            `script of step '${step.id}': ${problem.message}`,
            kind === 'syntax' ? undefined : 'Exchange runs Windows PowerShell 5.1; rewrite it with if/else or separate statements',
          );
        }
      }
    },
  };
}

export const powershellSyntax = scriptSyntaxRule('syntax');
export const powershellSevenOnly = scriptSyntaxRule('powershell-7-only');

/** Maps a line and column inside a script to the file, for block scalars (`script: |`); other scalars point at the value. */
function positionInScalar(document: RunbookDocument, path: readonly PathSegment[], line: number, column: number): Span {
  const span = locate(document, path);
  const node = document.yaml.getIn(path as PathSegment[], true) as Scalar | undefined;
  if (!isScalar(node) || (node.type !== 'BLOCK_LITERAL' && node.type !== 'BLOCK_FOLDED') || !node.range) return span;
  const fileLine = span.line + line;
  const text = document.text.split('\n')[fileLine - 1] ?? '';
  const indent = text.length - text.trimStart().length;
  return { line: fileLine, column: indent + column, endLine: fileLine, endColumn: indent + column };
}
