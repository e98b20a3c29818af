import type { ActionDefinition, Outputs } from '../actions/action.js';
import type { LiteralValue } from '../actions/fields.js';
import type { PathSegment } from './document.js';
import type { ParamDefinition } from './schema.js';
import type { Reference, TemplatePart } from './template.js';

/**
 * A `with` value as written: a literal, a string with templates, a list whose
 * items may hold templates, or (for maps) entries of any of these.
 */
export type FieldValue =
  | { readonly kind: 'literal'; readonly value: LiteralValue }
  | { readonly kind: 'template'; readonly parts: readonly TemplatePart[] }
  | { readonly kind: 'list'; readonly items: readonly FieldValue[] }
  | { readonly kind: 'map'; readonly entries: ReadonlyArray<readonly [string, FieldValue]> };

export type StepPhase = 'steps' | 'onFailure';

/** A validated step. */
export interface Step {
  readonly phase: StepPhase;
  /** Position within its phase, 0-based. */
  readonly index: number;
  readonly id: string;
  readonly title: string | undefined;
  readonly action: ActionDefinition;
  readonly with: ReadonlyMap<string, FieldValue>;
  /** The raw `with`, for actions whose outputs depend on it. */
  readonly rawWith: Readonly<Record<string, unknown>>;
  readonly outputs: Outputs;
  /** Run only when this is true: a boolean, or boolean references of which any one true is enough. */
  readonly when: boolean | readonly Reference[] | undefined;
  readonly timeoutMs: number | undefined;
  readonly retries: number;
  readonly retryDelayMs: number;
  readonly continueOnError: boolean;
  /** Once this step succeeds, later failures no longer roll back. */
  readonly commit: boolean;
  readonly confirm: boolean;
  /** Where the step is in the file, e.g. ['steps', 2]. */
  readonly path: readonly PathSegment[];
}

/** A runbook that passed validation (or, for lint, the parts of it that did). */
export interface Runbook {
  readonly file: string;
  readonly name: string;
  readonly description: string | undefined;
  readonly params: ReadonlyMap<string, ParamDefinition>;
  readonly steps: readonly Step[];
  readonly onFailure: readonly Step[];
  /** The file's text, for fingerprints. */
  readonly text: string;
}

