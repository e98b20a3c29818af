import type { Fields } from './fields.js';
import type { ActionInput, BoundValue } from './input.js';

export type OutputType = 'string' | 'boolean' | 'list';

export interface OutputSpec {
  readonly type: OutputType;
  readonly description: string;
}

export type Outputs = Readonly<Record<string, OutputSpec>>;

/**
 * One entry of the action catalog: a `with` schema, the outputs it sets, and a
 * pure compiler from bound inputs to the body of a step's PowerShell.
 */
export interface ActionDefinition<F extends Fields = Fields> {
  readonly name: string;
  /** One line for `exch-cert actions`. */
  readonly summary: string;
  /**
   * Where the code acts: Exchange cmdlets, the server's operating system (services, IIS), a raw
   * script, or this machine (a step exch-cert runs itself, such as the TLS check from where clients
   * connect: its block is only comments saying exactly what is done).
   */
  readonly runsOn: 'exchange' | 'host' | 'script' | 'local';
  /**
   * The Exchange cmdlets the compiled body calls: exactly these are imported from the Exchange
   * session, and they are checked against Microsoft's cmdlet reference.
   */
  readonly exchangeCmdlets: readonly string[] | ((input: ActionInput<Extract<keyof F, string>>) => readonly string[]);
  /** Changes the server (false: read-only, reports `ok`). */
  readonly changes: boolean;
  /** Cannot be undone; asks for confirmation before running. */
  readonly destructive: boolean;
  readonly fields: F;
  /** Outputs the step sets; a function when they depend on `with` (the powershell action). */
  readonly outputs: Outputs | ((rawWith: Readonly<Record<string, unknown>>) => Outputs);
  /**
   * The body is the runbook author's own code: keep it exactly as written
   * (no indentation), since a here-string's closing '@ must start its line
   * and a multi-line string's text would change.
   */
  readonly verbatimBody?: boolean;
  /** Cross-field rules (e.g. "one of a or b") on the raw `with`; returns the problem, or undefined. */
  checkFields?(rawWith: Readonly<Record<string, unknown>>): string | undefined;
  /** The default title when a step has none. */
  title(input: ActionInput<Extract<keyof F, string>>): string;
  /** The step body: PowerShell statements, unindented (for a local step, comments). Pure. */
  compile(input: ActionInput<Extract<keyof F, string>>): string;
  /** For a local step: what exch-cert runs, with its inputs still bound (run-time values resolve when it runs). */
  local?(input: ActionInput<Extract<keyof F, string>>): LocalInvocation;
}

/** A step exch-cert runs itself: the kind names the runner, the inputs are the step's bound fields. */
export interface LocalInvocation {
  readonly kind: string;
  readonly inputs: Readonly<Record<string, BoundValue>>;
}

/** Declares an action with its field names checked by the compiler. */
export function defineAction<const F extends Fields>(definition: ActionDefinition<F>): ActionDefinition<F> {
  return definition;
}

/** The Exchange cmdlets a step of this action calls. */
export function exchangeCmdletsOf(action: ActionDefinition, input: ActionInput): readonly string[] {
  return typeof action.exchangeCmdlets === 'function' ? action.exchangeCmdlets(input) : action.exchangeCmdlets;
}

/** The outputs a step of this action sets, given its raw `with`. */
export function outputsOf(action: ActionDefinition, rawWith: Readonly<Record<string, unknown>>): Outputs {
  return typeof action.outputs === 'function' ? action.outputs(rawWith) : action.outputs;
}
