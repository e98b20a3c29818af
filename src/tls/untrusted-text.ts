/*
 * Control characters (C0, DEL, C1), line and paragraph separators, bidi
 * overrides and marks, and the BOM: what could move the cursor, recolour a
 * terminal, or make text read differently from what it is. A backslash is
 * escaped too, so every escape in the output is one we wrote.
 */
const UNSAFE = /[\\\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/gu;
const UNSAFE_BUT_BACKSLASH = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/gu;

/**
 * Text from a server or the command line, safe to print: every character that
 * could act on a terminal becomes a visible escape (`\u001b`, `\n`, `\\`).
 */
export function escapeUntrusted(text: string): string {
  return text.replace(UNSAFE, escapeCharacter);
}

/** For text that may already hold escapes we wrote (messages built with escapeUntrusted): control characters only, backslashes kept. */
export function escapeControls(text: string): string {
  return text.replace(UNSAFE_BUT_BACKSLASH, escapeCharacter);
}

function escapeCharacter(ch: string): string {
  switch (ch) {
    case '\\':
      return '\\\\';
    case '\n':
      return '\\n';
    case '\r':
      return '\\r';
    case '\t':
      return '\\t';
    default:
      return `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
  }
}

/** Untrusted text in double quotes, for messages that name it. */
export function quoteUntrusted(text: string): string {
  return `"${escapeUntrusted(text)}"`;
}
