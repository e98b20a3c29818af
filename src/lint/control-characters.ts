import { findControlCharacters } from '../text/control-characters.js';
import type { Diagnostic } from '../diagnostics.js';
import type { RunbookSource } from '../runbook/source.js';

/**
 * Control characters anywhere in a runbook, scripts and comments included: an
 * ESC sequence in a script comment can hide a line of the dry run on a
 * terminal, and bidirectional controls make code read differently from how it
 * runs. One diagnostic per line, at the first such character.
 */
export function controlCharacterDiagnostics(source: RunbookSource): Diagnostic[] {
  const found = findControlCharacters(source.text);
  if (found.length === 0) return [];
  const diagnostics: Diagnostic[] = [];
  let line = 1;
  let lineStart = 0;
  let scanned = 0;
  let lastLine = 0;
  for (const character of found) {
    for (; scanned < character.index; scanned++) {
      if (source.text[scanned] === '\n') {
        line++;
        lineStart = scanned + 1;
      }
    }
    if (line === lastLine) continue;
    lastLine = line;
    const column = character.index - lineStart + 1;
    diagnostics.push({
      file: source.file,
      line,
      column,
      endLine: line,
      endColumn: column + 1,
      severity: 'error',
      message: `${character.bidi ? 'invisible bidirectional control' : 'control character'} ${character.description} in the runbook`,
      hint: character.bidi
        ? 'remove it: it reorders text on screen, so code reads differently from how it runs'
        : 'remove it: control characters can hide or forge text on a terminal (a script can write it as [char]0x' +
          character.description.slice(2, 6) +
          ')',
      ruleId: 'control-character',
    });
  }
  return diagnostics;
}
