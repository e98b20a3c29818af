import { escapeCharacter } from './untrusted.js';

/**
 * Characters that change what a terminal shows rather than show themselves:
 * C0 controls (ESC starts colour, cursor and title sequences; CR returns to
 * the start of the line), DEL, C1 controls (0x9B is a one-byte CSI), the
 * Unicode line and paragraph separators, and the invisible bidirectional
 * controls that reorder text ("Trojan Source"). Tab, LF and CR are not in
 * this set: runbooks use them as whitespace and line ends.
 */
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** The same, with tab, LF and CR: for text shown inside one line (messages, values). */
const CONTROL_IN_LINE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const CONTROL_IN_SOURCE_LINE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMES: Readonly<Record<number, string>> = {
  0x00: 'NUL', 0x07: 'BEL', 0x08: 'BS', 0x0b: 'VT', 0x0c: 'FF', 0x1b: 'ESC', 0x7f: 'DEL', 0x85: 'NEL', 0x9b: 'CSI', 0x9d: 'OSC',
  0x061c: 'ARABIC LETTER MARK', 0x200e: 'LEFT-TO-RIGHT MARK', 0x200f: 'RIGHT-TO-LEFT MARK', 0x2028: 'LINE SEPARATOR', 0x2029: 'PARAGRAPH SEPARATOR',
  0x202a: 'LEFT-TO-RIGHT EMBEDDING', 0x202b: 'RIGHT-TO-LEFT EMBEDDING', 0x202c: 'POP DIRECTIONAL FORMATTING', 0x202d: 'LEFT-TO-RIGHT OVERRIDE',
  0x202e: 'RIGHT-TO-LEFT OVERRIDE', 0x2066: 'LEFT-TO-RIGHT ISOLATE', 0x2067: 'RIGHT-TO-LEFT ISOLATE', 0x2068: 'FIRST STRONG ISOLATE', 0x2069: 'POP DIRECTIONAL ISOLATE',
};

/**
 * Text with every control character shown as an escape (`\e`, `\r`, `\x7f`,
 * `\u009b`, `\u202e`), so that text from a runbook cannot colour, move, hide
 * or forge lines on a terminal. `keepTabs` keeps tabs (source lines, where
 * they align the caret); newlines are always escaped.
 */
export function escapeControlCharacters(text: string, options: { keepTabs?: boolean } = {}): string {
  return text.replace(options.keepTabs ? CONTROL_IN_SOURCE_LINE : CONTROL_IN_LINE, escapeCharacter);
}

/** A control character found in a text, with its index. */
export interface ControlCharacter {
  readonly index: number;
  /** e.g. `U+001B (ESC)` */
  readonly description: string;
  readonly bidi: boolean;
}

/** Every control character of `text` other than tab, LF and CR, in order. */
export function findControlCharacters(text: string): ControlCharacter[] {
  const found: ControlCharacter[] = [];
  for (const match of text.matchAll(CONTROL)) {
    const code = match[0].charCodeAt(0);
    const name = NAMES[code];
    const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
    found.push({ index: match.index, description: name ? `${hex} (${name})` : hex, bidi: code !== 0x2028 && code !== 0x2029 && code >= 0x061c });
  }
  return found;
}

/** JSON with the characters JSON.stringify leaves raw (DEL, C1, U+2028/2029, bidi controls) escaped too. */
export function escapeJsonControlCharacters(json: string): string {
  return json.replace(CONTROL, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
