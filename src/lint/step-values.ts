import type { FieldValue, Runbook, Step } from '../runbook/model.js';
import { soleReference } from '../runbook/template.js';

/**
 * What a list field of a step may contain, as far as lint can tell without
 * param values: literal items, or a list param's default. `undefined` when it
 * cannot be known (a param without default, or a step output).
 */
export function knownListValue(runbook: Runbook, step: Step, field: string): readonly string[] | undefined {
  const value = step.with.get(field);
  if (value === undefined) {
    const fallback = step.action.fields[field]?.default;
    return Array.isArray(fallback) ? (fallback as readonly string[]) : undefined;
  }
  if (value.kind === 'literal' && Array.isArray(value.value)) return value.value as readonly string[];
  if (value.kind === 'template') {
    const ref = soleReference(value.parts);
    if (ref?.kind === 'param') {
      const param = runbook.params.get(ref.name);
      if (param?.type === 'list' && param.default) return param.default;
    }
  }
  return undefined;
}

/** A canonical text for a field value, so two steps naming the same thumbprint compare equal. */
export function valueKey(value: FieldValue | undefined): string | undefined {
  if (value === undefined) return undefined;
  return JSON.stringify(value.kind === 'template' ? value.parts.map((part) => (part.kind === 'text' ? part.text : part.ref)) : value);
}

/** Steps of the main phase after `step` (or all onFailure steps after it). */
export function stepsAfter(runbook: Runbook, step: Step): readonly Step[] {
  const phase = step.phase === 'steps' ? runbook.steps : runbook.onFailure;
  return phase.slice(phase.indexOf(step) + 1);
}

/** Steps that run before `step`: earlier steps of its phase, and for onFailure steps all main steps. */
export function stepsBefore(runbook: Runbook, step: Step): readonly Step[] {
  if (step.phase === 'steps') return runbook.steps.slice(0, runbook.steps.indexOf(step));
  return [...runbook.steps, ...runbook.onFailure.slice(0, runbook.onFailure.indexOf(step))];
}
