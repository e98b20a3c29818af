import * as z from 'zod';

/** The types a value can have in a runbook: the param types plus `map` (for the powershell action's arguments). */
export type ValueType = 'string' | 'number' | 'boolean' | 'list' | 'secret' | 'map';

/** A literal value after templates are resolved. */
export type LiteralValue = string | number | boolean | readonly string[];

/** One field of an action's `with`. */
export interface FieldSpec {
  readonly type: ValueType;
  /** Validates the field's value once it is known (a literal or a resolved param). */
  readonly schema: z.ZodType;
  readonly description: string;
  readonly required: boolean;
  readonly default?: LiteralValue;
  /**
   * The value must be known when the plan is made, because it shapes the
   * generated script (e.g. which cmdlets run); step outputs are not allowed.
   */
  readonly planTime: boolean;
  /** Text may hold line breaks and other control characters (scripts); names, paths and FQDNs may not. */
  readonly multiline?: boolean;
}

export type Fields = Readonly<Record<string, FieldSpec>>;

interface CommonOptions<T extends LiteralValue> {
  readonly required?: boolean;
  readonly default?: T;
  readonly planTime?: boolean;
}

function spec<T extends LiteralValue>(type: ValueType, schema: z.ZodType, description: string, options: CommonOptions<T>): FieldSpec {
  return {
    type,
    schema,
    description,
    required: options.required ?? false,
    planTime: options.planTime ?? false,
    ...(options.default !== undefined ? { default: options.default } : {}),
  };
}

/** A server's NetBIOS name or FQDN: letters, digits and hyphens in dot-separated labels, nothing else. */
export const SERVER_NAME_PATTERN = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*$/;

/** Control characters never belong in names, paths or FQDNs; newlines would only hide mischief. */
export const NO_CONTROL_CHARACTERS = /^[^\u0000-\u001f\u007f-\u009f\u2028\u2029]*$/u;

/** Builders for action fields. Each returns a spec with a zod schema for the literal value. */
export const field = {
  string(
    description: string,
    options: CommonOptions<string> & { pattern?: RegExp; patternMessage?: string; enum?: readonly [string, ...string[]]; maxLength?: number; multiline?: boolean } = {},
  ): FieldSpec {
    let schema: z.ZodType;
    if (options.enum) {
      schema = z.enum(options.enum, { message: `expected one of: ${options.enum.join(', ')}` });
    } else {
      let text = z.string().min(1, { message: 'must not be empty' });
      if (!options.multiline) text = text.regex(NO_CONTROL_CHARACTERS, { message: 'must not contain control characters such as line breaks' });
      if (options.maxLength !== undefined) text = text.max(options.maxLength, { message: `must be at most ${options.maxLength} characters` });
      if (options.pattern) text = text.regex(options.pattern, { message: options.patternMessage ?? `must match ${options.pattern.source}` });
      schema = text;
    }
    return { ...spec('string', schema, description, options), ...(options.multiline ? { multiline: true } : {}) };
  },

  number(description: string, options: CommonOptions<number> & { min?: number; max?: number; integer?: boolean; enum?: readonly number[] } = {}): FieldSpec {
    let schema = z.number();
    if (options.integer) schema = schema.int({ message: 'must be a whole number' });
    if (options.min !== undefined) schema = schema.min(options.min);
    if (options.max !== undefined) schema = schema.max(options.max);
    const allowed = options.enum;
    const withEnum = allowed ? schema.refine((n) => allowed.includes(n), { message: `expected one of: ${allowed.join(', ')}` }) : schema;
    return spec('number', withEnum, description, options);
  },

  boolean(description: string, options: CommonOptions<boolean> = {}): FieldSpec {
    return spec('boolean', z.boolean(), description, options);
  },

  list(
    description: string,
    options: CommonOptions<readonly string[]> & { enum?: readonly [string, ...string[]]; pattern?: RegExp; patternMessage?: string; minItems?: number } = {},
  ): FieldSpec {
    let item: z.ZodType<string> = options.enum
      ? z.enum(options.enum, { message: `expected one of: ${options.enum.join(', ')}` })
      : z.string().min(1).regex(NO_CONTROL_CHARACTERS, { message: 'must not contain control characters' });
    if (options.pattern) item = (item as z.ZodString).regex(options.pattern, { message: options.patternMessage ?? `must match ${options.pattern.source}` });
    const schema = z
      .array(item)
      .min(options.minItems ?? 1, { message: `needs at least ${options.minItems ?? 1} item(s)` })
      .refine((items) => new Set(items.map((i) => i.toLowerCase())).size === items.length, { message: 'lists each value only once' });
    return spec('list', schema, description, options);
  },

  /** A secret: accepts only `${{ params.NAME }}` of a secret param. */
  secret(description: string, options: { required?: boolean } = {}): FieldSpec {
    return spec('secret', z.never(), description, options);
  },

  /** A mapping of names to values (each a literal or a template). */
  map(description: string): FieldSpec {
    return spec('map', z.record(z.string(), z.unknown()), description, {});
  },

  /** The Exchange server to act on: a host name or FQDN. */
  server(): FieldSpec {
    return field.string('Exchange server to act on (NetBIOS name or FQDN).', {
      required: true,
      maxLength: 253,
      pattern: SERVER_NAME_PATTERN,
      patternMessage: 'expected a server name such as EXCH01 or exch01.contoso.com',
    });
  },

  /** A certificate thumbprint: 40 hexadecimal digits (SHA-1), as Exchange shows it. */
  thumbprint(description: string, options: { required?: boolean } = { required: true }): FieldSpec {
    return field.string(description, {
      required: options.required ?? true,
      pattern: /^[0-9A-Fa-f]{40}$/,
      patternMessage: 'expected a thumbprint: 40 hexadecimal digits, without spaces',
    });
  },
};

/** A DNS name (no wildcard), e.g. mail.contoso.com. */
export const FQDN_PATTERN = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))+$/;
