import type { Diagnostic } from '../diagnostics.js';
import { formatText } from '../lint/format.js';
import type { CliIo, Terminal } from './terminal.js';

/** Prints a runbook's problems on stderr, as lint's text format does. */
export function printDiagnostics(diagnostics: readonly Diagnostic[], source: string | undefined, io: CliIo, terminal: Terminal): void {
  const sources = new Map<string, string>();
  for (const d of diagnostics) if (source !== undefined) sources.set(d.file, source);
  io.stderr.write(formatText(diagnostics, sources, terminal.color) + '\n');
}
