import * as z from 'zod';
import { outputsOf, type ActionDefinition, type Outputs, type OutputType } from '../actions/action.js';
import type { FieldSpec, LiteralValue, ValueType } from '../actions/fields.js';
import { ACTION_NAMES, findAction } from '../actions/index.js';
import type { Diagnostic, Severity } from '../diagnostics.js';
import { compileParamPattern } from './pattern.js';
import { locate, type PathSegment, type RunbookDocument } from './document.js';
import type { FieldValue, Runbook, Step, StepPhase } from './model.js';
import { ParamSchema, PARAM_NAME_PATTERN, parseDuration, runbookHeaderShape, StepBaseSchema, type ParamDefinition, type StepBase } from './schema.js';
import { didYouMean } from './suggest.js';
import { containsTemplate, formatReference, parseTemplate, soleReference, type Reference, type TemplatePart } from './template.js';

export interface ValidationResult {
  /** The runbook, or as much of it as is valid (lint rules run on this). */
  readonly runbook: Runbook;
  readonly diagnostics: Diagnostic[];
}

const HeaderSchema = z.strictObject({ ...runbookHeaderShape, params: z.unknown().optional(), steps: z.unknown(), onFailure: z.unknown().optional() });
const RUNBOOK_KEYS = ['version', 'name', 'description', 'params', 'steps', 'onFailure'];
const STEP_KEYS = Object.keys(StepBaseSchema.shape);
const PARAM_KEYS: Record<string, string[]> = Object.fromEntries(ParamSchema.options.map((option) => [option.shape.type.value, Object.keys(option.shape)]));

/** Checks a parsed runbook against the schema, every action's fields, and every template reference. */
export function validateRunbook(document: RunbookDocument): ValidationResult {
  return new Validator(document).run();
}

interface StepEntry {
  readonly phase: StepPhase;
  readonly order: number;
  readonly action: ActionDefinition;
  readonly outputs: Outputs;
}

class Validator {
  private readonly diagnostics: Diagnostic[] = [];
  private readonly params = new Map<string, ParamDefinition>();
  /** Every valid step id, for references; order counts main steps first, then onFailure. */
  private readonly stepsById = new Map<string, StepEntry>();

  constructor(private readonly document: RunbookDocument) {}

  run(): ValidationResult {
    const data = this.document.data;
    const empty: Runbook = { file: this.document.file, name: '', description: undefined, params: this.params, steps: [], onFailure: [], text: this.document.text };
    if (!isRecord(data)) {
      this.report([], 'error', 'wrong-type', 'a runbook is a YAML mapping with version, name, params and steps', 'start from runbooks/renew-certificate.yaml');
      return { runbook: empty, diagnostics: this.diagnostics };
    }
    const header = HeaderSchema.safeParse(data);
    if (!header.success) this.reportIssues(header.error.issues, [], data);

    this.collectParams(data['params']);
    const rawSteps = this.stepList(data['steps'], 'steps', true);
    const rawOnFailure = data['onFailure'] === undefined ? [] : this.stepList(data['onFailure'], 'onFailure', false);

    // First pass: step shapes and ids, so references can point forward and backward.
    const shaped = [...rawSteps.map((raw, i) => this.shapeStep(raw, 'steps', i, i)), ...rawOnFailure.map((raw, i) => this.shapeStep(raw, 'onFailure', i, rawSteps.length + i))];
    const seen = new Map<string, PathSegment[]>();
    const checked: ShapedStep[] = [];
    for (const step of shaped) {
      if (!step) continue;
      const previous = seen.get(step.id);
      if (previous) {
        const first = locate(this.document, previous);
        this.report([...step.path, 'id'], 'error', 'duplicate-step-id', `duplicate step id '${step.id}' (first used on line ${first.line})`, 'give every step its own id');
        // Its fields are still checked; references to the id mean the first step.
        checked.push({ ...step, invalid: true });
        continue;
      }
      seen.set(step.id, step.path);
      this.stepsById.set(step.id, { phase: step.phase, order: step.order, action: step.action, outputs: step.outputs });
      checked.push(step);
    }

    // Second pass: fields, templates and references.
    const steps: Step[] = [];
    const onFailure: Step[] = [];
    for (const step of checked) {
      const built = this.buildStep(step);
      if (built) (built.phase === 'steps' ? steps : onFailure).push(built);
    }
    const runbook: Runbook = {
      ...empty,
      name: header.success ? header.data.name : typeof data['name'] === 'string' ? data['name'] : '',
      description: typeof data['description'] === 'string' ? data['description'] : undefined,
      steps,
      onFailure,
    };
    return { runbook, diagnostics: this.diagnostics };
  }

  private collectParams(raw: unknown): void {
    if (raw === undefined || raw === null) return;
    if (!isRecord(raw)) {
      this.report(['params'], 'error', 'wrong-type', 'params must be a mapping of parameter names to definitions');
      return;
    }
    for (const [name, definition] of Object.entries(raw)) {
      if (!PARAM_NAME_PATTERN.test(name)) {
        this.report(['params', name], 'error', 'invalid-value', `parameter name '${name}' must be letters, digits and _ (starting with a letter)`, undefined, { key: true });
        continue;
      }
      const parsed = ParamSchema.safeParse(definition);
      if (!parsed.success) {
        this.reportIssues(parsed.error.issues, ['params', name], definition);
        continue;
      }
      this.checkParamDefault(name, parsed.data);
      this.params.set(name, parsed.data);
    }
  }

  private checkParamDefault(name: string, param: ParamDefinition): void {
    const path = ['params', name, 'default'];
    if (param.type === 'secret') {
      if (param.default !== undefined) {
        this.report(path, 'error', 'plaintext-secret', `secret '${name}' has a default: its value would be written in the runbook`, `remove the default and set the environment variable ${param.env} at run time`);
      }
      return;
    }
    if (param.default === undefined) return;
    const problem = checkParamValue(param, param.default);
    if (problem) this.report(path, 'error', 'invalid-value', `default of '${name}' ${problem}`);
  }

  private stepList(raw: unknown, phase: StepPhase, required: boolean): unknown[] {
    if (raw === undefined || raw === null) {
      if (required) this.report([], 'error', 'missing-field', "missing required field 'steps'", 'add a steps: list');
      return [];
    }
    if (!Array.isArray(raw)) {
      this.report([phase], 'error', 'wrong-type', `${phase} must be a list of steps`);
      return [];
    }
    if (required && raw.length === 0) this.report([phase], 'error', 'missing-field', 'a runbook needs at least one step');
    return raw;
  }

  /** Validates a step's common fields and action; undefined when it cannot be used further. */
  /**
   * Validates a step's common fields and action; undefined when it cannot be
   * used further. A step whose common fields have errors is still shaped (from
   * the fields that are valid) so its `with` and references get checked too,
   * but it is marked invalid and left out of the runbook.
   */
  private shapeStep(raw: unknown, phase: StepPhase, index: number, order: number): ShapedStep | undefined {
    const path: PathSegment[] = [phase, index];
    const parsed = StepBaseSchema.safeParse(raw);
    let base: StepBase;
    if (parsed.success) {
      base = parsed.data;
    } else {
      this.reportIssues(parsed.error.issues, path, raw);
      const lenient = lenientStepBase(raw);
      if (!lenient) return undefined;
      base = lenient;
    }
    const action = findAction(base.action);
    if (!action) {
      const hint = didYouMean(base.action, ACTION_NAMES);
      this.report([...path, 'action'], 'error', 'unknown-action', `unknown action '${base.action}'`, hint || 'run `exch-cert actions` for the list');
      return undefined;
    }
    const rawWith = base.with ?? {};
    return { phase, index, path, base, action, rawWith, id: base.id, outputs: outputsOf(action, rawWith), invalid: !parsed.success, order };
  }

  private buildStep(shaped: ShapedStep): Step | undefined {
    const { base, action, path, rawWith } = shaped;
    const withPath = [...path, 'with'];
    const values = new Map<string, FieldValue>();
    let valid = true;
    for (const [key, value] of Object.entries(rawWith)) {
      const spec = action.fields[key];
      if (!spec) {
        const hint = didYouMean(key, Object.keys(action.fields));
        this.report([...withPath, key], 'error', 'unknown-key', `unknown key '${key}' for action ${action.name}`, hint || `${action.name} takes: ${Object.keys(action.fields).join(', ')}`, { key: true });
        valid = false;
        continue;
      }
      const fieldValue = this.fieldValue(shaped, key, spec, value, [...withPath, key]);
      if (fieldValue) values.set(key, fieldValue);
      else valid = false;
    }
    for (const [key, spec] of Object.entries(action.fields)) {
      if (spec.required && !(key in rawWith)) {
        this.report(base.with ? withPath : path, 'error', 'missing-field', `missing required field '${key}' for action ${action.name}`, spec.description, { key: true });
        valid = false;
      }
    }
    const crossFieldProblem = action.checkFields?.(rawWith);
    if (crossFieldProblem) {
      this.report(base.with ? withPath : path, 'error', 'invalid-value', crossFieldProblem, undefined, { key: true });
      valid = false;
    }
    const when = this.whenValue(shaped);
    if (!valid || when === null || shaped.invalid) return undefined;
    return {
      phase: shaped.phase,
      index: shaped.index,
      id: base.id,
      title: base.title,
      action,
      with: values,
      rawWith,
      outputs: shaped.outputs,
      when,
      timeoutMs: base.timeout === undefined ? undefined : parseDuration(base.timeout),
      retries: base.retries ?? 0,
      retryDelayMs: base.retryDelay === undefined ? 0 : (parseDuration(base.retryDelay) ?? 0),
      continueOnError: base.continueOnError ?? false,
      commit: base.commit ?? false,
      confirm: base.confirm ?? false,
      path,
    };
  }

  /** Parses and type-checks one `with` value; undefined (after reporting) when invalid. */
  private fieldValue(step: ShapedStep, key: string, spec: FieldSpec, value: unknown, path: PathSegment[]): FieldValue | undefined {
    if (spec.type === 'map') return this.mapValue(step, value, path);
    if (typeof value === 'string' && containsTemplate(value)) {
      const parts = this.parseTemplateAt(value, path);
      if (!parts) return undefined;
      return this.checkTemplate(step, parts, spec.type, spec.planTime, path, `field '${key}'`) ? { kind: 'template', parts } : undefined;
    }
    if (spec.type === 'list' && Array.isArray(value) && value.some((item) => typeof item === 'string' && containsTemplate(item))) {
      return this.listWithTemplates(step, key, spec, value, path);
    }
    if (spec.type === 'secret') {
      this.report(path, 'error', 'plaintext-secret', `'${key}' is a secret and cannot be written in the runbook`, "declare a param with type: secret and env: VARIABLE, and pass it as ${{ params.NAME }}");
      return undefined;
    }
    const parsed = spec.schema.safeParse(value);
    if (!parsed.success) {
      this.reportIssues(parsed.error.issues, path, value);
      return undefined;
    }
    return { kind: 'literal', value: parsed.data as LiteralValue };
  }

  /** A list with templates in its items: each item is text, so each template must yield a string. */
  private listWithTemplates(step: ShapedStep, key: string, spec: FieldSpec, value: unknown[], path: PathSegment[]): FieldValue | undefined {
    const items: FieldValue[] = [];
    let valid = true;
    value.forEach((item, index) => {
      const itemPath = [...path, index];
      if (typeof item !== 'string') {
        this.report(itemPath, 'error', 'wrong-type', `item ${index + 1} of '${key}' should be a string, not ${describeType(item)}`);
        valid = false;
        return;
      }
      if (!containsTemplate(item)) {
        items.push({ kind: 'literal', value: item });
        return;
      }
      const parts = this.parseTemplateAt(item, itemPath);
      if (parts && this.checkTemplate(step, parts, 'string', spec.planTime, itemPath, `item ${index + 1} of '${key}'`)) items.push({ kind: 'template', parts });
      else valid = false;
    });
    return valid ? { kind: 'list', items } : undefined;
  }

  private mapValue(step: ShapedStep, value: unknown, path: PathSegment[]): FieldValue | undefined {
    if (!isRecord(value)) {
      this.report(path, 'error', 'wrong-type', `expected a mapping of names to values, got ${describeType(value)}`);
      return undefined;
    }
    const entries: Array<readonly [string, FieldValue]> = [];
    let valid = true;
    for (const [name, entry] of Object.entries(value)) {
      const entryPath = [...path, name];
      if (!PARAM_NAME_PATTERN.test(name)) {
        this.report(entryPath, 'error', 'invalid-value', `argument name '${name}' must be letters, digits and _`, undefined, { key: true });
        valid = false;
      } else if (typeof entry === 'string' && containsTemplate(entry)) {
        const parts = this.parseTemplateAt(entry, entryPath);
        if (parts && this.checkTemplate(step, parts, 'map', false, entryPath, `argument '${name}'`)) entries.push([name, { kind: 'template', parts }]);
        else valid = false;
      } else if (isLiteral(entry)) {
        entries.push([name, { kind: 'literal', value: entry }]);
      } else {
        this.report(entryPath, 'error', 'wrong-type', `argument '${name}' must be a string, number, boolean or list of strings, got ${describeType(entry)}`);
        valid = false;
      }
    }
    return valid ? { kind: 'map', entries } : undefined;
  }

  private whenValue(step: ShapedStep): boolean | Reference[] | undefined | null {
    const raw = step.base.when;
    if (raw === undefined || typeof raw === 'boolean') return raw;
    const items = typeof raw === 'string' ? [raw] : raw;
    const refs: Reference[] = [];
    for (const [index, item] of items.entries()) {
      const path = typeof raw === 'string' ? [...step.path, 'when'] : [...step.path, 'when', index];
      const parts = this.parseTemplateAt(item, path);
      if (!parts) return null;
      const ref = soleReference(parts);
      if (!ref || !this.checkTemplate(step, parts, 'boolean', false, path, 'when')) return null;
      refs.push(ref);
    }
    return refs;
  }

  private parseTemplateAt(value: string, path: PathSegment[]): readonly TemplatePart[] | undefined {
    const parsed = parseTemplate(value);
    if (!parsed.ok) {
      this.report(path, 'error', 'invalid-template', parsed.error.message);
      return undefined;
    }
    return parsed.parts;
  }

  /**
   * Checks every reference exists and comes earlier, and that the value's type
   * fits: a sole template keeps the referenced type, text with templates is a string.
   */
  private checkTemplate(step: ShapedStep, parts: readonly TemplatePart[], expected: ValueType, planTime: boolean, path: PathSegment[], what: string): boolean {
    let ok = true;
    const sole = soleReference(parts);
    for (const part of parts) {
      if (part.kind !== 'ref') continue;
      const type = this.referenceType(step, part.ref, path);
      if (type === undefined) {
        ok = false;
        continue;
      }
      if (part.ref.kind === 'output' && planTime) {
        this.report(path, 'error', 'wrong-type', `${what} must be known before the run starts, so it cannot come from ${formatReference(part.ref)}`, 'use a literal or a param');
        ok = false;
        continue;
      }
      if (type === 'secret' && !(sole && expected === 'secret')) {
        this.report(path, 'error', 'secret-misuse', `secret ${formatReference(part.ref)} can only be passed to a field that takes a secret, not to ${what}`, 'secrets never appear in the generated script; only password fields accept them');
        ok = false;
        continue;
      }
      if (sole) {
        if (!typeFits(expected, type)) {
          this.report(path, 'error', 'wrong-type', `${what} expects ${article(expected)}, but ${formatReference(part.ref)} is ${article(type)}`);
          ok = false;
        }
      } else if (type === 'list') {
        this.report(path, 'error', 'wrong-type', `list ${formatReference(part.ref)} cannot be placed inside text`, 'use the template on its own as the whole value');
        ok = false;
      }
    }
    if (!sole && ok && expected !== 'string' && expected !== 'map') {
      const hint = expected === 'secret' ? "use exactly '${{ params.NAME }}' of a secret param" : 'use one template as the whole value';
      this.report(path, 'error', expected === 'secret' ? 'plaintext-secret' : 'wrong-type', `${what} expects ${article(expected)}, but text with templates is a string`, hint);
      ok = false;
    }
    return ok;
  }

  /** The type a reference yields, or undefined after reporting why it is not valid here. */
  private referenceType(step: ShapedStep, ref: Reference, path: PathSegment[]): ValueType | OutputType | undefined {
    if (ref.kind === 'param') {
      const param = this.params.get(ref.name);
      if (!param) {
        const hint = didYouMean(ref.name, this.params.keys());
        this.report(path, 'error', 'unknown-reference', `unknown param '${ref.name}' in ${formatReference(ref)}`, hint || 'declare it under params:');
        return undefined;
      }
      return param.type;
    }
    const target = this.stepsById.get(ref.step);

    if (!target) {
      const hint = didYouMean(ref.step, this.stepsById.keys());
      this.report(path, 'error', 'unknown-reference', `unknown step '${ref.step}' in ${formatReference(ref)}`, hint || 'refer to the id of an earlier step');
      return undefined;
    }
    if (target.order >= step.order) {
      const which = ref.step === step.id ? 'its own outputs' : `step '${ref.step}', which runs later`;
      this.report(path, 'error', 'forward-reference', `step '${step.id}' reads ${which}`, 'a step can only read outputs of steps before it');
      return undefined;
    }
    if (target.phase === 'onFailure' && step.phase === 'steps') {
      this.report(path, 'error', 'forward-reference', `step '${step.id}' reads onFailure step '${ref.step}'`, 'main steps cannot read rollback steps');
      return undefined;
    }
    const output = target.outputs[ref.name];
    if (!output) {
      const names = Object.keys(target.outputs);
      const hint = didYouMean(ref.name, names);
      this.report(
        path,
        'error',
        'unknown-reference',
        `step '${ref.step}' (${target.action.name}) has no output '${ref.name}'`,
        hint || (names.length > 0 ? `its outputs: ${names.join(', ')}` : `${target.action.name} has no outputs`),
      );
      return undefined;
    }
    return output.type;
  }

  private reportIssues(issues: readonly z.core.$ZodIssue[], base: PathSegment[], value: unknown): void {
    for (const issue of issues) {
      const path = [...base, ...(issue.path as PathSegment[])];
      const relative = issue.path as PathSegment[];
      if (issue.code === 'unrecognized_keys') {
        const allowed = this.allowedKeys(path, valueAt(value, relative));
        for (const key of issue.keys) {
          const hint = didYouMean(key, allowed);
          this.report([...path, key], 'error', 'unknown-key', `unknown key '${key}'`, hint || (allowed.length > 0 ? `allowed keys: ${allowed.join(', ')}` : undefined), { key: true });
        }
        continue;
      }
      const actual = valueAt(value, relative);
      const key = path[path.length - 1];
      if (issue.code === 'invalid_type' && actual === undefined) {
        this.report(path.slice(0, -1), 'error', 'missing-field', `missing required field '${String(key)}'`, undefined, { key: true });
      } else if (issue.code === 'invalid_type') {
        this.report(path, 'error', 'wrong-type', `${describeKey(key)} should be ${article(issue.expected)}, not ${describeType(actual)}`);
      } else if (issue.code === 'invalid_union' && 'discriminator' in issue && issue.discriminator === 'type') {
        this.report(path, 'error', 'invalid-value', `unknown param type ${JSON.stringify(actual)}`, `use one of: ${Object.keys(PARAM_KEYS).join(', ')}`);
      } else if (key === 'timeout' || key === 'retryDelay') {
        this.report(path, 'error', 'bad-duration', `${String(key)}: ${issue.message}`, 'write a whole number and a unit: 500ms, 90s, 10m or 1h');
      } else if (key === 'version' && path.length === 1) {
        this.report(path, 'error', 'unsupported-version', `unsupported runbook version ${JSON.stringify(actual)}`, 'this exch-cert reads version: 1');
      } else {
        this.report(path, 'error', 'invalid-value', `${describeKey(key)}: ${issue.message}`);
      }
    }
  }

  private allowedKeys(path: readonly PathSegment[], value: unknown): string[] {
    if (path.length === 0) return RUNBOOK_KEYS;
    if (path.length === 2 && path[0] === 'params') return PARAM_KEYS[isRecord(value) ? String(value['type']) : ''] ?? [];
    if (path.length === 2 && (path[0] === 'steps' || path[0] === 'onFailure')) return STEP_KEYS;
    return [];
  }

  private report(path: readonly PathSegment[], severity: Severity, ruleId: string, message: string, hint?: string, options: { key?: boolean } = {}): void {
    const span = locate(this.document, path, options);
    this.diagnostics.push({ file: this.document.file, ...span, severity, message, ruleId, ...(hint ? { hint } : {}) });
  }
}

interface ShapedStep {
  readonly phase: StepPhase;
  readonly index: number;
  readonly path: PathSegment[];
  readonly id: string;
  readonly base: StepBase;
  readonly action: ActionDefinition;
  readonly rawWith: Readonly<Record<string, unknown>>;
  readonly outputs: Outputs;
  /** Its common fields had errors, or its id is taken (already reported): check it, but leave it out of the runbook. */
  readonly invalid: boolean;
  /** Position among all steps, main steps first: a step may read only outputs of steps before it. */
  readonly order: number;
}

/** The valid parts of a step whose common fields failed validation, when it has an id and an action to go on. */
function lenientStepBase(raw: unknown): StepBase | undefined {
  if (!isRecord(raw) || typeof raw['id'] !== 'string' || typeof raw['action'] !== 'string') return undefined;
  const shape = StepBaseSchema.shape;
  const pick = <T>(schema: z.ZodType<T>, value: unknown): T | undefined => {
    const result = schema.safeParse(value);
    return result.success ? result.data : undefined;
  };
  const rawWith = pick(shape.with, raw['with']);
  const when = pick(shape.when, raw['when']);
  return { id: raw['id'], action: raw['action'], ...(rawWith ? { with: rawWith } : {}), ...(when !== undefined ? { when } : {}) };
}

/** Whether a parameter value satisfies its pattern and enum; a problem description otherwise. */
export function checkParamValue(param: ParamDefinition, value: unknown): string | undefined {
  const matches = (text: string): boolean => {
    if (param.type !== 'string' && param.type !== 'list') return true;
    if (param.pattern === undefined) return true;
    const compiled = compileParamPattern(param.pattern);
    return compiled.ok && compiled.matches(text);
  };
  if (param.type === 'string' && typeof value === 'string') {
    if (!matches(value)) return `does not match the pattern ${param.pattern ?? ''}`;
    if (param.enum && !param.enum.includes(value)) return `must be one of: ${param.enum.join(', ')}`;
  }
  if (param.type === 'number' && typeof value === 'number' && param.enum && !param.enum.includes(value)) return `must be one of: ${param.enum.join(', ')}`;
  if (param.type === 'list' && Array.isArray(value)) {
    for (const item of value as string[]) {
      if (!matches(item)) return `has item '${item}', which does not match the pattern ${param.pattern ?? ''}`;
      if (param.enum && !param.enum.includes(item)) return `has item '${item}'; items must be among: ${param.enum.join(', ')}`;
    }
  }
  return undefined;
}

function typeFits(expected: ValueType, actual: ValueType | OutputType): boolean {
  if (expected === 'map') return actual !== 'secret' && actual !== 'map';
  return expected === actual;
}

function article(type: string): string {
  const names: Record<string, string> = {
    string: 'a string',
    number: 'a number',
    boolean: 'a boolean',
    list: 'a list',
    secret: 'a secret',
    map: 'a mapping',
    object: 'a mapping',
    array: 'a list',
  };
  return names[type] ?? type;
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '...' : value)}`;
  return `${typeof value} ${JSON.stringify(value)}`;
}

function describeKey(key: PathSegment | undefined): string {
  if (key === undefined) return 'value';
  return typeof key === 'number' ? `item ${key + 1}` : `'${key}'`;
}

function valueAt(value: unknown, path: readonly PathSegment[]): unknown {
  let current = value;
  for (const segment of path) {
    if (Array.isArray(current) && typeof segment === 'number') current = current[segment];
    else if (isRecord(current)) current = current[String(segment)];
    else return undefined;
  }
  return current;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isLiteral(value: unknown): value is LiteralValue {
  return (
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value)) ||
    (Array.isArray(value) && value.every((item) => typeof item === 'string' && !containsTemplate(item)))
  );
}
