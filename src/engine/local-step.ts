import type { BoundValue } from '../actions/input.js';

/** What a step exch-cert runs itself reports, as a PowerShell step's block would. */
export interface LocalStepOutcome {
  readonly status: 'ok' | 'failed';
  readonly outputs: Readonly<Record<string, unknown>>;
  /** Why it failed, for people (anything from the network already escaped). */
  readonly error?: string;
  /** What it did, line by line, as a PowerShell step's log. */
  readonly log?: string;
}

/** Runs one kind of local step with its inputs resolved; stops early when the signal fires. */
export type LocalStepRunner = (inputs: Readonly<Record<string, unknown>>, signal: AbortSignal) => Promise<LocalStepOutcome>;

/** The local runners the CLI provides, by kind. */
export type LocalStepRunners = Readonly<Record<string, LocalStepRunner>>;

/**
 * The values a local step's bound inputs have now: literals as they are, run-time references from
 * the outputs of the steps that ran (text with references joined as PowerShell would). Secrets are
 * never handed to a local step: no local action takes one.
 */
export function resolveLocalInputs(inputs: Readonly<Record<string, BoundValue>>, outputs: ReadonlyMap<string, Readonly<Record<string, unknown>>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(inputs).map(([name, value]) => [name, resolveValue(value, outputs)]));
}

function resolveValue(value: BoundValue, outputs: ReadonlyMap<string, Readonly<Record<string, unknown>>>): unknown {
  switch (value.kind) {
    case 'literal':
      return value.value;
    case 'secret':
      throw new Error(`a local step cannot take the secret ${value.param}`);
    case 'runtime': {
      const read = (part: { step: string; name: string }): unknown => outputs.get(part.step)?.[part.name];
      const [only] = value.parts;
      if (value.parts.length === 1 && typeof only === 'object') return read(only);
      return value.parts.map((part) => (typeof part === 'string' ? part : textOf(read(part)))).join('');
    }
    case 'list':
      return value.items.flatMap((item) => {
        const resolved = resolveValue(item, outputs);
        return Array.isArray(resolved) ? (resolved as unknown[]) : [resolved];
      });
    case 'map':
      return Object.fromEntries(value.entries.map(([key, item]) => [key, resolveValue(item, outputs)]));
  }
}

/** A value as PowerShell's [string] cast writes it: a list joined with spaces, null as nothing. */
function textOf(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return (value as unknown[]).map(textOf).join(' ');
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value) ?? '';
}
