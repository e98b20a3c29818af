import type { ChalkInstance } from 'chalk';
import type { Diagnostic } from '../diagnostics.js';

export const LINT_FORMATS = ['text', 'json', 'github'] as const;
export type LintFormat = (typeof LINT_FORMATS)[number];

/**
 * `file:line:col: severity: message [rule-id]`, then the source line with a
 * caret under the problem and the hint, like compilers and actionlint.
 */
export function formatText(diagnostics: readonly Diagnostic[], sources: ReadonlyMap<string, string>, color: ChalkInstance): string {
  return diagnostics
    .map((d) => {
      const severity = d.severity === 'error' ? color.red.bold('error') : color.yellow.bold('warning');
      const head = `${color.bold(`${d.file}:${d.line}:${d.column}`)}: ${severity}: ${d.message} ${color.gray(`[${d.ruleId}]`)}`;
      const sourceLine = sources.get(d.file)?.split('\n')[d.line - 1]?.replace(/\r$/, '');
      const out = [head];
      if (sourceLine !== undefined && sourceLine.trim() !== '') {
        const gutter = String(d.line).padStart(4);
        const width = d.endLine === d.line && d.endColumn !== undefined && d.endColumn > d.column ? Math.min(d.endColumn - d.column, sourceLine.length - d.column + 1) : 1;
        // Tabs in the prefix keep the caret aligned.
        const pad = sourceLine.slice(0, d.column - 1).replace(/[^\t]/g, ' ');
        out.push(`${color.gray(`${gutter} |`)} ${visible(sourceLine)}`);
        out.push(`${color.gray(`${' '.repeat(4)} |`)} ${pad}${color.green('^' + '~'.repeat(Math.max(0, width - 1)))}`);
      }
      if (d.hint) out.push(`${' '.repeat(5)} ${color.cyan('hint:')} ${d.hint}`);
      return out.join('\n');
    })
    .join('\n');
}

/** Control characters in a source line would garble the terminal. */
function visible(line: string): string {
  return line.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '?');
}

/** One JSON array of diagnostics, for tools. */
export function formatJson(diagnostics: readonly Diagnostic[]): string {
  return JSON.stringify(diagnostics, null, 2);
}

/** GitHub Actions workflow commands: annotations on the changed lines. */
export function formatGithub(diagnostics: readonly Diagnostic[]): string {
  return diagnostics
    .map((d) => {
      const properties = [
        `file=${escapeProperty(d.file)}`,
        `line=${d.line}`,
        `col=${d.column}`,
        ...(d.endLine !== undefined ? [`endLine=${d.endLine}`] : []),
        ...(d.endColumn !== undefined && d.endLine === d.line ? [`endColumn=${d.endColumn}`] : []),
        `title=${escapeProperty(`exch-cert ${d.ruleId}`)}`,
      ].join(',');
      const message = d.hint ? `${d.message} (${d.hint})` : d.message;
      return `::${d.severity === 'error' ? 'error' : 'warning'} ${properties}::${escapeData(message)}`;
    })
    .join('\n');
}

function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/** "2 errors and 1 warning in 3 files" */
export function summarize(diagnostics: readonly Diagnostic[], fileCount: number): string {
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.length - errors;
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  const files = plural(fileCount, 'file');
  if (errors === 0 && warnings === 0) return `no problems in ${files}`;
  return `${plural(errors, 'error')} and ${plural(warnings, 'warning')} in ${files}`;
}
