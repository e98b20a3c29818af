import { psLiteral, psString } from '../powershell/quote.js';
import type { OutputReference } from '../runbook/template.js';
import type { LiteralValue, ValueType } from './fields.js';

/**
 * A field value once params are bound: known now, a secret read at run time,
 * or text assembled at run time from earlier steps' outputs.
 */
export type BoundValue =
  | { readonly kind: 'literal'; readonly value: LiteralValue }
  | { readonly kind: 'secret'; readonly param: string; readonly env: string }
  | { readonly kind: 'runtime'; readonly type: ValueType; readonly parts: ReadonlyArray<string | OutputReference> }
  | { readonly kind: 'list'; readonly items: readonly BoundValue[] }
  | { readonly kind: 'map'; readonly entries: ReadonlyArray<readonly [string, BoundValue]> };

/** The PowerShell expression for a step output, as every generated script reads it. */
export function outputExpression(ref: OutputReference): string {
  return `(Get-ExchCertOutput -Step ${psString(ref.step)} -Name ${psString(ref.name)})`;
}

/** The PowerShell expression that yields a bound value. Data stays data: literals are quoted, never spliced. */
export function expressionOf(value: BoundValue): string {
  switch (value.kind) {
    case 'literal':
      return psLiteral(value.value);
    case 'secret':
      return `$ExchCert.Secrets[${psString(value.param)}]`;
    case 'runtime': {
      const [only] = value.parts;
      if (value.parts.length === 1 && typeof only === 'object') return outputExpression(only);
      const pieces = value.parts.map((part) => (typeof part === 'string' ? psString(part) : `[string]${outputExpression(part)}`));
      return `(-join @(${pieces.join(', ')}))`;
    }
    case 'list':
      return `@(${value.items.map(expressionOf).join(', ')})`;
    case 'map':
      return value.entries.length === 0 ? '@{}' : `@{ ${value.entries.map(([key, entry]) => `${psString(key)} = ${expressionOf(entry)}`).join('; ')} }`;
  }
}

/** How a value reads in a title or message: literals as text, run-time values by where they come from. */
export function describeValue(value: BoundValue): string {
  switch (value.kind) {
    case 'literal':
      return Array.isArray(value.value) ? value.value.join(', ') : String(value.value);
    case 'secret':
      return `secret ${value.param}`;
    case 'runtime':
      return value.parts.map((part) => (typeof part === 'string' ? part : `<${part.step}.${part.name}>`)).join('');
    case 'list':
      return value.items.map(describeValue).join(', ');
    case 'map':
      return value.entries.map(([key]) => key).join(', ');
  }
}

/**
 * What an action's compiler sees: its fields, bound. Accessors for
 * plan-time values throw on anything else, which the validator rules out.
 */
export class ActionInput<K extends string = string> {
  constructor(private readonly values: ReadonlyMap<string, BoundValue>) {}

  has(name: K): boolean {
    return this.values.has(name);
  }

  /** The PowerShell expression for a field. */
  expr(name: K): string {
    return expressionOf(this.get(name));
  }

  /**
   * The expression for a server's NetBIOS name (its first label): Get-TransportService -Identity
   * takes that, and finds nothing for an FQDN.
   */
  serverName(name: K): string {
    const value = this.get(name);
    if (value.kind === 'literal' && typeof value.value === 'string') return psString(value.value.split('.')[0] ?? value.value);
    return `([string]${expressionOf(value)}).Split('.')[0]`;
  }

  describe(name: K): string {
    return this.values.has(name) ? describeValue(this.get(name)) : '';
  }

  string(name: K): string {
    const value = this.literal(name);
    if (typeof value !== 'string') throw new TypeError(`field ${name} is not a string`);
    return value;
  }

  boolean(name: K): boolean {
    const value = this.literal(name);
    if (typeof value !== 'boolean') throw new TypeError(`field ${name} is not a boolean`);
    return value;
  }

  number(name: K): number {
    const value = this.literal(name);
    if (typeof value !== 'number') throw new TypeError(`field ${name} is not a number`);
    return value;
  }

  list(name: K): readonly string[] {
    const value = this.literal(name);
    if (!Array.isArray(value)) throw new TypeError(`field ${name} is not a list`);
    return value as readonly string[];
  }

  /** The bound value itself, for actions that pass maps or inspect run-time parts. */
  get(name: K): BoundValue {
    const value = this.values.get(name);
    if (value === undefined) throw new TypeError(`field ${name} has no value`);
    return value;
  }

  private literal(name: K): LiteralValue {
    const value = this.get(name);
    if (value.kind !== 'literal') throw new TypeError(`field ${name} must be known when the plan is made`);
    return value.value;
  }
}
