/**
 * Characters that must never reach a terminal raw from untrusted text (a
 * certificate's subject or names): C0 and C1 controls, DEL, and the invisible
 * format characters that reorder or hide text (bidi overrides and isolates,
 * zero-width characters, line and paragraph separators, the BOM).
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g;
/** The same without C0 controls, which JSON.stringify escapes in strings (and uses as layout between them). */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g;

/**
 * Untrusted text made safe to print: backslashes doubled, every unsafe
 * character as `\xNN` or `\u{NNNN}`, so what is shown is what the bytes say.
 */
export function visibleText(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(UNSAFE, (char) => {
    const code = char.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0').toUpperCase()}` : `\\u{${code.toString(16).toUpperCase()}}`;
  });
}

/**
 * JSON for stdout that a terminal can show safely: JSON.stringify escapes C0
 * controls itself; the other unsafe characters become `\uNNNN` escapes, which
 * parse back to the same string.
 */
export function safeJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(UNSAFE_IN_JSON, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
