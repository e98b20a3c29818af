import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type Pair, type YAMLMap } from 'yaml';
import type { Diagnostic } from '../diagnostics.js';
import { findBadIndentation } from './indentation.js';
import type { RunbookSource } from './source.js';

/** Nesting deeper than this is no runbook; the cap keeps the YAML parser away from pathological input. */
export const MAX_NESTING_DEPTH = 64;
/** Aliases are legitimate for repeated values; billions of them are an attack ("billion laughs"). */
export const MAX_ALIAS_COUNT = 100;

/** A parsed runbook file that still knows where every value came from. */
export interface RunbookDocument {
  readonly file: string;
  readonly text: string;
  readonly yaml: Document.Parsed;
  readonly lineCounter: LineCounter;
  /** The plain data, for schema validation. */
  readonly data: unknown;
}

export type PathSegment = string | number;

export interface Span {
  readonly line: number;
  readonly column: number;
  readonly endLine: number;
  readonly endColumn: number;
}

export type DocumentResult =
  | { readonly ok: true; readonly document: RunbookDocument }
  | { readonly ok: false; readonly diagnostics: Diagnostic[] };

/** Parses YAML with positions; returns every syntax problem, not only the first. */
export function parseRunbookDocument(source: RunbookSource): DocumentResult {
  const { file, text } = source;
  const lineCounter = new LineCounter();
  const nesting = measureNesting(text);
  if (nesting.depth > MAX_NESTING_DEPTH) {
    // The parser never ran, so record the line starts ourselves to map the offset.
    lineCounter.addNewLine(0);
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lineCounter.addNewLine(i + 1);
    return {
      ok: false,
      diagnostics: [
        syntaxDiagnostic(nesting.offset, `nesting is deeper than ${MAX_NESTING_DEPTH} levels`, 'a runbook needs only a few levels; flatten the structure'),
      ],
    };
  }
  const yaml = parseDocument(text, {
    lineCounter,
    prettyErrors: false,
    // The library's own check compares each key with every earlier one
    // (quadratic: 10,000 keys took seconds); duplicateKeys() uses a set.
    uniqueKeys: false,
    strict: true,
    version: '1.2',
  });
  const problems: Array<{ offset: number; code: string; message: string }> = [...yaml.errors, ...yaml.warnings].map((problem) => ({ offset: problem.pos[0], code: problem.code, message: problem.message }));
  problems.push(...duplicateKeys(yaml));
  if (problems.length > 0) {
    const diagnostics = problems.map((problem) => syntaxDiagnostic(problem.offset, describeYamlError(problem.code, problem.message), yamlHint(problem.code, text, problem.offset)));
    return { ok: false, diagnostics: explainIndentation(diagnostics) };
  }
  let data: unknown;
  try {
    data = yaml.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      ok: false,
      diagnostics: [syntaxDiagnostic(0, `cannot expand aliases: ${message}`, `use at most ${MAX_ALIAS_COUNT} alias expansions`)],
    };
  }
  return { ok: true, document: { file, text, yaml, lineCounter, data } };

  /** The library's messages about a mis-indented line point at the line before it: one message at the line, with the fix. */
  function explainIndentation(diagnostics: Diagnostic[]): Diagnostic[] {
    const bad = findBadIndentation(text);
    if (!bad) return diagnostics;
    const echoes = (d: Diagnostic): boolean => d.line === bad.line || d.line === bad.line - 1;
    if (!diagnostics.some(echoes)) return diagnostics;
    const like = bad.sibling.text === '-' ? `the '-' on line ${bad.sibling.line}` : `'${bad.sibling.text}' on line ${bad.sibling.line}`;
    return [
      ...diagnostics.filter((d) => !echoes(d)),
      {
        file,
        line: bad.line,
        column: bad.indent + 1,
        severity: 'error',
        message: `bad indentation: this line is indented ${bad.indent} spaces, but the lines around it are at ${bad.expected}`,
        hint: `indent it ${bad.expected} spaces, like ${like}`,
        ruleId: 'yaml-syntax',
      },
    ];
  }

  function syntaxDiagnostic(offset: number, message: string, hint?: string): Diagnostic {
    const position = lineCounter.linePos(offset);
    return { file, line: position.line, column: position.col, severity: 'error', message, ruleId: 'yaml-syntax', ...(hint ? { hint } : {}) };
  }
}

/** Keys that repeat in a mapping, each at its second and later occurrence; linear in the number of keys. */
function duplicateKeys(yaml: Document.Parsed): Array<{ offset: number; code: string; message: string }> {
  const found: Array<{ offset: number; code: string; message: string }> = [];
  const walk = (node: unknown): void => {
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        const key = pair.key;
        // Scalars compare by type and value, as YAML does (1 and '1' differ); other keys by their content.
        const identity = isScalar(key) ? `${typeof key.value}:${String(key.value)}` : `node:${JSON.stringify(key)}`;
        if (seen.has(identity)) found.push({ offset: (key as Node | null)?.range?.[0] ?? 0, code: 'DUPLICATE_KEY', message: 'Map keys must be unique' });
        seen.add(identity);
        walk(pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) walk(item);
    }
  };
  walk(yaml.contents);
  return found;
}

function describeYamlError(code: string, message: string): string {
  switch (code) {
    case 'DUPLICATE_KEY':
      return 'duplicate key: ' + message.replace(/^Map keys must be unique.*$/, 'each key may appear only once in a mapping');
    case 'TAB_AS_INDENT':
      return 'tab character used for indentation';
    case 'MULTIPLE_DOCS':
      return 'file contains more than one YAML document';
    default:
      return `invalid YAML: ${message.split('\n')[0] ?? message}`;
  }
}

function yamlHint(code: string, text: string, offset: number): string | undefined {
  if (code === 'TAB_AS_INDENT' || /^\t/m.test(lineAt(text, offset))) return 'YAML indents with spaces only; replace the tabs with spaces';
  if (code === 'DUPLICATE_KEY') return 'remove or rename one of the duplicate keys';
  if (code === 'MULTIPLE_DOCS') return "put one runbook per file; remove the '---' separator";
  return undefined;
}

function lineAt(text: string, offset: number): string {
  const start = text.lastIndexOf('\n', offset - 1) + 1;
  const end = text.indexOf('\n', offset);
  return text.slice(start, end === -1 ? undefined : end);
}

/**
 * Finds the node at a path and returns its span. With `key: true` the span is
 * the mapping key (for "unknown key" messages). When the path goes further than
 * the document, the deepest existing node is used.
 */
export function locate(document: RunbookDocument, path: readonly PathSegment[], options: { key?: boolean } = {}): Span {
  let node: unknown = document.yaml.contents;
  let keyNode: Node | null = null;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = pairsByKey(node).get(String(segment));
      if (!pair) break;
      keyNode = pair.key as Node;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number' && node.items[segment] !== undefined) {
      keyNode = null;
      node = node.items[segment];
    } else {
      break;
    }
  }
  const target = options.key && keyNode ? keyNode : isPair(node) ? (node.key as Node) : ((node as Node | null) ?? keyNode);
  const range = target?.range ?? [0, 0, 0];
  return spanOf(document.lineCounter, range[0], range[1]);
}

/** The first pair of each scalar key of a mapping, indexed once: a lint of a mapping with many unknown keys locates each of them. */
const pairIndexes = new WeakMap<YAMLMap, Map<string, Pair>>();

function pairsByKey(map: YAMLMap): Map<string, Pair> {
  let index = pairIndexes.get(map);
  if (index === undefined) {
    index = new Map();
    for (const item of map.items) {
      if (!isScalar(item.key)) continue;
      const name = String(item.key.value);
      if (!index.has(name)) index.set(name, item);
    }
    pairIndexes.set(map, index);
  }
  return index;
}

function spanOf(lineCounter: LineCounter, start: number, end: number): Span {
  const from = lineCounter.linePos(start);
  const to = lineCounter.linePos(Math.max(start, end));
  return { line: from.line, column: from.col, endLine: to.line, endColumn: to.col };
}

/**
 * A conservative estimate of the nesting depth (block indentation levels plus
 * flow brackets, skipping quoted text, comments and block scalars), with the
 * offset where the deepest point was reached. Runs before the YAML parser,
 * which exhausts memory on inputs nested tens of thousands deep.
 */
export function measureNesting(text: string): { depth: number; offset: number } {
  let maxDepth = 0;
  let maxOffset = 0;
  const indents: number[] = [];
  let flow = 0;
  let quote: '"' | "'" | null = null;
  let blockScalarIndent: number | null = null;
  let offset = 0;
  for (const rawLine of text.split('\n')) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    const indent = line.length - line.trimStart().length;
    const blank = line.trim() === '';
    if (blockScalarIndent !== null) {
      if (blank || indent > blockScalarIndent) {
        offset += rawLine.length + 1;
        continue;
      }
      blockScalarIndent = null;
    }
    if (!blank && quote === null && flow === 0) {
      while (indents.length > 0 && (indents[indents.length - 1] ?? 0) >= indent) indents.pop();
      indents.push(indent);
    }
    let sequenceMarkers = 0;
    let column = indent;
    while (quote === null && flow === 0 && line.startsWith('- ', column)) {
      sequenceMarkers++;
      column += 2;
    }
    for (let i = indent; i < line.length; i++) {
      const ch = line[i];
      if (quote !== null) {
        if (ch === quote) {
          if (quote === "'" && line[i + 1] === "'") i++;
          else quote = null;
        } else if (ch === '\\' && quote === '"') i++;
        continue;
      }
      if (ch === '#' && (i === 0 || line[i - 1] === ' ' || line[i - 1] === '\t')) break;
      if (ch === '"' || ch === "'") {
        const previous = line[i - 1];
        if (i === 0 || previous === undefined || ' \t[{,:-?'.includes(previous)) quote = ch;
      } else if (ch === '[' || ch === '{') {
        flow++;
      } else if ((ch === ']' || ch === '}') && flow > 0) {
        flow--;
      }
      const depth = indents.length + sequenceMarkers + flow;
      if (depth > maxDepth) {
        maxDepth = depth;
        maxOffset = offset + i;
      }
    }
    if (quote === null && flow === 0 && /(?:^|[\s:-])[|>][0-9+-]*\s*(?:#.*)?$/.test(line)) blockScalarIndent = indent;
    offset += rawLine.length + 1;
  }
  return { depth: maxDepth, offset: maxOffset };
}
