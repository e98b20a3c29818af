import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { EnvironmentError, ExitCode } from '../../src/errors.js';
import { childEnvironment, createNodePowerShellFactory, type NodePowerShellOptions } from '../../src/powershell/node-powershell.js';
import type { InvokeOutcome, PowerShellSession } from '../../src/powershell/session.js';
import { installFakeShell, isRunning, numbersAfter } from './fake-shell.js';

/**
 * The adapter against test/fake-shell/fake-pwsh.mjs, which follows
 * node-powershell's framing exactly. Each test reproduces one trap from
 * docs §2 of the bridge reference and checks the adapter's answer to it.
 */
describe.skipIf(process.platform === 'win32')('node-powershell adapter (fake shell)', () => {
  let fake: ReturnType<typeof installFakeShell>;
  const sessions: PowerShellSession[] = [];

  beforeAll(() => {
    fake = installFakeShell();
  });
  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((session) => session.dispose()));
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });
  afterAll(() => fake.remove());

  async function start(env: Record<string, string> = {}, options: Partial<NodePowerShellOptions> = {}): Promise<PowerShellSession> {
    const session = await createNodePowerShellFactory({ shell: fake.path, ...options }).start({ env });
    sessions.push(session);
    return session;
  }

  const directives = (...lines: string[]): string => ['# [1/1] test: a block as the engine sends it', ...lines.map((line) => `#fake: ${line}`)].join('\n');

  function expectKind<K extends InvokeOutcome['kind']>(outcome: InvokeOutcome, kind: K): Extract<InvokeOutcome, { kind: K }> {
    expect(outcome.kind, JSON.stringify(outcome)).toBe(kind);
    return outcome as Extract<InvokeOutcome, { kind: K }>;
  }

  describe('start', () => {
    it('answers the handshake with the edition and version the shell reports', async () => {
      const session = await start();
      expect(session.info).toEqual({ executable: fake.path, edition: 'Core', version: '7.99.0-fake', pid: expect.any(Number) });
      expect(session.dead).toBe(false);
    });

    it('throws EnvironmentError (exit 3) with a hint when the executable is not on PATH', async () => {
      const starting = createNodePowerShellFactory({ shell: 'exch-cert-no-such-shell' }).start({ env: {} });
      await expect(starting).rejects.toThrow(EnvironmentError);
      await expect(starting).rejects.toMatchObject({
        exitCode: ExitCode.environment,
        message: expect.stringContaining('"exch-cert-no-such-shell" was not found on PATH'),
        hint: 'install PowerShell 7 or pass --shell PATH',
      });
    });

    it('throws EnvironmentError when the path is not an executable file', async () => {
      const notExecutable = join(fake.dir, 'not-executable');
      writeFileSync(notExecutable, 'text', { mode: 0o644 });
      await expect(createNodePowerShellFactory({ shell: notExecutable }).start({ env: {} })).rejects.toThrow(/is not an executable file/);
      await expect(createNodePowerShellFactory({ shell: fake.dir }).start({ env: {} })).rejects.toThrow(EnvironmentError);
    });

    it('turns a spawn failure into EnvironmentError, never an unhandled rejection', async () => {
      // Executable, so resolution passes, but exec fails (ENOENT for the interpreter): the
      // spawn error fires after `new PowerShell`, which crashes Node unless something awaits it.
      const badInterpreter = join(fake.dir, 'bad-interpreter');
      writeFileSync(badInterpreter, '#!/nonexistent/interpreter\n', { mode: 0o755 });
      const unhandled = vi.fn();
      process.on('unhandledRejection', unhandled);
      try {
        await expect(createNodePowerShellFactory({ shell: badInterpreter }).start({ env: {} })).rejects.toThrow(/could not be started: spawn .*ENOENT/);
        await new Promise((settle) => setTimeout(settle, 200));
        expect(unhandled).not.toHaveBeenCalled();
      } finally {
        process.off('unhandledRejection', unhandled);
      }
    });

    it('reports a shell that exits at start, with what it printed', async () => {
      await expect(start({ FAKE_PWSH_MODE: 'exit-at-start' })).rejects.toThrow(/exited with code 7: fake-pwsh: cannot start/);
    });

    it('reports a shell that answers the handshake with something else', async () => {
      await expect(start({ FAKE_PWSH_MODE: 'bad-handshake' })).rejects.toThrow(/did not answer like PowerShell: "Welcome to some other shell"/);
    });

    it('refuses PowerShell 4.0 (no PSEdition) with a message that says what to install', async () => {
      await expect(start({ FAKE_PWSH_MODE: 'powershell-4' })).rejects.toMatchObject({
        message: expect.stringMatching(/is PowerShell 4\.0; exch-cert needs Windows PowerShell 5\.1 or PowerShell 7$/),
        hint: expect.stringContaining('install WMF 5.1'),
        exitCode: 3,
      });
    });

    it('gives up on a shell that does not answer the handshake in time', async () => {
      await expect(start({ FAKE_PWSH_MODE: 'hang-handshake' }, { handshakeTimeoutMs: 300 })).rejects.toThrow(/did not answer within 0.3 s/);
    });
  });

  describe('outcomes', () => {
    it('completes with the step report and keeps log text and stderr out of the verdict', async () => {
      const session = await start();
      const outcome = expectKind(
        await session.invoke(directives('log exch-cert: step s1: changed', 'stderr a warning on stderr', 'step s1 changed {"list":["a"],"none":null}')),
        'completed',
      );
      expect(outcome.envelope).toEqual({ ok: true, step: { id: 's1', status: 'changed', outputs: { list: ['a'], none: null } } });
      expect(outcome.log).toBe('exch-cert: step s1: changed\na warning on stderr');
      expect(outcome.durationMs).toBeGreaterThanOrEqual(0);
    });

    it('completes with step null for a block that is not a step (the prologue)', async () => {
      const session = await start();
      expect(expectKind(await session.invoke(directives('log prologue')), 'completed').envelope).toEqual({ ok: true, step: null });
    });

    it('completes with ok:false and the error when the block threw', async () => {
      const session = await start();
      const outcome = expectKind(await session.invoke(directives('log trying', 'throw exch-cert: no such certificate')), 'completed');
      expect(outcome.envelope).toEqual({
        ok: false,
        error: { message: 'exch-cert: no such certificate', category: 'OperationStopped', fullyQualifiedErrorId: 'exch-cert: no such certificate', line: 3 },
      });
      expect(session.dead).toBe(false);
      expectKind(await session.invoke(directives('log still alive')), 'completed');
    });

    it('sends any block as one line the stdin reader takes whole', async () => {
      const session = await start();
      const tricky = ['$x = @"', 'a "quoted" \'here\'-string with ’ and `backticks` {', '"@', 'if ($true) {', '[Console]::Out.WriteLine("x")', directives('log done')].join('\n');
      const outcome = expectKind(await session.invoke(tricky), 'completed');
      expect(outcome.log).toBe('done');
    });

    it('reports a crash mid-invoke with the exit code and what was printed, stderr included', async () => {
      const session = await start();
      const outcome = expectKind(await session.invoke(directives('log before the crash', 'stderr dying now', 'exit 3')), 'crashed');
      expect(outcome.reason).toBe('the shell exited with code 3');
      expect(outcome.log).toBe('before the crash\ndying now');
      expect(session.dead).toBe(true);
      const after = expectKind(await session.invoke(directives('log never runs')), 'crashed');
      expect(after.reason).toBe('the shell is not running (it exited with code 3)');
    });

    it('treats `exit 0` as a crash, though node-powershell resolves it as success', async () => {
      const session = await start();
      expect(expectKind(await session.invoke(directives('exit 0')), 'crashed').reason).toBe('the shell exited with code 0');
    });

    it('treats an answer without an envelope as a crash and kills the shell', async () => {
      const session = await start();
      const outcome = expectKind(await session.invoke(directives('log half', 'no-envelope')), 'crashed');
      expect(outcome.reason).toBe('the block ended without a result (no envelope)');
      expect(outcome.log).toBe('half');
      expect(session.dead).toBe(true);
    });

    it('treats a damaged envelope as a crash', async () => {
      const session = await start();
      expect(expectKind(await session.invoke(directives('garbage')), 'crashed').reason).toBe('the block ended without a result (the envelope is not valid Base64)');
    });
  });

  describe('watchdog and abort', () => {
    it('kills the shell, its child and its grandchild when the block runs too long', async () => {
      const session = await start();
      const outcome = expectKind(await session.invoke(directives('pid', 'spawn', 'sleep 30000', 'log unreachable'), { timeoutMs: 2000 }), 'timed_out');
      const pids = [...numbersAfter('pid', outcome.log), ...numbersAfter('child', outcome.log), ...numbersAfter('grandchild', outcome.log)];
      expect(pids).toHaveLength(3);
      for (const pid of pids) expect(isRunning(pid), `process ${pid}`).toBe(false);
      expect(outcome.log).not.toContain('unreachable');
      expect(outcome.durationMs).toBeGreaterThanOrEqual(1990);
      expect(session.dead).toBe(true);
      expect(expectKind(await session.invoke(directives('log x')), 'crashed').reason).toBe('the shell is not running (it was killed by the watchdog after 2000 ms)');
    });

    it('kills the shell when the signal aborts a running block', async () => {
      const controller = new AbortController();
      // Abort once the block is surely running: when its first line arrives.
      const session = await start({}, { onLog: (line) => line.startsWith('pid ') && controller.abort() });
      const running = session.invoke(directives('pid', 'sleep 30000'), { signal: controller.signal });
      const outcome = expectKind(await running, 'aborted');
      const [pid] = numbersAfter('pid', outcome.log);
      expect(pid).toBeDefined();
      expect(isRunning(pid ?? 0)).toBe(false);
      expect(session.dead).toBe(true);
    });

    it('does not run a block whose signal is already aborted, and kills the shell', async () => {
      const session = await start();
      const outcome = expectKind(await session.invoke(directives('log must not run'), { signal: AbortSignal.abort() }), 'aborted');
      expect(outcome.log).toBe('');
      expect(session.dead).toBe(true);
    });

    it('stops everything when a queued block is aborted', async () => {
      const session = await start();
      const controller = new AbortController();
      const first = session.invoke(directives('sleep 30000'));
      const second = session.invoke(directives('log must not run'), { signal: controller.signal });
      setTimeout(() => controller.abort(), 200);
      expectKind(await second, 'aborted');
      expect(expectKind(await first, 'crashed').reason).toBe('the shell was killed because the run was aborted');
    });
  });

  describe('queue and lifecycle', () => {
    it('runs concurrent invokes one at a time, in call order, each with its own log', async () => {
      const session = await start();
      const finished: string[] = [];
      const track = (name: string) => (outcome: InvokeOutcome) => (finished.push(name), outcome);
      const [a, b, c] = await Promise.all([
        session.invoke(directives('log a', 'sleep 300', 'step a ok {}')).then(track('a')),
        session.invoke(directives('log b', 'step b ok {}')).then(track('b')),
        session.invoke(directives('log c', 'step c skipped {}')).then(track('c')),
      ]);
      expect(finished).toEqual(['a', 'b', 'c']);
      expect([a, b, c].map((outcome) => expectKind(outcome, 'completed').log)).toEqual(['a', 'b', 'c']);
      expect(expectKind(c, 'completed').envelope).toEqual({ ok: true, step: { id: 'c', status: 'skipped', outputs: {} } });
    });

    it('resolves an invoke that dispose() interrupts as crashed, not as an empty success', async () => {
      let blockRunning = (): void => undefined;
      const started = new Promise<void>((settle) => (blockRunning = settle));
      const session = await start({}, { onLog: (line) => line.startsWith('pid ') && blockRunning() });
      const running = session.invoke(directives('pid', 'sleep 30000'));
      await started;
      await session.dispose();
      const outcome = expectKind(await running, 'crashed');
      expect(outcome.reason).toBe('the shell was disposed');
      expect(isRunning(numbersAfter('pid', outcome.log)[0] ?? 0)).toBe(false);
    });

    it('disposes twice, and after the shell is gone, without complaint', async () => {
      const session = await start();
      expectKind(await session.invoke(directives('exit 2')), 'crashed');
      await session.dispose();
      await session.dispose();
      const fresh = await start();
      await Promise.all([fresh.dispose(), fresh.dispose()]);
      expect(fresh.dead).toBe(true);
      expect(expectKind(await fresh.invoke(directives('log x')), 'crashed').reason).toBe('the shell is not running (it was disposed)');
    });
  });

  describe('secrets and environment', () => {
    it('masks logs, stderr, errors, outputs, crash logs and live log lines', async () => {
      const onLog = vi.fn();
      const mask = (text: string): string => text.replaceAll('hunter2', '***');
      const session = await start({}, { mask, onLog });
      const failed = expectKind(await session.invoke(directives('log password hunter2', 'stderr stderr hunter2', 'throw bad password hunter2')), 'completed');
      expect(failed.log).toBe('password ***\nstderr ***');
      expect(failed.envelope).toMatchObject({ ok: false, error: { message: 'bad password ***', fullyQualifiedErrorId: 'bad password ***' } });
      const outputs = expectKind(await session.invoke(directives('step s ok {"p":"hunter2","nested":{"list":["x hunter2"]},"n":1}')), 'completed');
      expect(outputs.envelope).toEqual({ ok: true, step: { id: 's', status: 'ok', outputs: { p: '***', nested: { list: ['x ***'] }, n: 1 } } });
      const crashed = expectKind(await session.invoke(directives('log last words hunter2', 'exit 1')), 'crashed');
      expect(crashed.log).toBe('last words ***');
      // stdout and stderr are separate pipes: their lines interleave in any order.
      const lines = onLog.mock.calls.map(([line]) => line as string).sort();
      expect(lines).toEqual(['last words ***', 'password ***', 'stderr ***']);
    });

    it('masks start-up errors', async () => {
      const mask = (text: string): string => text.replaceAll('other', '***');
      await expect(start({ FAKE_PWSH_MODE: 'bad-handshake' }, { mask })).rejects.toThrow('"Welcome to some *** shell"');
    });

    it('passes StartOptions.env and an allow-list of this environment, nothing else', async () => {
      vi.stubEnv('EXCHCERT_TEST_CANARY', 'must not leak');
      vi.stubEnv('DOTNET_ROOT', '/opt/dotnet-test');
      const session = await start({ EXCHCERT_S1: 'secret value', NODE_OPTIONS: '--require /nonexistent/hook.cjs', DEBUG: '*' });
      const outcome = expectKind(await session.invoke(directives('env')), 'completed');
      const env = JSON.parse(outcome.log.replace(/^env /, '')) as Record<string, string>;
      expect(env['EXCHCERT_S1']).toBe('secret value');
      expect(env['DOTNET_ROOT']).toBe('/opt/dotnet-test');
      expect(env['TERM']).toBe('dumb');
      expect(env).not.toHaveProperty('EXCHCERT_TEST_CANARY');
      expect(env).not.toHaveProperty('NODE_OPTIONS');
      expect(env).not.toHaveProperty('DEBUG');
    });

    it('prints no command under DEBUG=*, where node-powershell would log every one', async () => {
      // `debug` reads DEBUG when first loaded; enabling it here is what DEBUG=* at start-up does.
      const debug = createRequire(import.meta.url)('debug') as { enable(namespaces: string): void; disable(): string };
      vi.stubEnv('DEBUG', '*');
      debug.enable('*');
      const consoleLog = vi.spyOn(console, 'log').mockImplementation(() => undefined);
      const stderrWrite = vi.spyOn(process.stderr, 'write');
      try {
        const session = await start();
        expectKind(await session.invoke(directives('log x'), {}), 'completed');
        const printed = [...consoleLog.mock.calls, ...stderrWrite.mock.calls].map((args) => args.map(String).join(' ')).join('\n');
        expect(printed).not.toMatch(/FromBase64String|PSVersionTable|PWSH:/);
      } finally {
        debug.disable();
      }
    });
  });

  describe('childEnvironment', () => {
    it('matches allow-listed names case-insensitively, as Windows does', () => {
      const env = childEnvironment({ Path: 'C:\\Windows', SystemRoot: 'C:\\Windows', POWERSHELL_TELEMETRY_OPTOUT: '1', AWS_SECRET_ACCESS_KEY: 'x', node_options: '--inspect' }, { Debug: '1' });
      expect(env).toEqual({ TERM: 'dumb', Path: 'C:\\Windows', SystemRoot: 'C:\\Windows', POWERSHELL_TELEMETRY_OPTOUT: '1' });
    });
  });
});
