/**
 * The PowerShell session over node-powershell: the only file that imports it.
 *
 * node-powershell gives us one long-lived `pwsh -Command -` process and its
 * stdin framing (delimiter lines echoed to stdout and stderr around each
 * command). Everything that decides an outcome is ours:
 * - blocks go over the wire as one Base64 line and answer with a nonce-marked
 *   envelope (envelope.ts); stderr and `hadErrors` are only log text;
 * - our own watchdog and AbortSignal handling kill the whole process tree,
 *   because node-powershell's invocationTimeout only stops waiting;
 * - an invoke that node-powershell "resolves" with no output because the
 *   process went away is a crash, not a success;
 * - the executable is resolved before spawning and a spawn failure can never
 *   become an unhandled rejection;
 * - the child gets an allow-listed environment, and node-powershell's debug
 *   output (which prints every command under DEBUG=*) is switched off.
 */
import { ChildProcess, execFile } from 'node:child_process';
import { accessSync, constants, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter as PATH_LIST_SEPARATOR, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { PowerShell } from 'node-powershell';
import { EnvironmentError } from '../errors.js';
import { handshakeCommand, newNonce, parseEnvelope, parseHandshake, wrapBlock } from './envelope.js';
import type { Envelope, InvokeOptions, InvokeOutcome, PowerShellSession, ScriptError, SessionFactory, ShellInfo, StartOptions } from './session.js';

/** How the adapter finds and talks to PowerShell. */
export interface NodePowerShellOptions {
  /** `pwsh`, `powershell`, or a path to either. A bare name is looked up on PATH. */
  readonly shell: string;
  /** Hides secrets in every string the adapter hands out (logs, messages, outputs). */
  readonly mask?: (text: string) => string;
  /** Receives each line the shell prints, masked, as it arrives: live progress for long steps. */
  readonly onLog?: (text: string) => void;
  /** How long a new shell may take to answer its first command; 30 s by default (a cold Windows PowerShell is slow). */
  readonly handshakeTimeoutMs?: number;
}

const HINT = 'install PowerShell 7 or pass --shell PATH';
const HANDSHAKE_TIMEOUT_MS = 30_000;
/** How long to wait for a killed or exiting shell to close its pipes before giving up on it. */
const EXIT_GRACE_MS = 5_000;

/**
 * Starts PowerShell sessions through node-powershell. `start()` throws an
 * EnvironmentError (exit 3) when the executable is missing, cannot start, or
 * does not answer the handshake like PowerShell.
 */
export function createNodePowerShellFactory(options: NodePowerShellOptions): SessionFactory {
  return { start: (startOptions) => startSession(options, startOptions) };
}

async function startSession(options: NodePowerShellOptions, startOptions: StartOptions): Promise<PowerShellSession> {
  const mask = options.mask ?? ((text: string) => text);
  const { onLog } = options;
  const executable = resolveExecutable(options.shell);
  const shellProcess = new ShellProcess(spawnShell(executable, startOptions, mask), onLog && ((line) => onLog(mask(line))));
  // No `await` may come before this call: the handshake's invoke is what gives
  // node-powershell's exit promise a handler before a spawn error can reject it.
  const info = await handshake(shellProcess, executable, options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS, mask);
  return new NodePowerShellSession(shellProcess, info, mask);
}

function spawnShell(executable: string, startOptions: StartOptions, mask: (text: string) => string): FramedPowerShell {
  try {
    return new FramedPowerShell({
      executable,
      // node-powershell adds -NoLogo before and -NoExit -Command - after these.
      executableOptions: { '-NoProfile': true, '-NonInteractive': true },
      // The shell watches this process and ends itself when it is gone (envelope.ts, PARENT_WATCHER).
      spawnOptions: { env: { ...childEnvironment(process.env, startOptions.env), EXCH_CERT_PARENT_PID: String(process.pid) }, windowsHide: true },
      inputEncoding: 'utf8',
      outputEncoding: 'utf8',
      // The envelope decides success; stderr output is not an error.
      throwOnInvocationError: false,
      debug: false,
    });
  } catch (error) {
    throw new EnvironmentError(mask(`PowerShell (${executable}) could not be started: ${errorMessage(error)}`), HINT);
  }
}

/**
 * node-powershell with its three dangerous defaults removed:
 * - the executable we resolved is used as given (the base class lets the
 *   NODE_POWERSHELL variable override it and turns `pwsh-preview` into `pwsh`);
 * - the delimiter of the invocation in flight is kept, so our own copy of the
 *   output can drop the framing lines;
 * - its debug loggers are silenced (see below).
 */
class FramedPowerShell extends PowerShell {
  /** The delimiter node-powershell chose for the invocation in flight. */
  delimiter = '';

  protected override setExecutable({ executable }: { executable?: string }): string {
    if (!executable) throw new Error('an executable path is required');
    return executable;
  }

  protected override writeToOutput(input: string): string {
    this.delimiter = input;
    return super.writeToOutput(input);
  }
}

/*
 * The base class logs every command (secrets included) through `debug` when
 * DEBUG matches `PWSH:<pid>`, e.g. DEBUG=*. Its setDebuggers() is private in
 * the typings, so it is replaced on the prototype; the constructor calls it.
 */
const quiet = (): void => undefined;
Object.defineProperty(FramedPowerShell.prototype, 'setDebuggers', { value: () => ({ comment: quiet, command: quiet, output: quiet }) });

/** node-powershell keeps its ChildProcess private, but the watchdog needs its pid and its exit. */
function childOf(shell: PowerShell): ChildProcess {
  const child: unknown = Reflect.get(shell, 'process');
  if (child instanceof ChildProcess) return child;
  throw new Error('node-powershell no longer keeps its child process in `process`; update src/powershell/node-powershell.ts');
}

/**
 * How one command sent to the shell ended. `stdout`/`stderr` are what it
 * printed, without node-powershell's framing; `reason` completes "the shell …".
 */
type Exchange =
  | { readonly kind: 'answered' | 'timed_out' | 'aborted'; readonly stdout: string; readonly stderr: string }
  | { readonly kind: 'ended'; readonly reason: string; readonly stdout: string; readonly stderr: string };

/** One PowerShell process: sends commands, watches the clock and the signal, kills the tree. */
class ShellProcess {
  private readonly child: ChildProcess;
  private readonly tap: OutputTap;
  /** Settles once the process has exited and closed its pipes (or could not start). */
  private readonly closed: Promise<void>;
  private exitDescription: string | undefined;
  private killing: Promise<void> | undefined;
  /** Why this shell can no longer be used, completing "the shell …"; set once. */
  deathReason: string | undefined;

  constructor(
    private readonly shell: FramedPowerShell,
    onLine: ((line: string) => void) | undefined,
  ) {
    this.child = childOf(shell);
    // A write to a shell that just died fails with EPIPE; node-powershell
    // listens for that only once, and a second unhandled 'error' would crash the CLI.
    for (const stream of [shell.streams.stdin, shell.streams.stdout, shell.streams.stderr]) stream.on('error', quiet);
    this.closed = new Promise((settle) => {
      this.child.once('exit', (code, signal) => (this.exitDescription ??= signal ? `was killed by ${signal}` : `exited with code ${String(code)}`));
      this.child.once('close', () => settle());
      this.child.on('error', (error) => {
        // Also emitted when a signal cannot be delivered; only a failed spawn (no pid) means there is no process.
        if (this.child.pid !== undefined) return;
        this.exitDescription ??= `could not be started: ${error.message}`;
        settle();
      });
    });
    this.tap = new OutputTap(shell.streams.stdout, shell.streams.stderr, () => shell.delimiter, onLine);
  }

  /** Sends one command line and waits for its framed answer, the watchdog, the signal or the end of the process. */
  async exchange(command: string, nonce: string, limits: InvokeOptions): Promise<Exchange> {
    if (this.deathReason !== undefined) return { kind: 'ended', reason: `is not running (it ${this.deathReason})`, stdout: '', stderr: '' };
    this.tap.begin(nonce);
    const interrupt = interruption(limits);
    const answer = this.shell.invoke(command).then(
      // node-powershell resolves with no output at all when the process exits (dispose, `exit 0`): that is not an answer.
      (result) => (result.stdout === undefined ? 'ended' : 'answered'),
      () => 'ended' as const,
    );
    const first = await Promise.race([answer, interrupt.fired]);
    interrupt.cancel();
    if (first === 'timed_out') await this.kill(`was killed by the watchdog after ${String(limits.timeoutMs)} ms`);
    if (first === 'aborted') await this.kill('was killed because the run was aborted');
    if (first === 'ended') await this.settleEnd();
    this.afterExchange();
    const output = this.tap.take();
    return first === 'ended' ? { kind: first, reason: this.deathReason ?? 'stopped', ...output } : { kind: first, ...output };
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  /**
   * Asks the shell to exit (its stdin ends, as after `exit`), so that .NET removes its own files in
   * the temporary folder; kills it when it has not gone within `graceMs`.
   */
  async close(reason: string, graceMs: number): Promise<void> {
    if (this.deathReason === undefined && this.exitDescription === undefined) {
      this.shell.streams.stdin.end('exit\n');
      await within(this.closed, graceMs);
    }
    await this.kill(reason);
  }

  /** Kills the process tree (once) and waits, within reason, for the process to close. Resolves even if it is long gone. */
  kill(reason: string): Promise<void> {
    this.deathReason ??= reason;
    this.killing ??= this.killNow();
    return this.killing;
  }

  private async killNow(): Promise<void> {
    // After 'exit' there is nothing left to kill, and the pid may already belong to someone else.
    if (this.exitDescription !== undefined) return;
    if (this.child.pid !== undefined) await killTree(this.child.pid);
    this.child.kill('SIGKILL');
    await within(this.closed, EXIT_GRACE_MS);
    if (this.child.pid !== undefined) removeRuntimeFiles(this.child.pid);
  }

  /** The process went away by itself: wait for the rest of its output, record how it ended, make sure it is gone. */
  private async settleEnd(): Promise<void> {
    await within(this.closed, EXIT_GRACE_MS);
    await this.kill(this.exitDescription ?? 'stopped answering');
  }

  private afterExchange(): void {
    // node-powershell keeps every command and its output forever; nothing needs them.
    this.shell.history.length = 0;
    // It also pauses stdout/stderr between invocations; keep them flowing so
    // output between blocks reaches onLog and 'close' can fire when the process ends.
    this.shell.streams.stdout.resume();
    this.shell.streams.stderr.resume();
  }
}

/** Resolves when the watchdog fires or the caller aborts; `cancel()` stops listening. */
function interruption(limits: InvokeOptions): { readonly fired: Promise<'timed_out' | 'aborted'>; cancel(): void } {
  let cancel = quiet;
  const fired = new Promise<'timed_out' | 'aborted'>((settle) => {
    const { timeoutMs, signal } = limits;
    const onAbort = (): void => settle('aborted');
    // setTimeout fires at once for delays above 2^31-1 ms (or Infinity); such a limit means "no limit".
    const timer = timeoutMs !== undefined && timeoutMs <= 2 ** 31 - 1 ? setTimeout(() => settle('timed_out'), Math.max(0, timeoutMs)) : undefined;
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) settle('aborted');
    cancel = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
  });
  return { fired, cancel };
}

/** Waits for `promise`, but no longer than `ms`. */
async function within(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((settle) => (timer = setTimeout(settle, ms)))]);
  clearTimeout(timer);
}

/**
 * Our own copy of what the shell prints. node-powershell hands back only the
 * text between its delimiters, and nothing at all when the shell dies; the log
 * of a killed or crashed block must still show what it printed.
 */
class OutputTap {
  private text = { stdout: '', stderr: '' };
  private partial = { stdout: '', stderr: '' };
  private marker: RegExp | undefined;

  constructor(
    stdout: Readable,
    stderr: Readable,
    private readonly delimiter: () => string,
    private readonly onLine: ((line: string) => void) | undefined,
  ) {
    stdout.on('data', (chunk: string) => this.add('stdout', chunk));
    stderr.on('data', (chunk: string) => this.add('stderr', chunk));
  }

  /** Starts the copy for one exchange; lines carrying this nonce's marker are not log lines. */
  begin(nonce: string): void {
    this.text = { stdout: '', stderr: '' };
    this.marker = new RegExp(`<<${nonce} .*? ${nonce}>>`);
  }

  /** Everything printed since begin(), without node-powershell's delimiter lines. */
  take(): { stdout: string; stderr: string } {
    for (const stream of ['stdout', 'stderr'] as const) this.flush(stream);
    const delimiter = this.delimiter();
    const strip = (text: string): string => (delimiter === '' ? text : text.split(/(?<=\n)/).filter((line) => line.trimEnd() !== delimiter).join(''));
    return { stdout: strip(this.text.stdout), stderr: strip(this.text.stderr) };
  }

  private add(stream: 'stdout' | 'stderr', chunk: string): void {
    this.text[stream] += chunk;
    if (!this.onLine) return;
    const lines = (this.partial[stream] + chunk).split('\n');
    this.partial[stream] = lines.pop() ?? '';
    for (const line of lines) this.emit(line);
  }

  private flush(stream: 'stdout' | 'stderr'): void {
    if (this.partial[stream] !== '') this.emit(this.partial[stream]);
    this.partial[stream] = '';
  }

  private emit(rawLine: string): void {
    const line = rawLine.replace(/\r$/, '');
    if (line === this.delimiter()) return;
    const withoutMarker = this.marker ? line.replace(this.marker, '') : line;
    if (withoutMarker === '' && line !== '') return;
    this.onLine?.(withoutMarker);
  }
}

/** Sends the handshake and turns any failure into an EnvironmentError. */
async function handshake(shellProcess: ShellProcess, executable: string, timeoutMs: number, mask: (text: string) => string): Promise<ShellInfo> {
  const nonce = newNonce();
  const exchange = await shellProcess.exchange(handshakeCommand(nonce), nonce, { timeoutMs });
  const answer = exchange.kind === 'answered' ? parseHandshake(exchange.stdout, nonce) : undefined;
  if (answer && Number.parseInt(answer.version, 10) >= 5) return { executable, ...answer, pid: shellProcess.pid };
  await shellProcess.kill('failed the handshake');
  if (answer) {
    throw new EnvironmentError(
      `${executable} is PowerShell ${answer.version}; exch-cert needs Windows PowerShell 5.1 or PowerShell 7`,
      'install WMF 5.1 (Exchange 2016 on Windows Server 2012 R2 needs it too), or pass --shell with another PowerShell',
    );
  }
  throw new EnvironmentError(mask(handshakeFailure(executable, exchange, timeoutMs)), HINT);
}

function handshakeFailure(executable: string, exchange: Exchange, timeoutMs: number): string {
  const said = excerpt(`${exchange.stdout}\n${exchange.stderr}`);
  switch (exchange.kind) {
    case 'ended':
      return `PowerShell (${executable}) ${exchange.reason}${said && `: ${said}`}`;
    case 'answered':
      return `${executable} did not answer like PowerShell: ${said ? JSON.stringify(said) : 'it printed nothing'}`;
    default:
      return `PowerShell (${executable}) did not answer within ${String(timeoutMs / 1000)} s of starting`;
  }
}

/** The first 300 characters of what a broken shell printed, on one line. */
function excerpt(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/** A session over one ShellProcess: blocks run one at a time, in order. */
class NodePowerShellSession implements PowerShellSession {
  /** Settles when the invocation ahead of the next one has finished. */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly shellProcess: ShellProcess,
    readonly info: ShellInfo,
    private readonly mask: (text: string) => string,
  ) {}

  get dead(): boolean {
    return this.shellProcess.deathReason !== undefined;
  }

  /** Runs one block. Never rejects; after any outcome but `completed` the session is dead. */
  async invoke(script: string, options: InvokeOptions = {}): Promise<InvokeOutcome> {
    const queued = performance.now();
    const ahead = this.queue;
    let release: () => void = quiet;
    this.queue = new Promise<void>((settle) => (release = () => settle()));
    try {
      // An abort while waiting in line still kills the shell: the caller wants everything stopped.
      const wait = interruption({ signal: options.signal });
      const turn = await Promise.race([ahead.then(() => 'turn' as const), wait.fired]);
      wait.cancel();
      if (turn === 'turn') return await this.run(script, options);
      await this.shellProcess.kill('was killed because the run was aborted');
      return { kind: 'aborted', log: '', durationMs: performance.now() - queued };
    } finally {
      release();
    }
  }

  private async run(script: string, options: InvokeOptions): Promise<InvokeOutcome> {
    const started = performance.now();
    const nonce = newNonce();
    const exchange = await this.shellProcess.exchange(wrapBlock(script, nonce), nonce, options);
    const durationMs = performance.now() - started;
    const parsed = parseEnvelope(exchange.stdout, nonce);
    const log = this.mask(joinLog(parsed.log, exchange.stderr));
    if (exchange.kind === 'ended') return { kind: 'crashed', reason: this.mask(`the shell ${exchange.reason}`), log, durationMs };
    if (exchange.kind !== 'answered') return { kind: exchange.kind, log, durationMs };
    if (parsed.envelope) return { kind: 'completed', envelope: maskEnvelope(parsed.envelope, this.mask), log, durationMs };
    // The block left the wrapper without reporting (`break`, a closed stdout): its state is unknown, so the shell goes.
    await this.shellProcess.kill('was killed after a block ended without a result');
    return { kind: 'crashed', reason: this.mask(`the block ended without a result (${parsed.problem})`), log, durationMs };
  }

  /** Ends the shell (politely first) and its children. Safe to call twice, and after the shell died. */
  async dispose(): Promise<void> {
    await this.shellProcess.close('was disposed', EXIT_GRACE_MS);
  }
}

/** Log text: stdout first, then whatever went to stderr (evidence, never a verdict). */
function joinLog(stdout: string, stderr: string): string {
  return [stdout, stderr.replaceAll('\r\n', '\n').trim()].filter((part) => part !== '').join('\n');
}

function maskEnvelope(envelope: Envelope, mask: (text: string) => string): Envelope {
  if (!envelope.ok) return { ok: false, error: maskError(envelope.error, mask) };
  if (!envelope.step) return envelope;
  return { ok: true, step: { ...envelope.step, outputs: maskRecord(envelope.step.outputs, mask) } };
}

function maskError(error: ScriptError, mask: (text: string) => string): ScriptError {
  return {
    ...error,
    message: mask(error.message),
    ...(error.category !== undefined && { category: mask(error.category) }),
    // `throw 'text'` makes the text its FullyQualifiedErrorId.
    ...(error.fullyQualifiedErrorId !== undefined && { fullyQualifiedErrorId: mask(error.fullyQualifiedErrorId) }),
  };
}

function maskRecord(record: Readonly<Record<string, unknown>>, mask: (text: string) => string): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, maskValue(value, mask)]));
}

function maskValue(value: unknown, mask: (text: string) => string): unknown {
  if (typeof value === 'string') return mask(value);
  if (Array.isArray(value)) return value.map((item) => maskValue(item, mask));
  if (typeof value === 'object' && value !== null) return maskRecord(value as Record<string, unknown>, mask);
  return value;
}

/* ---- executable and environment ---- */

/** The absolute path of an executable file for `shell`, or an EnvironmentError. */
function resolveExecutable(shell: string): string {
  const found = candidatePaths(shell).find(isExecutableFile);
  if (found) return found;
  const problem = hasDirectory(shell) ? `${shell} is not an executable file` : `"${shell}" was not found on PATH`;
  throw new EnvironmentError(`PowerShell is not available: ${problem}`, HINT);
}

function candidatePaths(shell: string): string[] {
  const bases = hasDirectory(shell) ? [resolve(shell)] : (process.env['PATH'] ?? '').split(PATH_LIST_SEPARATOR).filter((dir) => dir !== '').map((dir) => join(dir, shell));
  // Windows finds pwsh.exe for `pwsh`; .cmd/.bat wrappers cannot be spawned without a shell.
  const suffixes = process.platform === 'win32' ? ['', '.exe'] : [''];
  return bases.flatMap((base) => suffixes.map((suffix) => base + suffix));
}

function hasDirectory(shell: string): boolean {
  return shell.includes('/') || (process.platform === 'win32' && shell.includes('\\'));
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Variables PowerShell (and the .NET runtime under a dotnet-tool pwsh) needs; compared upper-case because Windows names are case-insensitive. */
const INHERITED = new Set(
  [
    'PATH', 'HOME', 'USERPROFILE', 'TEMP', 'TMP', 'TMPDIR', 'SystemRoot', 'windir', 'ComSpec', 'PATHEXT', 'LANG', 'LC_ALL', 'PSModulePath',
    'APPDATA', 'LOCALAPPDATA', 'ProgramFiles', 'ProgramData', 'COMPUTERNAME', 'USERNAME', 'USERDOMAIN', 'NUMBER_OF_PROCESSORS', 'PROCESSOR_ARCHITECTURE',
  ].map((name) => name.toUpperCase()),
);
const INHERITED_PREFIXES = ['DOTNET_', 'POWERSHELL_'];
/** Never passed, not even from StartOptions.env: they make node tooling print commands or run code in the child. */
const FORBIDDEN = new Set(['DEBUG', 'NODE_POWERSHELL', 'NODE_OPTIONS']);

/** The child's environment: the allow-list from ours, then the session's own variables (secrets), minus FORBIDDEN. */
export function childEnvironment(parent: NodeJS.ProcessEnv, extra: Readonly<Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {
    // pwsh on Unix otherwise writes cursor-key escape sequences (ESC[?1h ESC[?1l) around every stdin line.
    TERM: 'dumb',
  };
  for (const [name, value] of Object.entries(parent)) {
    const upper = name.toUpperCase();
    if (value !== undefined && (INHERITED.has(upper) || INHERITED_PREFIXES.some((prefix) => upper.startsWith(prefix)))) env[name] = value;
  }
  for (const [name, value] of Object.entries(extra)) env[name] = value;
  for (const name of Object.keys(env)) if (FORBIDDEN.has(name.toUpperCase())) delete env[name];
  return env;
}

/* ---- killing the process tree ---- */

/**
 * What the .NET runtime of a killed shell leaves in the temporary folder, named with its pid
 * (diagnostics sockets, debugger pipes, PowerShell's host pipe); a shell that exits removes them.
 */
function removeRuntimeFiles(pid: number): void {
  const folder = tmpdir();
  const mine = new RegExp(`^(?:CoreFxPipe_PSHost\\.[^.]+\\.${pid}\\.|clr-debug-pipe-${pid}-|dotnet-diagnostic-${pid}-)`);
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return;
  }
  for (const name of names) {
    if (!mine.test(name)) continue;
    try {
      rmSync(join(folder, name), { force: true });
    } catch {
      // Someone else's to clean, or already gone.
    }
  }
}

const execFileAsync = promisify(execFile);

/**
 * Kills a process and every process below it. node-powershell's dispose()
 * signals only the shell, and a killed pwsh leaves its children running.
 * Windows: taskkill /T. POSIX: stop (SIGSTOP) the tree top-down, re-reading the
 * process table until no new descendant appears, so nothing can fork while we
 * look; then SIGKILL every stopped process.
 */
async function killTree(pid: number): Promise<void> {
  if (process.platform === 'win32') {
    await execFileAsync('taskkill', ['/PID', String(pid), '/T', '/F'], { windowsHide: true }).catch(quiet);
    return;
  }
  for (const victim of await freezeTree(pid)) sendSignal(victim, 'SIGKILL');
}

async function freezeTree(root: number): Promise<number[]> {
  const frozen = new Set([root]);
  sendSignal(root, 'SIGSTOP');
  for (let round = 0; round < 10; round++) {
    const fresh = descendants(root, await processTable()).filter((pid) => !frozen.has(pid));
    if (fresh.length === 0) break;
    for (const pid of fresh) {
      sendSignal(pid, 'SIGSTOP');
      frozen.add(pid);
    }
  }
  return [...frozen];
}

/** `[pid, ppid]` of every process; empty when `ps` is unavailable (then only the shell itself is killed). */
async function processTable(): Promise<Array<[number, number]>> {
  try {
    const { stdout } = await execFileAsync('ps', ['-A', '-o', 'pid=,ppid=']);
    return stdout
      .split('\n')
      .map((line) => line.trim().split(/\s+/).map(Number))
      .filter((pair): pair is [number, number] => pair.length === 2 && pair.every(Number.isInteger));
  } catch {
    return [];
  }
}

function descendants(root: number, table: ReadonlyArray<readonly [number, number]>): number[] {
  const found: number[] = [];
  const queue = [root];
  for (let parent = queue.shift(); parent !== undefined; parent = queue.shift()) {
    for (const [pid, ppid] of table) {
      if (ppid === parent && !found.includes(pid)) {
        found.push(pid);
        queue.push(pid);
      }
    }
  }
  return found;
}

function sendSignal(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
