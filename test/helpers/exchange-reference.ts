/**
 * Microsoft's Exchange cmdlet reference (test/fixtures/exchange-cmdlets.json, extracted from
 * MicrosoftDocs/office-docs-powershell) as a judge of command calls read from PowerShell's syntax
 * tree: the parameters exist, belong to one parameter set, the mandatory ones are there, and each
 * value is of a kind the parameter's type accepts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './plan.js';
import type { ArgumentKind, CommandCall } from './pwsh.js';

interface ReferenceParameter {
  readonly name: string;
  readonly type: string;
  readonly required: boolean;
  readonly positional: boolean;
}

interface ReferenceCmdlet {
  readonly parameterSets: ReadonlyArray<{ readonly name: string; readonly parameters: readonly ReferenceParameter[] }>;
}

export const REFERENCE = JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'exchange-cmdlets.json'), 'utf8')) as {
  readonly commit: string;
  readonly cmdlets: Readonly<Record<string, ReferenceCmdlet>>;
};

/** PowerShell's common parameters: every cmdlet has them, the reference does not list them. */
const COMMON = new Set(['erroraction', 'errorvariable', 'warningaction', 'warningvariable', 'informationaction', 'informationvariable', 'verbose', 'debug', 'outvariable', 'outbuffer', 'pipelinevariable', 'progressaction']);

/** The argument kinds each reference type accepts ('variable' and 'expression' are always accepted). */
function acceptedKinds(type: string): ReadonlySet<ArgumentKind> | 'switch' {
  switch (type) {
    case 'SwitchParameter':
      return 'switch';
    case 'Boolean':
      return new Set(['bool']);
    case 'Int32':
      return new Set(['number']);
    case 'SecureString':
    case 'PSCredential':
    case 'Byte[]':
    case 'X509Certificate2':
      // Never a literal: a SecureString written as text would be a password in the script.
      return new Set();
    case 'MultiValuedProperty':
    case 'AllowedServices':
    case 'String[]':
      return new Set(['string', 'array']);
    default:
      return new Set(['string', 'number']);
  }
}

/** What is wrong with one call of an Exchange cmdlet; empty when it matches the reference. */
export function checkExchangeCall(call: CommandCall): string[] {
  const cmdlet = REFERENCE.cmdlets[call.name];
  if (!cmdlet) return [`${call.name} is not an Exchange cmdlet in the reference`];
  if (call.splatted) return [`${call.name} is called with a splat: its parameters cannot be checked`];
  const at = `${call.name} (line ${call.line})`;
  const named = call.elements.flatMap((element) => (element.kind === 'parameter' && !COMMON.has(element.name.toLowerCase()) ? [element] : []));
  const positional = call.elements.filter((element) => element.kind === 'argument');
  const problems: string[] = [];
  const byName = new Map(cmdlet.parameterSets.flatMap((set) => set.parameters).map((parameter) => [parameter.name.toLowerCase(), parameter]));
  for (const element of named) {
    if (!byName.has(element.name.toLowerCase())) problems.push(`${at}: -${element.name} is not a parameter of ${call.name}`);
  }
  if (problems.length > 0) return problems;
  const fitting = cmdlet.parameterSets.filter((set) => {
    const names = new Set(set.parameters.map((parameter) => parameter.name.toLowerCase()));
    const positions = set.parameters.filter((parameter) => parameter.positional && !named.some((element) => element.name.toLowerCase() === parameter.name.toLowerCase()));
    return named.every((element) => names.has(element.name.toLowerCase())) && positional.length <= positions.length;
  });
  if (fitting.length === 0) return [`${at}: -${named.map((element) => element.name).join(', -')} do not belong to one parameter set of ${call.name}`];
  const complete = fitting.filter((set) => {
    const given = new Set(named.map((element) => element.name.toLowerCase()));
    const unnamedPositions = set.parameters.filter((parameter) => parameter.positional && !given.has(parameter.name.toLowerCase()));
    unnamedPositions.slice(0, positional.length).forEach((parameter) => given.add(parameter.name.toLowerCase()));
    return set.parameters.every((parameter) => !parameter.required || given.has(parameter.name.toLowerCase()));
  });
  if (complete.length === 0) {
    const missing = fitting[0]?.parameters.filter((parameter) => parameter.required && !named.some((element) => element.name.toLowerCase() === parameter.name.toLowerCase())) ?? [];
    return [`${at}: mandatory -${missing.map((parameter) => parameter.name).join(', -')} missing (parameter set ${fitting[0]?.name ?? '?'})`];
  }
  for (const element of named) {
    const parameter = byName.get(element.name.toLowerCase());
    if (!parameter) continue;
    const accepted = acceptedKinds(parameter.type);
    if (accepted === 'switch') {
      // Only -Switch:$value binds a value to a switch; -Switch $value passes $value on as a positional argument.
      if (element.argument !== undefined && !(element.colon === true && element.argument === 'bool')) problems.push(`${at}: -${element.name} is a switch, but is given a value`);
      continue;
    }
    if (element.argument === undefined) {
      problems.push(`${at}: -${element.name} (${parameter.type}) needs a value`);
      continue;
    }
    if (element.argument !== 'variable' && element.argument !== 'expression' && !accepted.has(element.argument)) {
      problems.push(`${at}: -${element.name} takes ${parameter.type}, not a ${element.argument} literal`);
    }
  }
  return problems;
}
