import { relative } from 'node:path';
import { hasErrors } from '../diagnostics.js';
import { SERVER_NAME_PATTERN } from '../actions/fields.js';
import { InputError, RunbookError } from '../errors.js';
import { analyzeRunbook } from '../lint/index.js';
import { compilePlan, type Plan } from '../plan/compile.js';
import { bindParams, parseVarFlags } from '../plan/params.js';
import type { ParamDefinition } from '../runbook/schema.js';
import { checkParamValue } from '../runbook/validate.js';
import { quoteUntrusted } from '../text/untrusted.js';
import type { Connection } from '../plan/connection.js';
import type { Runbook } from '../runbook/model.js';
import { readRunbookSource } from '../runbook/source.js';
import { VERSION } from '../version.js';
import { printDiagnostics } from './diagnostics-output.js';
import type { CliIo, Terminal } from './terminal.js';

/** A flag that sets a runbook param (renew's --pfx, --fqdn...; --server): errors about it name the flag. */
export interface NamedFlag {
  readonly flag: string;
  /** Undefined when the flag was not given (it is still named in "missing" messages). */
  readonly value: string | undefined;
  /** A value exch-cert chose itself (the simulator's backup folder): kept out of conflicts, dropped when the runbook has no such param. */
  readonly implicit?: boolean;
}

export interface PlanRequest {
  readonly runbookFile: string;
  /** --var flags; the named flags are checked against them (a different value is a conflict). */
  readonly varFlags: readonly string[];
  readonly named: ReadonlyMap<string, NamedFlag>;
  readonly server: string | undefined;
  readonly connect: string;
  readonly credentialEnv: string | undefined;
  /** Test-only: a module that opens the remote sessions (see Connection). */
  readonly sessionModule?: string | undefined;
}

export interface LoadedPlan {
  readonly plan: Plan;
  readonly runbook: Runbook;
  /** Every param value from the command line, as text (secrets are never among them): what --resume gives again. */
  readonly vars: ReadonlyMap<string, string>;
}

/** Reads, lints and compiles a runbook; any runbook error stops here (exit 2) with file:line:col messages. */
export async function loadPlan(request: PlanRequest, io: CliIo, terminal: Terminal): Promise<LoadedPlan> {
  const runbook = await loadRunbook(request.runbookFile, io, terminal);
  return { ...planFor(runbook, request), runbook };
}

/** Reads and lints a runbook; any error stops here (exit 2), printed as file:line:col messages. */
export async function loadRunbook(runbookFile: string, io: CliIo, terminal: Terminal): Promise<Runbook> {
  const display = displayPath(runbookFile, io.cwd);
  const read = await readRunbookSource(runbookFile);
  if (!read.ok) {
    const diagnostic = { ...read.diagnostic, file: display };
    printDiagnostics([diagnostic], undefined, io, terminal);
    throw new RunbookError([diagnostic]);
  }
  const analysis = await analyzeRunbook({ file: display, text: read.source.text });
  if (hasErrors(analysis.diagnostics) || !analysis.runbook) {
    printDiagnostics(analysis.diagnostics, read.source.text, io, terminal);
    throw new RunbookError(analysis.diagnostics);
  }
  return analysis.runbook;
}

/** Binds the params of a runbook that passed lint (--var, named flags, --server) and compiles its plan. */
export function planFor(runbook: Runbook, request: Omit<PlanRequest, 'runbookFile'>): Omit<LoadedPlan, 'runbook'> {
  const vars = bindFlags(runbook, request);
  const params = bindParams(runbook, vars);
  const serverParam = params.get('server');
  const server = request.server ?? (serverParam?.kind === 'value' && typeof serverParam.value === 'string' ? serverParam.value : undefined);
  if (server === undefined) throw new InputError('no Exchange server given', 'pass --server NAME');
  const connection = parseConnection(request.connect, request.credentialEnv, server, request.sessionModule);
  let plan: Plan;
  try {
    plan = compilePlan(runbook, params, { connection, toolVersion: VERSION });
  } catch (error) {
    if (error instanceof InputError) throw new InputError(nameTheFlags(error.message, runbook, request.named), error.hint);
    throw error;
  }
  return { plan, vars };
}

/**
 * The param values of --var and of the named flags, as text. A named flag and a --var for the same
 * param must agree; a named flag's value is checked here so that its error names the flag; enum
 * values match in any case (Exchange's service names do: iis,smtp is IIS,SMTP).
 */
function bindFlags(runbook: Runbook, request: Omit<PlanRequest, 'runbookFile'>): Map<string, string> {
  const vars = parseVarFlags(request.varFlags);
  const problems: string[] = [];
  for (const [name, raw] of vars) {
    const definition = runbook.params.get(name);
    if (definition) vars.set(name, matchEnumCase(definition, raw));
  }
  for (const [name, named] of request.named) {
    const definition = runbook.params.get(name);
    if (named.value === undefined) {
      if (definition && definition.type !== 'secret' && definition.required && definition.default === undefined && !vars.has(name)) {
        problems.push(`${named.flag} is missing${definition.description ? ` (${definition.description})` : ''}`);
      }
      continue;
    }
    if (!definition) {
      // --server is the connection's server even for a runbook without a server param.
      if (name !== 'server' && !named.implicit) problems.push(`${named.flag}: runbook ${runbook.name} has no param '${name}' to set`);
      continue;
    }
    const given = vars.get(name);
    if (given !== undefined) {
      if (named.implicit) continue;
      if (given !== matchEnumCase(definition, named.value)) {
        problems.push(`${named.flag} ${quoteUntrusted(named.value)} and --var ${name}=${quoteUntrusted(given)} name different ${name === 'server' ? 'servers' : 'values'}; give it once, with ${named.flag}`);
        continue;
      }
    }
    const value = matchEnumCase(definition, named.value);
    const problem = checkFlagValue(definition, value);
    if (problem !== undefined) {
      problems.push(`${named.flag} ${problem}`);
      continue;
    }
    vars.set(name, value);
  }
  if (problems.length > 0) throw new InputError(problems.join('\n'), problems.length > 1 ? `${problems.length} problems with the flags` : undefined);
  return vars;
}

/**
 * A field's value that the action refuses ("step pop-imap-name: field name got ...") came from a
 * param; when a named flag set that param, the message leads with the flag the operator typed, and
 * says so once for all the steps that use it.
 */
function nameTheFlags(message: string, runbook: Runbook, named: ReadonlyMap<string, NamedFlag>): string {
  const steps = [...runbook.steps, ...runbook.onFailure];
  const lines: string[] = [];
  const byFlag = new Map<string, { readonly index: number; text: string; readonly steps: string[] }>();
  for (const line of message.split('\n')) {
    const match = /^step (\S+): field (\S+) (.*)$/s.exec(line);
    const value = match?.[1] && match[2] ? steps.find((step) => step.id === match[1])?.with.get(match[2]) : undefined;
    const part = value?.kind === 'template' && value.parts.length === 1 ? value.parts[0] : undefined;
    const flag = part?.kind === 'ref' && part.ref.kind === 'param' ? named.get(part.ref.name) : undefined;
    if (!match?.[1] || !match[2] || match[3] === undefined || flag?.value === undefined || flag.implicit) {
      lines.push(line);
      continue;
    }
    const seen = byFlag.get(flag.flag);
    const text = `${flag.flag} ${match[3].replace(/^got /, '')}`;
    if (seen) {
      seen.steps.push(`${match[1]}.${match[2]}`);
      // The longest message is the most specific (one action adds "no wildcard", say).
      if (text.length > seen.text.length) seen.text = text;
      continue;
    }
    byFlag.set(flag.flag, { index: lines.length, text, steps: [`${match[1]}.${match[2]}`] });
    lines.push('');
  }
  for (const { index, text, steps: used } of byFlag.values()) lines[index] = `${text} (for ${used.length === 1 ? 'step' : 'steps'} ${used.join(', ')})`;
  return lines.join('\n');
}

/** A value in the case the runbook's enum spells it, when exactly one entry matches ignoring case. */
function matchEnumCase(definition: ParamDefinition, raw: string): string {
  if ((definition.type !== 'list' && definition.type !== 'string') || !definition.enum) return raw;
  const choices = definition.enum.map(String);
  const match = (item: string): string => {
    if (choices.includes(item)) return item;
    const found = choices.filter((choice) => choice.toLowerCase() === item.toLowerCase());
    return found.length === 1 && found[0] !== undefined ? found[0] : item;
  };
  if (definition.type === 'string') return match(raw);
  return raw
    .split(',')
    .map((item) => match(item.trim()))
    .join(',');
}

/** What is wrong with a named flag's value, for the string and list params they set. */
function checkFlagValue(definition: ParamDefinition, raw: string): string | undefined {
  if (definition.type === 'list') {
    const items = raw
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
    if (items.length === 0) return 'expects a comma-separated list such as IIS,SMTP';
    return checkParamValue(definition, items);
  }
  if (definition.type === 'string') return checkParamValue(definition, raw);
  return undefined;
}

/** Parses --connect and --credential-env, and checks the server name that builds the connection. */
export function parseConnection(connect: string, credentialEnv: string | undefined, server: string, sessionModule?: string): Connection {
  if (!SERVER_NAME_PATTERN.test(server)) {
    throw new InputError(`--server ${JSON.stringify(server)} is not a server name`, 'give the NetBIOS name or FQDN of one Exchange server, such as EXCH01 or exch01.contoso.com');
  }
  if (credentialEnv !== undefined && connect !== 'remote') throw new InputError('--credential-env works only with --connect remote');
  if (sessionModule !== undefined && connect !== 'remote') throw new InputError('--remote-session-module works only with --connect remote');
  if (connect === 'remote') {
    const opener = sessionModule !== undefined ? { sessionModule } : {};
    if (credentialEnv === undefined) return { kind: 'remote', server, ...opener };
    const [user, password, ...rest] = credentialEnv.split(',').map((name) => name.trim());
    const envName = /^[A-Za-z_][A-Za-z0-9_]*$/;
    if (!user || !password || rest.length > 0 || !envName.test(user) || !envName.test(password)) {
      throw new InputError(`--credential-env ${JSON.stringify(credentialEnv)} is not USER_VAR,PASS_VAR`, 'name two environment variables, e.g. --credential-env EXCH_USER,EXCH_PASS');
    }
    return { kind: 'remote', server, credentialEnv: { user, password }, ...opener };
  }
  if (connect === 'local') return { kind: 'local', server };
  if (connect.startsWith('module:') && connect.length > 'module:'.length) return { kind: 'module', server, modulePath: connect.slice('module:'.length) };
  throw new InputError(`--connect ${JSON.stringify(connect)} is not remote, local or module:PATH`);
}

/** Paths in messages as the user would type them: relative to the working directory when inside it. */
export function displayPath(file: string, cwd: string): string {
  const rel = relative(cwd, file);
  return rel !== '' && !rel.startsWith('..') && !rel.startsWith('/') ? rel : file;
}
