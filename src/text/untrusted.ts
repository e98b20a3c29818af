/**
 * Text exch-cert did not write (certificate subjects and names, server greetings, PowerShell output,
 * runbook titles), made safe to show: nothing in it may reach a terminal as a control. Control
 * characters (C0, DEL, C1), line and paragraph separators, bidi overrides, marks and isolates,
 * zero-width and other invisible format characters, and the BOM become visible escapes (`\n`,
 * `\r`, `\t`, `\e` for ESC, `\x7f`, `\u202e`); a backslash is doubled, so every escape in the
 * output is one exch-cert wrote.
 */
const UNSAFE_CLASS = '\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u061c\\u180e\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u206f\\ufeff\\ufff9-\\ufffb';
const UNSAFE = new RegExp(`[\\\\${UNSAFE_CLASS}]`, 'gu');
const UNSAFE_BUT_BACKSLASH = new RegExp(`[${UNSAFE_CLASS}]`, 'gu');
/** Without C0 controls, which JSON.stringify escapes in strings itself (and uses as layout between them). */
const UNSAFE_IN_JSON = new RegExp(`[${UNSAFE_CLASS.replace('\\u0000-\\u001f', '')}]`, 'gu');
/** Unsafe characters other than line breaks and tabs, for blocks of text shown line by line. */
const UNSAFE_IN_BLOCK = new RegExp(`[\\u0000-\\u0008\\u000b-\\u001f${UNSAFE_CLASS.replace('\\u0000-\\u001f', '')}]`, 'gu');

/** Untrusted text, safe to print on one line. */
export function escapeUntrusted(text: string): string {
  return text.replace(UNSAFE, escapeCharacter);
}

/** For text that may already hold escapes exch-cert wrote (messages built with escapeUntrusted): unsafe characters only, backslashes kept. */
export function escapeControls(text: string): string {
  return text.replace(UNSAFE_BUT_BACKSLASH, escapeCharacter);
}

/** A block of text shown as lines (a script, a step's log): line breaks and tabs stay, every other unsafe character is escaped. */
export function escapeBlock(text: string): string {
  return text.replace(UNSAFE_IN_BLOCK, escapeCharacter);
}

/** Untrusted text in double quotes, for messages that name it. */
export function quoteUntrusted(text: string): string {
  return `"${escapeUntrusted(text)}"`;
}

/**
 * JSON for stdout that a terminal can show safely: JSON.stringify escapes C0 controls itself; the
 * other unsafe characters become `\uNNNN` escapes, which parse back to the same string.
 */
export function safeJson(value: unknown, indent: number | undefined = 2): string {
  return JSON.stringify(value, null, indent).replace(UNSAFE_IN_JSON, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const NAMED: Readonly<Record<string, string>> = { '\\': '\\\\', '\0': '\\0', '\u0007': '\\a', '\b': '\\b', '\t': '\\t', '\n': '\\n', '\u000b': '\\v', '\f': '\\f', '\r': '\\r', '\u001b': '\\e' };

/** One character as the escape exch-cert shows for it everywhere (reports, messages, lint). */
export function escapeCharacter(character: string): string {
  const named = NAMED[character];
  if (named !== undefined) return named;
  const code = character.charCodeAt(0);
  return code < 0x80 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}
