import { createHash } from 'node:crypto';
import { exchangeCmdletsOf, type LocalInvocation } from '../actions/action.js';
import { NO_CONTROL_CHARACTERS, type FieldSpec, type LiteralValue } from '../actions/fields.js';
import { ActionInput, outputExpression, type BoundValue } from '../actions/input.js';
import { InputError } from '../errors.js';
import { psString } from '../powershell/quote.js';
import { commentText, indent, lines } from '../powershell/script.js';
import type { FieldValue, Runbook, Step } from '../runbook/model.js';
import { formatReference, type OutputReference, type Reference, type TemplatePart } from '../runbook/template.js';
import type { ParamValue } from './params.js';
import type { Connection } from './connection.js';
import { renderEpilogue, renderPrologue, type SecretSource } from './prologue.js';

/** Bumped when the shape of a Plan changes (it is printed by `--json` and kept in journals). */
export const PLAN_FORMAT_VERSION = 1;

/** One step of a plan: its exact PowerShell and how exch-cert runs it. */
export interface PlannedStep {
  readonly phase: 'steps' | 'onFailure';
  readonly id: string;
  /** 1-based position and count within its phase, as in the `# [2/9]` header. */
  readonly position: number;
  readonly total: number;
  readonly title: string;
  readonly action: string;
  readonly changes: boolean;
  readonly destructive: boolean;
  /** Ask before running: destructive actions and steps with confirm: true. */
  readonly confirm: boolean;
  /** Why the step will not run, when that is known now (a `when` that is false). */
  readonly skipped?: string;
  /** The PowerShell sent for this step, header comment included; empty when skipped. */
  readonly script: string;
  /** Earlier outputs this step reads at run time. */
  readonly reads: readonly string[];
  readonly outputs: readonly string[];
  /** The Exchange cmdlets its block calls (imported from the Exchange session). */
  readonly exchangeCmdlets: readonly string[];
  readonly timeoutMs?: number;
  readonly retries: number;
  readonly retryDelayMs: number;
  readonly continueOnError: boolean;
  /** Once this step succeeds, a later failure no longer runs onFailure. */
  readonly commit: boolean;
  /** Run-time conditions (outputs of earlier steps), any one true to run; empty: always. */
  readonly when: readonly { readonly step: string; readonly name: string }[];
  /** A step exch-cert runs itself (its script is only comments); absent for PowerShell steps. */
  readonly local?: LocalInvocation;
}

export interface PlannedParam {
  readonly name: string;
  readonly type: string;
  /** Absent for secrets and unset params. */
  readonly value?: LiteralValue;
  readonly source: 'var' | 'default' | 'environment' | 'unset';
  /** For secrets: the environment variable read at run time. */
  readonly env?: string;
}

/** Everything a run needs, computed without touching PowerShell. The dry run prints it; execution sends it. */
export interface Plan {
  readonly formatVersion: typeof PLAN_FORMAT_VERSION;
  readonly tool: { readonly name: 'exch-cert'; readonly version: string };
  readonly runbook: { readonly name: string; readonly file: string; readonly description?: string; readonly sha256: string };
  readonly connection: Connection;
  readonly params: readonly PlannedParam[];
  /** Secrets the prologue reads from the environment (names only). */
  readonly secrets: readonly SecretSource[];
  /** Every Exchange cmdlet the steps call: exactly these are imported from the Exchange session. */
  readonly exchangeCmdlets: readonly string[];
  readonly prologue: string;
  readonly steps: readonly PlannedStep[];
  readonly onFailure: readonly PlannedStep[];
  readonly epilogue: string;
  /** Values known only at run time: the expression the script uses and where it comes from. */
  readonly runtimeValues: ReadonlyArray<{ readonly reference: string; readonly expression: string }>;
}

export interface CompileOptions {
  readonly connection: Connection;
  readonly toolVersion: string;
}

/** Compiles a validated runbook and bound params into a plan. Pure. */
export function compilePlan(runbook: Runbook, params: ReadonlyMap<string, ParamValue>, options: CompileOptions): Plan {
  const problems: string[] = [];
  const secrets = new Map<string, SecretSource>();
  const runtime = new Map<string, OutputReference>();
  const compileAll = (steps: readonly Step[]): PlannedStep[] => steps.map((step) => compileStep(step, steps.length, params, { problems, secrets, runtime }));
  const steps = compileAll(runbook.steps);
  const onFailure = compileAll(runbook.onFailure);
  if (problems.length > 0) throw new InputError(problems.join('\n'));
  const secretList = [...secrets.values()];
  const exchangeCmdlets = [...new Set([...steps, ...onFailure].flatMap((step) => step.exchangeCmdlets))].sort();
  return {
    formatVersion: PLAN_FORMAT_VERSION,
    tool: { name: 'exch-cert', version: options.toolVersion },
    runbook: {
      name: runbook.name,
      file: runbook.file,
      ...(runbook.description !== undefined ? { description: runbook.description } : {}),
      sha256: createHash('sha256').update(runbook.text).digest('hex'),
    },
    connection: options.connection,
    params: [...runbook.params].map(([name, definition]) => plannedParam(name, definition.type, params.get(name))),
    secrets: secretList,
    exchangeCmdlets,
    prologue: renderPrologue(options.connection, secretList, exchangeCmdlets),
    steps,
    onFailure,
    epilogue: renderEpilogue(),
    runtimeValues: [...runtime.values()].map((ref) => ({ reference: formatReference(ref), expression: outputExpression(ref) })),
  };
}

function plannedParam(name: string, type: string, value: ParamValue | undefined): PlannedParam {
  if (value?.kind === 'secret') return { name, type, source: 'environment', env: value.env };
  if (value?.kind === 'value') return { name, type, value: value.value, source: value.source };
  return { name, type, source: 'unset' };
}

interface CompileState {
  readonly problems: string[];
  readonly secrets: Map<string, SecretSource>;
  readonly runtime: Map<string, OutputReference>;
}

function compileStep(step: Step, total: number, params: ReadonlyMap<string, ParamValue>, state: CompileState): PlannedStep {
  const bound = new Map<string, BoundValue>();
  const reads = new Set<string>();
  const where = `step ${step.id}`;
  const problemsBefore = state.problems.length;
  for (const [name, spec] of Object.entries(step.action.fields)) {
    const value = step.with.get(name);
    const result = value === undefined ? defaultValue(spec) : bindValue(value, params, `${where}, field ${name}`, state.problems);
    if (result === undefined) {
      if (value !== undefined && spec.required) state.problems.push(`${where}: field ${name} is required, but its param has no value`);
      continue;
    }
    const problem = checkBound(result, spec);
    if (problem) {
      state.problems.push(`${where}: field ${name} ${problem}`);
      continue;
    }
    collect(result, reads, state);
    bound.set(name, result);
  }
  const input = new ActionInput(bound);
  const base = {
    phase: step.phase,
    id: step.id,
    position: step.index + 1,
    total,
    action: step.action.name,
    changes: step.action.changes,
    destructive: step.action.destructive,
    confirm: step.action.destructive || step.confirm,
    outputs: Object.keys(step.outputs),
    exchangeCmdlets: [] as readonly string[],
    ...(step.timeoutMs !== undefined ? { timeoutMs: step.timeoutMs } : {}),
    retries: step.retries,
    retryDelayMs: step.retryDelayMs,
    continueOnError: step.continueOnError,
    commit: step.commit,
    when: [] as ReadonlyArray<{ readonly step: string; readonly name: string }>,
  };
  // A field that failed to bind leaves the action unable to compile; the problem is already listed.
  if (state.problems.length > problemsBefore) return { ...base, title: step.title ?? step.action.name, script: '', reads: [...reads] };
  const title = step.title ?? step.action.title(input);

  const skipReason = planTimeSkip(step.when, params);
  if (skipReason) return { ...base, title, skipped: skipReason, script: '', reads: [...reads] };
  const exchangeCmdlets = exchangeCmdletsOf(step.action, input);
  const when = runtimeWhen(step.when, params);
  for (const ref of when) {
    reads.add(formatReference(ref));
    state.runtime.set(formatReference(ref), ref);
  }
  const header = stepHeader(step, base.position, total, title, [...reads]);
  if (step.action.local) {
    // Run by exch-cert itself, not by PowerShell: the block says exactly what, as comments.
    const local = step.action.local(input);
    const condition = when.length > 0 ? [`#   runs when: ${when.map(formatReference).join(' or ')}`] : [];
    return { ...base, title, script: lines(header, ...condition, step.action.compile(input)), reads: [...reads], exchangeCmdlets: [], when: when.map((ref) => ({ step: ref.step, name: ref.name })), local };
  }
  const invocation = [`Invoke-ExchCertStep -Id ${psString(step.id)}`];
  if (!step.action.changes) invocation.push('-ReadOnly');
  if (step.action.runsOn === 'exchange' || exchangeCmdlets.length > 0) invocation.push('-Exchange');
  if (when.length > 0) invocation.push(`-When { ${when.map((ref) => `(Test-ExchCertOutput -Step ${psString(ref.step)} -Name ${psString(ref.name)})`).join(' -or ')} }`);
  invocation.push('-Body {');
  const body = step.action.compile(input);
  const script = lines(header, invocation.join(' '), step.action.verbatimBody ? body : indent(body), '}');
  return { ...base, title, script, reads: [...reads], exchangeCmdlets, when: when.map((ref) => ({ step: ref.step, name: ref.name })) };
}

function stepHeader(step: Step, position: number, total: number, title: string, reads: readonly string[]): string {
  const label = step.phase === 'steps' ? `[${position}/${total}]` : `[onFailure ${position}/${total}]`;
  const policy: string[] = [];
  if (step.timeoutMs !== undefined) policy.push(`timeout ${formatDuration(step.timeoutMs)}`);
  if (step.retries > 0) policy.push(`${step.retries} ${step.retries === 1 ? 'retry' : 'retries'}${step.retryDelayMs > 0 ? `, ${formatDuration(step.retryDelayMs)} apart` : ''}`);
  if (step.continueOnError) policy.push('continues on error');
  if (step.commit) policy.push('commits: once it succeeds, later failures do not roll back');
  if (step.action.destructive || step.confirm) policy.push(`asks for confirmation${step.action.destructive ? ' (destructive)' : ''}`);
  return lines(
    `# ${label} ${step.id}: ${commentText(title)}`,
    reads.length > 0 && `#   known at run time: ${reads.join(', ')}`,
    policy.length > 0 && `#   exch-cert: ${policy.join('; ')}`,
  );
}

function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/**
 * Why a step will not run, when the params already tell: `when: false`, or conditions that are all
 * params that are false or unset. A param that is true makes the step run whatever else is listed.
 */
function planTimeSkip(when: Step['when'], params: ReadonlyMap<string, ParamValue>): string | undefined {
  if (when === false) return 'when: false';
  if (when === undefined || when === true) return undefined;
  if (when.some((ref) => ref.kind === 'output' || paramIsTrue(ref, params))) return undefined;
  return when
    .map((ref) => (ref.kind === 'param' ? `params.${ref.name} is ${params.get(ref.name)?.kind === 'value' ? 'false' : 'not set'}` : ''))
    .map((reason) => `when: ${reason}`)
    .join('; ');
}

/** The conditions left for run time: output references, unless a param that is true already decides. */
function runtimeWhen(when: Step['when'], params: ReadonlyMap<string, ParamValue>): OutputReference[] {
  if (when === undefined || typeof when === 'boolean') return [];
  if (when.some((ref) => paramIsTrue(ref, params))) return [];
  return when.filter((ref): ref is OutputReference => ref.kind === 'output');
}

function paramIsTrue(ref: Reference, params: ReadonlyMap<string, ParamValue>): boolean {
  if (ref.kind !== 'param') return false;
  const value = params.get(ref.name);
  return value?.kind === 'value' && value.value !== false;
}

function defaultValue(spec: FieldSpec): BoundValue | undefined {
  return spec.default === undefined ? undefined : { kind: 'literal', value: spec.default };
}

/** Resolves params in a field value; output references stay for run time. Undefined when an optional param is unset. */
function bindValue(value: FieldValue, params: ReadonlyMap<string, ParamValue>, where: string, problems: string[]): BoundValue | undefined {
  switch (value.kind) {
    case 'literal':
      return value;
    case 'list': {
      const items = value.items.map((item) => bindValue(item, params, where, problems));
      if (items.some((item) => item === undefined)) {
        problems.push(`${where}: a list item refers to a param that has no value`);
        return undefined;
      }
      const bound = items as BoundValue[];
      return bound.every((item) => item.kind === 'literal')
        ? { kind: 'literal', value: bound.map((item) => String((item as { value: LiteralValue }).value)) }
        : { kind: 'list', items: bound };
    }
    case 'map': {
      const entries: Array<readonly [string, BoundValue]> = [];
      for (const [key, entry] of value.entries) {
        const bound = bindValue(entry, params, `${where}.${key}`, problems);
        if (bound) entries.push([key, bound]);
      }
      return { kind: 'map', entries };
    }
    case 'template':
      return bindTemplate(value.parts, params, where, problems);
  }
}

function bindTemplate(parts: readonly TemplatePart[], params: ReadonlyMap<string, ParamValue>, where: string, problems: string[]): BoundValue | undefined {
  const sole = parts.length === 1 && parts[0]?.kind === 'ref' ? parts[0].ref : undefined;
  if (sole) return bindReference(sole, params, where, problems, true);
  const pieces: Array<string | OutputReference> = [];
  for (const part of parts) {
    if (part.kind === 'text') {
      pushText(pieces, part.text);
      continue;
    }
    const bound = bindReference(part.ref, params, where, problems, false);
    if (bound === undefined) return undefined;
    if (bound.kind === 'literal') pushText(pieces, String(bound.value));
    else if (bound.kind === 'runtime') {
      for (const piece of bound.parts) {
        if (typeof piece === 'string') pushText(pieces, piece);
        else pieces.push(piece);
      }
    }
  }
  return pieces.every((piece) => typeof piece === 'string') ? { kind: 'literal', value: pieces.join('') } : { kind: 'runtime', type: 'string', parts: pieces };
}

function pushText(pieces: Array<string | OutputReference>, text: string): void {
  const last = pieces[pieces.length - 1];
  if (typeof last === 'string') pieces[pieces.length - 1] = last + text;
  else pieces.push(text);
}

function bindReference(ref: Reference, params: ReadonlyMap<string, ParamValue>, where: string, problems: string[], sole: boolean): BoundValue | undefined {
  if (ref.kind === 'output') return { kind: 'runtime', type: 'string', parts: [ref] };
  const value = params.get(ref.name);
  if (value === undefined || value.kind === 'unset') {
    if (!sole) problems.push(`${where}: params.${ref.name} has no value; pass --var ${ref.name}=VALUE`);
    return undefined;
  }
  if (value.kind === 'secret') return { kind: 'secret', param: ref.name, env: value.env };
  return { kind: 'literal', value: value.value };
}

/**
 * Validates a value that is known now against the field's schema. Of text
 * assembled at run time, only the literal parts are known: they must at
 * least hold no control characters where the field forbids them.
 */
function checkBound(value: BoundValue, spec: FieldSpec): string | undefined {
  if (value.kind === 'runtime' && spec.type === 'string' && !spec.multiline) {
    const text = value.parts.filter((part): part is string => typeof part === 'string').join('');
    return NO_CONTROL_CHARACTERS.test(text) ? undefined : `got ${JSON.stringify(text)}: must not contain control characters such as line breaks`;
  }
  if (value.kind !== 'literal' || spec.type === 'map') return undefined;
  const parsed = spec.schema.safeParse(value.value);
  if (parsed.success) return undefined;
  const issue = parsed.error.issues[0];
  const item = issue?.path.length ? ` (item ${Number(issue.path[0]) + 1})` : '';
  return `got ${JSON.stringify(value.value)}: ${issue?.message ?? 'invalid'}${item}`;
}

function collect(value: BoundValue, reads: Set<string>, state: CompileState): void {
  switch (value.kind) {
    case 'secret':
      state.secrets.set(value.param, { param: value.param, env: value.env });
      return;
    case 'runtime':
      for (const part of value.parts) {
        if (typeof part === 'string') continue;
        reads.add(formatReference(part));
        state.runtime.set(formatReference(part), part);
      }
      return;
    case 'list':
      for (const item of value.items) collect(item, reads, state);
      return;
    case 'map':
      for (const [, entry] of value.entries) collect(entry, reads, state);
      return;
    case 'literal':
      return;
  }
}
