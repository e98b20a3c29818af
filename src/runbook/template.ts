/**
 * The runbook template language: `${{ params.NAME }}` and
 * `${{ steps.ID.outputs.NAME }}`, nothing else. No operators, no functions:
 * a template names a value, it never computes one.
 */

export interface ParamReference {
  readonly kind: 'param';
  readonly name: string;
}

export interface OutputReference {
  readonly kind: 'output';
  readonly step: string;
  readonly name: string;
}

export type Reference = ParamReference | OutputReference;

/** One piece of a parsed string: literal text or a reference, with its offset in the string. */
export type TemplatePart =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'ref'; readonly ref: Reference; readonly offset: number; readonly length: number };

export interface TemplateError {
  readonly message: string;
  /** Offset of the problem within the string. */
  readonly offset: number;
}

export type ParsedTemplate =
  | { readonly ok: true; readonly parts: readonly TemplatePart[] }
  | { readonly ok: false; readonly error: TemplateError };

const OPEN = '${{';
const CLOSE = '}}';
const PARAM_REF = /^params\.([A-Za-z][A-Za-z0-9_]*)$/;
const OUTPUT_REF = /^steps\.([a-z][a-z0-9-]*)\.outputs\.([A-Za-z][A-Za-z0-9_]*)$/;

/** True when the string contains template syntax at all. */
export function containsTemplate(value: string): boolean {
  return value.includes(OPEN);
}

/** Splits a string into literal text and references; rejects every other expression. */
export function parseTemplate(value: string): ParsedTemplate {
  const parts: TemplatePart[] = [];
  let cursor = 0;
  while (cursor < value.length) {
    const open = value.indexOf(OPEN, cursor);
    if (open === -1) {
      parts.push({ kind: 'text', text: value.slice(cursor) });
      break;
    }
    if (open > cursor) parts.push({ kind: 'text', text: value.slice(cursor, open) });
    const close = value.indexOf(CLOSE, open + OPEN.length);
    if (close === -1) {
      return { ok: false, error: { offset: open, message: "unclosed template: '${{' has no matching '}}'" } };
    }
    const expression = value.slice(open + OPEN.length, close).trim();
    const ref = parseReference(expression);
    if (ref === undefined) {
      return {
        ok: false,
        error: {
          offset: open,
          message: `unsupported template expression '${expression}': only \${{ params.NAME }} and \${{ steps.ID.outputs.NAME }} are allowed`,
        },
      };
    }
    parts.push({ kind: 'ref', ref, offset: open, length: close + CLOSE.length - open });
    cursor = close + CLOSE.length;
  }
  return { ok: true, parts };
}

function parseReference(expression: string): Reference | undefined {
  const param = PARAM_REF.exec(expression);
  if (param?.[1] !== undefined) return { kind: 'param', name: param[1] };
  const output = OUTPUT_REF.exec(expression);
  if (output?.[1] !== undefined && output[2] !== undefined) return { kind: 'output', step: output[1], name: output[2] };
  return undefined;
}

/** The reference when the parts are exactly one template and nothing else (so the value keeps its type). */
export function soleReference(parts: readonly TemplatePart[]): Reference | undefined {
  if (parts.length !== 1) return undefined;
  const [only] = parts;
  return only?.kind === 'ref' ? only.ref : undefined;
}

/** How a reference is written in a runbook, for messages. */
export function formatReference(ref: Reference): string {
  return ref.kind === 'param' ? `params.${ref.name}` : `steps.${ref.step}.outputs.${ref.name}`;
}
