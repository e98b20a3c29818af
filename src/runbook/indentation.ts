/** A line indented to no level of the mapping it is in. */
export interface BadIndentation {
  /** 1-based line of the offending line. */
  readonly line: number;
  readonly indent: number;
  /** The indentation it most likely needs. */
  readonly expected: number;
  /** The key or item it should line up with, and its line. */
  readonly sibling: { readonly text: string; readonly line: number };
}

interface Level {
  readonly column: number;
  /** The last line that started at this column, for the hint. */
  line: number;
  text: string;
}

/**
 * Finds the first block-mapping line whose indentation matches none of the
 * levels open above it, e.g. `     with:` under `    action: ...`. The YAML
 * library reports such a line as two messages about the line before it; this
 * names the line and the fix. A heuristic, consulted only when the YAML does
 * not parse: flow collections and block scalars are skipped.
 */
export function findBadIndentation(text: string): BadIndentation | undefined {
  const lines = text.split('\n');
  const levels: Level[] = [];
  let opener = false;
  let blockScalarIndent: number | undefined;
  for (let n = 0; n < lines.length; n++) {
    const raw = (lines[n] ?? '').replace(/\r$/, '');
    const indent = raw.length - raw.replace(/^ +/, '').length;
    const content = raw.slice(indent);
    if (content === '' || content.startsWith('#')) continue;
    if (content.startsWith('\t')) return undefined;
    if (blockScalarIndent !== undefined) {
      if (indent > blockScalarIndent) continue;
      blockScalarIndent = undefined;
    }
    // Items and the key after them: `- - key: value` has levels at each dash and at the key.
    const columns: number[] = [];
    let column = indent;
    while (raw.startsWith('- ', column) || raw.slice(column) === '-') {
      columns.push(column);
      column += 2;
    }
    const rest = raw.slice(column).replace(/\s+#.*$/, '').trimEnd();
    if (rest !== '') columns.push(column);
    if (columns.length === 0) continue;
    if (/^[[{]/.test(rest) && !/[\]}]$/.test(rest)) return undefined;
    const first = columns[0] ?? indent;
    const top = levels[levels.length - 1];
    if (!(opener && (top === undefined || first > top.column || (first === top.column && raw.startsWith('- ', first))))) {
      let popped: Level | undefined;
      while ((levels[levels.length - 1]?.column ?? -1) > first) popped = levels.pop();
      const current = levels[levels.length - 1];
      if (current !== undefined && current.column !== first) {
        const nearest = popped !== undefined && popped.column - first <= first - current.column ? popped : current;
        return { line: n + 1, indent: first, expected: nearest.column, sibling: { text: nearest.text, line: nearest.line } };
      }
      if (current !== undefined) levels.pop();
    }
    for (const at of columns) levels.push({ column: at, line: n + 1, text: raw.slice(at).replace(/:.*$/, ':').replace(/^- .*$/, '-') });
    opener = rest === '' || /:$/.test(rest);
    if (/:\s*[|>][0-9+-]*$/.test(rest)) {
      blockScalarIndent = columns[columns.length - 1] ?? indent;
      opener = false;
    }
  }
  return undefined;
}
