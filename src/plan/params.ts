import type { LiteralValue } from '../actions/fields.js';
import { InputError } from '../errors.js';
import type { Runbook } from '../runbook/model.js';
import type { ParamDefinition } from '../runbook/schema.js';
import { didYouMean } from '../runbook/suggest.js';
import { checkParamValue } from '../runbook/validate.js';

/** A param's value for one run. Secrets are only a pointer to their environment variable. */
export type ParamValue =
  | { readonly kind: 'value'; readonly value: LiteralValue; readonly source: 'var' | 'default' }
  | { readonly kind: 'secret'; readonly env: string }
  | { readonly kind: 'unset' };

/** Parses repeated `--var KEY=VALUE` flags; the last one of a key wins. */
export function parseVarFlags(flags: readonly string[]): Map<string, string> {
  const vars = new Map<string, string>();
  for (const flag of flags) {
    const equals = flag.indexOf('=');
    if (equals <= 0) throw new InputError(`--var ${JSON.stringify(flag)} is not KEY=VALUE`, 'write --var server=EXCH01');
    vars.set(flag.slice(0, equals), flag.slice(equals + 1));
  }
  return vars;
}

/**
 * Binds command-line values to the runbook's params, converting each to its
 * type and checking pattern, enum and required. Reports every problem at once.
 */
export function bindParams(runbook: Runbook, vars: ReadonlyMap<string, string>): Map<string, ParamValue> {
  const problems: string[] = [];
  for (const name of vars.keys()) {
    if (!runbook.params.has(name)) {
      const hint = didYouMean(name, runbook.params.keys());
      const known = [...runbook.params.keys()].join(', ') || 'none';
      problems.push(`unknown param '${name}'${hint ? ` (${hint})` : ''}; runbook ${runbook.name} takes: ${known}`);
    }
  }
  const values = new Map<string, ParamValue>();
  for (const [name, param] of runbook.params) {
    const raw = vars.get(name);
    if (param.type === 'secret') {
      if (raw !== undefined) {
        problems.push(`'${name}' is a secret and cannot be given on the command line (it would show in the process list and shell history); set the environment variable ${param.env} instead`);
      }
      values.set(name, { kind: 'secret', env: param.env });
      continue;
    }
    if (raw === undefined) {
      if (param.default !== undefined) values.set(name, { kind: 'value', value: param.default, source: 'default' });
      else if (param.required) problems.push(`missing required param '${name}'${param.description ? ` (${param.description})` : ''}: pass --var ${name}=VALUE`);
      else values.set(name, { kind: 'unset' });
      continue;
    }
    const converted = convertParamValue(param, raw);
    if (typeof converted === 'object' && 'problem' in converted) {
      problems.push(`--var ${name}: ${converted.problem}`);
      continue;
    }
    const problem = checkParamValue(param, converted);
    if (problem) {
      problems.push(`--var ${name} ${problem}`);
      continue;
    }
    values.set(name, { kind: 'value', value: converted, source: 'var' });
  }
  if (problems.length > 0) {
    throw new InputError(problems.join('\n'), problems.length > 1 ? `${problems.length} problems with the parameters` : undefined);
  }
  return values;
}

function convertParamValue(param: Exclude<ParamDefinition, { type: 'secret' }>, raw: string): LiteralValue | { problem: string } {
  switch (param.type) {
    case 'string':
      return raw;
    case 'number': {
      const value = Number(raw.trim());
      return raw.trim() !== '' && Number.isFinite(value) ? value : { problem: `expected a number, got ${JSON.stringify(raw)}` };
    }
    case 'boolean': {
      const lower = raw.trim().toLowerCase();
      if (lower === 'true') return true;
      if (lower === 'false') return false;
      return { problem: `expected true or false, got ${JSON.stringify(raw)}` };
    }
    case 'list': {
      const items = raw
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '');
      return items.length > 0 ? items : { problem: 'expected a comma-separated list such as IIS,SMTP' };
    }
  }
}
