import { relative } from 'node:path';
import { hasErrors } from '../diagnostics.js';
import { SERVER_NAME_PATTERN } from '../actions/fields.js';
import { InputError, RunbookError } from '../errors.js';
import { analyzeRunbook } from '../lint/index.js';
import { compilePlan, type Plan } from '../plan/compile.js';
import { bindParams, parseVarFlags } from '../plan/params.js';
import type { Connection } from '../plan/connection.js';
import type { Runbook } from '../runbook/model.js';
import { readRunbookSource } from '../runbook/source.js';
import { VERSION } from '../version.js';
import { printDiagnostics } from './diagnostics-output.js';
import type { CliIo, Terminal } from './terminal.js';

export interface PlanRequest {
  readonly runbookFile: string;
  /** --var flags, then values set by named flags (which win). */
  readonly varFlags: readonly string[];
  readonly namedVars: ReadonlyMap<string, string>;
  readonly server: string | undefined;
  readonly connect: string;
  readonly credentialEnv: string | undefined;
  /** Test-only: a module that opens the remote sessions (see Connection). */
  readonly sessionModule?: string | undefined;
}

export interface LoadedPlan {
  readonly plan: Plan;
  readonly runbook: Runbook;
}

/** Reads, lints and compiles a runbook; any runbook error stops here (exit 2) with file:line:col messages. */
export async function loadPlan(request: PlanRequest, io: CliIo, terminal: Terminal): Promise<LoadedPlan> {
  const runbook = await loadRunbook(request.runbookFile, io, terminal);
  return { plan: planFor(runbook, request), runbook };
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
export function planFor(runbook: Runbook, request: Omit<PlanRequest, 'runbookFile'>): Plan {
  const vars = parseVarFlags(request.varFlags);
  for (const [name, value] of request.namedVars) vars.set(name, value);
  if (request.server !== undefined && runbook.params.has('server')) {
    const given = vars.get('server');
    if (given !== undefined && given !== request.server) {
      throw new InputError(`--server ${request.server} and --var server=${given} name different servers`, 'give the server once, with --server');
    }
    vars.set('server', request.server);
  }
  const params = bindParams(runbook, vars);
  const serverParam = params.get('server');
  const server = request.server ?? (serverParam?.kind === 'value' && typeof serverParam.value === 'string' ? serverParam.value : undefined);
  if (server === undefined) throw new InputError('no Exchange server given', 'pass --server NAME');
  const connection = parseConnection(request.connect, request.credentialEnv, server, request.sessionModule);
  return compilePlan(runbook, params, { connection, toolVersion: VERSION });
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
