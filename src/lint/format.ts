import type { ChalkInstance } from 'chalk';
import { escapeControlCharacters, escapeJsonControlCharacters } from '../text/control-characters.js';
import type { Diagnostic } from '../diagnostics.js';
import type { ParserInfo } from './scripts.js';

export const LINT_FORMATS = ['text', 'json', 'github', 'sarif'] as const;
export type LintFormat = (typeof LINT_FORMATS)[number];

export const LINT_PARSERS = ['auto', 'pwsh', 'builtin'] as const;
export type LintParser = (typeof LINT_PARSERS)[number];

/** What a whole lint run found, beside its diagnostics. */
export interface LintReport {
  readonly files: number;
  readonly counts: { readonly errors: number; readonly warnings: number };
  /** Who judged the scripts of powershell steps; undefined when there were none. */
  readonly parser: ParserInfo | undefined;
}

/**
 * `file:line:col: severity: message [rule-id]`, then the source line with a
 * caret under the problem and the hint, like compilers and actionlint.
 */
export function formatText(diagnostics: readonly Diagnostic[], sources: ReadonlyMap<string, string>, color: ChalkInstance): string {
  // Each file is split into lines once, not once per diagnostic.
  const lines = new Map<string, readonly string[]>();
  const linesOf = (file: string): readonly string[] | undefined => {
    let split = lines.get(file);
    if (split === undefined) {
      const text = sources.get(file);
      if (text === undefined) return undefined;
      split = text.split('\n');
      lines.set(file, split);
    }
    return split;
  };
  // Everything that came from the runbook (messages quote it) is shown with its control characters escaped.
  const shown = (text: string): string => escapeControlCharacters(text);
  return diagnostics
    .map((d) => {
      const severity = d.severity === 'error' ? color.red.bold('error') : color.yellow.bold('warning');
      const head = `${color.bold(`${shown(d.file)}:${d.line}:${d.column}`)}: ${severity}: ${shown(d.message)} ${color.gray(`[${d.ruleId}]`)}`;
      const sourceLine = linesOf(d.file)?.[d.line - 1]?.replace(/\r$/, '');
      const out = [head];
      if (sourceLine !== undefined && sourceLine.trim() !== '') {
        const gutter = String(d.line).padStart(4);
        const column = Math.min(d.column, sourceLine.length + 1);
        const endColumn = d.endLine === d.line && d.endColumn !== undefined && d.endColumn > column ? Math.min(d.endColumn, sourceLine.length + 1) : column + 1;
        // Escapes widen the line: measure the prefix and the underlined part as shown. Tabs keep the caret aligned.
        const prefix = escapeControlCharacters(sourceLine.slice(0, column - 1), { keepTabs: true });
        const width = escapeControlCharacters(sourceLine.slice(column - 1, endColumn - 1), { keepTabs: true }).length;
        out.push(`${color.gray(`${gutter} |`)} ${escapeControlCharacters(sourceLine, { keepTabs: true })}`);
        out.push(`${color.gray(`${' '.repeat(4)} |`)} ${prefix.replace(/[^\t]/g, ' ')}${color.green('^' + '~'.repeat(Math.max(0, width - 1)))}`);
      }
      if (d.hint) out.push(`${' '.repeat(5)} ${color.cyan('hint:')} ${shown(d.hint)}`);
      return out.join('\n');
    })
    .join('\n');
}

/** One JSON object for tools: how many files, errors and warnings, which parser judged the scripts, and the diagnostics. */
export function formatJson(diagnostics: readonly Diagnostic[], report: LintReport): string {
  const { files, counts, parser } = report;
  return escapeJsonControlCharacters(JSON.stringify({ files, errors: counts.errors, warnings: counts.warnings, parser: parser ?? null, diagnostics }, null, 2));
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
      const message = escapeControlCharacters(d.hint ? `${d.message} (${d.hint})` : d.message);
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
export function summarize(counts: { readonly errors: number; readonly warnings: number }, fileCount: number): string {
  const { errors, warnings } = counts;
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  const files = plural(fileCount, 'file');
  if (errors === 0 && warnings === 0) return `no problems in ${files}`;
  return `${plural(errors, 'error')} and ${plural(warnings, 'warning')} in ${files}`;
}
