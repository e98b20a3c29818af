/**
 * Scripts judged by PowerShell's own parser: one long-lived pwsh process per
 * lint run (starting one costs about half a second, a parse a few
 * milliseconds), fed one script per line, answering in order. Nothing of a
 * script is ever run: the process only calls [Parser]::ParseInput.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { internalCommandMessage, internalVariableMessage } from './internals.js';
import { PWSH_PARSE_SCRIPT } from './pwsh-parse-script.js';
import { OPERATOR_MESSAGES, parameterMessage, SEVEN_ONLY_MESSAGES, sevenOnlyVariableMessage } from './seven-only.js';
import type { SyntaxProblem, SyntaxProblemKind } from './syntax.js';

/** What the PowerShell that answered says it is. */
export interface PwshIdentity {
  readonly version: string;
  readonly edition: string;
}

/** A running pwsh parser. */
export interface PwshParser {
  readonly identity: PwshIdentity;
  /** The problems of one script, as the built-in checker reports them (line and column within the script). */
  parse(script: string): Promise<SyntaxProblem[]>;
  /** Asks the process to exit (it ends at the end of its input), and kills it if it does not. */
  close(): Promise<void>;
}

/** Why a pwsh parser could not start or went away. */
export class PwshParserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PwshParserError';
  }
}

interface RawAnswer {
  readonly ready?: boolean;
  readonly version?: string;
  readonly edition?: string;
  readonly fatal?: string;
  readonly errors?: ReadonlyArray<{ readonly o: number; readonly m: string; readonly id: string }>;
  readonly constructs?: ReadonlyArray<{ readonly o: number; readonly k: string; readonly n: string | null; readonly t: string | null }>;
}

const START_TIMEOUT_MS = 60_000;
const EXIT_GRACE_MS = 3_000;

/** Starts `executable` (pwsh, powershell, or a path) as a parser; rejects with PwshParserError when it does not answer like one. */
export async function startPwshParser(executable: string, options: { startTimeoutMs?: number } = {}): Promise<PwshParser> {
  let child: ChildProcessWithoutNullStreams;
  try {
    child = spawn(executable, ['-NoLogo', '-NoProfile', '-NonInteractive', '-EncodedCommand', Buffer.from(PWSH_PARSE_SCRIPT, 'utf16le').toString('base64')], {
      env: { ...process.env, POWERSHELL_TELEMETRY_OPTOUT: '1', POWERSHELL_UPDATECHECK: 'Off', DOTNET_CLI_TELEMETRY_OPTOUT: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
      windowsHide: true,
    });
  } catch (error) {
    throw new PwshParserError(`${executable} could not be started: ${error instanceof Error ? error.message : String(error)}`);
  }
  const pending: Array<{ resolve: (answer: RawAnswer) => void; reject: (error: Error) => void }> = [];
  let stderr = '';
  let gone: PwshParserError | undefined;
  const fail = (error: PwshParserError): void => {
    gone ??= error;
    for (const waiting of pending.splice(0)) waiting.reject(gone);
  };
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-2000);
  });
  child.stdin.on('error', () => undefined);
  child.on('error', (error) => fail(new PwshParserError(`${executable} could not be started: ${error.message}`)));
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  child.on('close', (code, signal) => {
    const why = signal ? `was killed (${signal})` : `exited with code ${String(code)}`;
    fail(new PwshParserError(`${executable} ${why}${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' ')}` : ''}`));
  });
  createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', (line) => {
    const waiting = pending.shift();
    if (!waiting) return;
    try {
      waiting.resolve(JSON.parse(Buffer.from(line.trim(), 'base64').toString('utf8')) as RawAnswer);
    } catch {
      waiting.reject(new PwshParserError(`${executable} answered something that is not the parser's: ${JSON.stringify(line.slice(0, 80))}`));
    }
  });
  const next = (): Promise<RawAnswer> =>
    gone ? Promise.reject(gone) : new Promise<RawAnswer>((resolve, reject) => pending.push({ resolve, reject }));

  const close = async (): Promise<void> => {
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_GRACE_MS);
    await exited;
    clearTimeout(timer);
  };

  const timeoutMs = options.startTimeoutMs ?? START_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const hello = await Promise.race([
    next(),
    new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new PwshParserError(`${executable} did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
    }),
  ])
    .catch(async (error: unknown) => {
      await close();
      throw error;
    })
    .finally(() => clearTimeout(timer));
  if (hello.ready !== true || typeof hello.version !== 'string') {
    await close();
    throw new PwshParserError(`${executable} does not answer like PowerShell`);
  }
  const identity = { version: hello.version, edition: hello.edition ?? '' };

  return {
    identity,
    async parse(script) {
      const answer = next();
      child.stdin.write(`${Buffer.from(script, 'utf16le').toString('base64')}\n`);
      const raw = await answer;
      if (raw.fatal !== undefined) throw new PwshParserError(`${executable} could not parse a script: ${raw.fatal}`);
      return toProblems(script, raw);
    },
    close,
  };
}

interface Found {
  readonly index: number;
  readonly kind: SyntaxProblemKind;
  readonly message: string;
}

/** PowerShell's answer as problems: its errors as syntax errors, the constructs as 7-only findings. */
function toProblems(script: string, raw: RawAnswer): SyntaxProblem[] {
  const found: Found[] = (raw.errors ?? []).map((error) => ({ index: error.o, kind: 'syntax', message: error.m.split(/\r?\n/)[0] ?? error.m }));
  for (const construct of raw.constructs ?? []) {
    const problem = constructProblem(script, construct.o, construct.k, construct.n ?? '', construct.t ?? '');
    if (problem) found.push(problem);
  }
  const lineStarts = [0];
  for (let k = 0; k < script.length; k++) {
    const c = script[k];
    if (c === '\n' || (c === '\r' && script[k + 1] !== '\n')) lineStarts.push(k + 1);
  }
  return found
    .sort((a, b) => a.index - b.index)
    .map((problem) => {
      let line = lineStarts.length - 1;
      while (line > 0 && (lineStarts[line] ?? 0) > problem.index) line--;
      return { line: line + 1, column: problem.index - (lineStarts[line] ?? 0) + 1, message: problem.message, kind: problem.kind };
    });
}

/** One construct from the syntax tree, at its operator or keyword. */
function constructProblem(script: string, offset: number, kind: string, name: string, text: string): Found | undefined {
  const at = (token: string): number => {
    const index = script.indexOf(token, offset);
    return index === -1 ? offset : index;
  };
  const seven = (index: number, message: string): Found => ({ index, kind: 'powershell-7-only', message });
  switch (kind) {
    case 'chain':
      return name === 'AndAnd' ? seven(at('&&'), OPERATOR_MESSAGES['&&']) : seven(at('||'), OPERATOR_MESSAGES['||']);
    case 'ternary':
      return seven(at('?'), OPERATOR_MESSAGES['?']);
    case 'coalesce':
      return seven(at('??'), OPERATOR_MESSAGES['??']);
    case 'coalesce-assign':
      return seven(at('??='), OPERATOR_MESSAGES['??=']);
    case 'null-member':
      return seven(at('?'), OPERATOR_MESSAGES['?.']);
    case 'null-index':
      return seven(at('?'), OPERATOR_MESSAGES['?[']);
    case 'background':
      return seven(at('&'), SEVEN_ONLY_MESSAGES.background);
    case 'clean':
      return seven(offset, SEVEN_ONLY_MESSAGES.clean);
    case 'enum-type':
      return seven(Math.max(0, script.lastIndexOf(':', offset)), SEVEN_ONLY_MESSAGES.enumType);
    case 'generic':
      return seven(offset, SEVEN_ONLY_MESSAGES.genericMethod);
    case 'leading-pipe':
      return seven(offset, SEVEN_ONLY_MESSAGES.leadingPipe);
    case 'parameter': {
      const message = parameterMessage(name, text);
      return message ? seven(offset, message) : undefined;
    }
    case 'variable': {
      const internal = internalVariableMessage(name);
      if (internal) return { index: offset, kind: 'internals', message: internal };
      return { index: offset, kind: 'powershell-7-variable', message: sevenOnlyVariableMessage(name.replace(/^.*:/, '')) };
    }
    case 'command': {
      const message = internalCommandMessage(name, text);
      return message ? { index: offset, kind: 'internals', message } : undefined;
    }
    default:
      return undefined;
  }
}
