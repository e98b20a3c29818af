import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { renderEpilogue, renderPrologue } from '../../src/plan/prologue.js';
import { createNodePowerShellFactory } from '../../src/powershell/node-powershell.js';
import { psString } from '../../src/powershell/quote.js';
import type { Envelope, InvokeOutcome, PowerShellSession } from '../../src/powershell/session.js';
import { pwshPath } from '../helpers/pwsh.js';
import { isRunning, numbersAfter } from './fake-shell.js';

/**
 * The adapter against a real PowerShell 7 (see test/helpers/pwsh.ts: required
 * in CI wherever PowerShell can be installed).
 */
const pwsh = pwshPath;

function expectCompleted(outcome: InvokeOutcome): { envelope: Envelope; log: string } {
  expect(outcome.kind, JSON.stringify(outcome)).toBe('completed');
  return outcome as Extract<InvokeOutcome, { kind: 'completed' }>;
}

/** A block as the compiler emits a step: header comment, then Invoke-ExchCertStep. */
const stepBlock = (id: string, body: string[], flags = ''): string =>
  [`# [1/1] ${id}: a test step`, `Invoke-ExchCertStep -Id ${psString(id)}${flags} -Body {`, ...body.map((line) => `    ${line}`), '}'].join('\n');

const SECRET = 'pfx pass ü’ $(not expanded)';

describe.skipIf(!pwsh)('node-powershell adapter (real pwsh)', { timeout: 60_000 }, () => {
  let session: PowerShellSession;
  let moduleDir: string;

  beforeAll(async () => {
    vi.stubEnv('EXCHCERT_TEST_CANARY', 'must not reach the shell');
    moduleDir = mkdtempSync(join(tmpdir(), 'exch-cert-pwsh-'));
    writeFileSync(join(moduleDir, 'FakeExchange.psm1'), 'function Get-ExchangeCertificate { param([string]$Server) @() }\nExport-ModuleMember -Function Get-ExchangeCertificate\n');
    session = await createNodePowerShellFactory({ shell: pwsh ?? 'pwsh' }).start({ env: { EXCHCERT_S1: SECRET, EXCHCERT_VISIBLE: 'visible' } });
  });

  afterAll(async () => {
    await session.dispose();
    vi.unstubAllEnvs();
    rmSync(moduleDir, { recursive: true, force: true });
  });

  it('reports PowerShell 7 (Core) in the handshake', () => {
    expect(session.info.edition).toBe('Core');
    expect(session.info.version).toMatch(/^7\.\d+\.\d+/);
  });

  it('keeps global functions and variables from one block to the next', async () => {
    expect(expectCompleted(await session.invoke("function global:F { param($x) 'F:' + $x }\n$global:Counter = @{ Calls = 1 }")).envelope).toEqual({ ok: true, step: null });
    const used = expectCompleted(await session.invoke("$global:Counter.Calls++\n$global:ExchCert = @{ Current = @{ Id = 'use'; Status = 'ok'; Outputs = @{ f = (F 'x'); calls = $global:Counter.Calls } } }"));
    expect(used.envelope).toEqual({ ok: true, step: { id: 'use', status: 'ok', outputs: { f: 'F:x', calls: 2 } } });
  });

  describe('with the real prologue', () => {
    beforeAll(async () => {
      const prologue = renderPrologue({ kind: 'module', server: 'EXCH01', modulePath: join(moduleDir, 'FakeExchange.psm1') }, [{ param: 'pfxPassword', env: 'EXCHCERT_S1' }], ['Get-ExchangeCertificate']);
      expect(expectCompleted(await session.invoke(prologue)).envelope).toEqual({ ok: true, step: null });
    });

    it('returns status and outputs, arrays kept as arrays (one element, none), and log text outside the envelope', async () => {
      const outcome = expectCompleted(
        await session.invoke(
          stepBlock('collect', [
            "Set-ExchCertOutput -Name 'one' -Value @('only')",
            "Set-ExchCertOutput -Name 'none' -Value @()",
            "Set-ExchCertOutput -Name 'many' -Value @('IIS', 'SMTP')",
            "Set-ExchCertOutput -Name 'nothing' -Value $null",
            "Set-ExchCertOutput -Name 'flag' -Value $true",
            "Set-ExchCertOutput -Name 'number' -Value 443",
            "Set-ExchCertOutput -Name 'nested' -Value @{ list = @('x'); when = [datetime]::new(2026, 1, 2, 3, 4, 5, [DateTimeKind]::Utc) }",
            "Write-Host 'exch-cert: progress'",
            "Write-Warning 'the old certificate expires soon'",
          ]),
        ),
      );
      expect(outcome.envelope).toEqual({
        ok: true,
        step: {
          id: 'collect',
          status: 'changed',
          outputs: { one: ['only'], none: [], many: ['IIS', 'SMTP'], nothing: null, flag: true, number: 443, nested: { list: ['x'], when: '2026-01-02T03:04:05.0000000Z' } },
        },
      });
      expect(outcome.log).toBe('exch-cert: progress\nWARNING: the old certificate expires soon\nexch-cert: step collect: changed');
    });

    it('lets a later step read earlier outputs, and reports ok and skipped', async () => {
      const readOnly = expectCompleted(await session.invoke(stepBlock('read', ["Set-ExchCertOutput -Name 'again' -Value (Get-ExchCertOutput -Step 'collect' -Name 'many')"], ' -ReadOnly')));
      expect(readOnly.envelope).toEqual({ ok: true, step: { id: 'read', status: 'ok', outputs: { again: ['IIS', 'SMTP'] } } });
      const skipped = expectCompleted(await session.invoke(stepBlock('maybe', ["throw 'not reached'"], ' -When { $false }')));
      expect(skipped.envelope).toEqual({ ok: true, step: { id: 'maybe', status: 'skipped', outputs: {} } });
    });

    it('reads a secret from StartOptions.env into a SecureString and removes the variable', async () => {
      const outcome = expectCompleted(
        await session.invoke(
          stepBlock('secret', [
            "$plain = [Net.NetworkCredential]::new('', $global:ExchCert.Secrets['pfxPassword']).Password",
            "Set-ExchCertOutput -Name 'matches' -Value ($plain -eq " + psString(SECRET) + ')',
            "Set-ExchCertOutput -Name 'left' -Value ([string]$env:EXCHCERT_S1)",
            "Set-ExchCertOutput -Name 'exists' -Value (Test-Path -LiteralPath 'Env:EXCHCERT_S1')",
          ]),
        ),
      );
      expect(outcome.envelope).toMatchObject({ ok: true, step: { outputs: { matches: true, left: '', exists: false } } });
    });

    it('runs the epilogue', async () => {
      expect(expectCompleted(await session.invoke(renderEpilogue())).envelope).toEqual({ ok: true, step: null });
    });
  });

  it('reports a thrown error with message, category, error id and the line in the block', async () => {
    const outcome = expectCompleted(await session.invoke(['# [1/1] fail: fails', "$global:ExchCert = @{ Current = $null; Outputs = @{} }", "Write-Host 'about to fail'", "throw 'exch-cert: no such certificate'"].join('\n')));
    expect(outcome.envelope).toEqual({
      ok: false,
      error: { message: 'exch-cert: no such certificate', category: 'OperationStopped', fullyQualifiedErrorId: 'exch-cert: no such certificate', line: 4 },
    });
    expect(outcome.log).toBe('about to fail');
  });

  it('stops at the first non-terminating error too, as $ErrorActionPreference = Stop promises', async () => {
    const outcome = expectCompleted(await session.invoke("Get-Item -Path '/nonexistent/exch-cert'\nWrite-Host 'not reached'"));
    expect(outcome.envelope).toMatchObject({ ok: false, error: { category: 'ObjectNotFound', fullyQualifiedErrorId: 'PathNotFound,Microsoft.PowerShell.Commands.GetItemCommand', line: 1 } });
    expect(outcome.log).toBe('');
  });

  it('reports a syntax error as ParserError with its line', async () => {
    const outcome = expectCompleted(await session.invoke("Write-Host 'fine'\n$x = {\n"));
    expect(outcome.envelope).toMatchObject({ ok: false, error: { category: 'ParserError', fullyQualifiedErrorId: 'MissingEndCurlyBrace', line: 2 } });
  });

  it('round-trips multi-line text with here-strings, nested braces, an unfinished-looking line and Unicode exactly', async () => {
    const value = 'ü ’quoted’ “double” 😀 \\ $(whoami) `n {';
    const hereString = 'line one ü\n  indented { not a block\n😀 end';
    const script = [
      '# [1/1] unicode: round trip',
      "$global:ExchCert = @{ Current = @{ Id = 'unicode'; Status = 'ok'; Outputs = @{} }; Outputs = @{} }",
      "$here = @'",
      hereString,
      "'@",
      '$sum = 1 +',
      '    2',
      'if ($sum -eq 3) {',
      '    foreach ($i in @(1)) { if ($true) { $global:ExchCert.Current.Outputs.nested = @{ depth = @{ i = $i } } } }',
      '}',
      `$global:ExchCert.Current.Outputs.value = ${psString(value)}`,
      '$global:ExchCert.Current.Outputs.here = $here',
      '$global:ExchCert.Current.Outputs.sum = $sum',
      `Write-Host ${psString(value)}`,
    ].join('\n');
    const outcome = expectCompleted(await session.invoke(script));
    expect(outcome.envelope).toEqual({ ok: true, step: { id: 'unicode', status: 'ok', outputs: { value, here: hereString, sum: 3, nested: { depth: { i: 1 } } } } });
    expect(outcome.log).toBe(value);
  });

  it('passes StartOptions.env and only allow-listed variables of this process', async () => {
    const outcome = expectCompleted(
      await session.invoke("$global:ExchCert = @{ Current = @{ Id = 'env'; Status = 'ok'; Outputs = @{ names = @(Get-ChildItem -Path env: | ForEach-Object { $_.Name }); visible = $env:EXCHCERT_VISIBLE } } }"),
    );
    if (!outcome.envelope.ok || !outcome.envelope.step) throw new Error('no step report');
    const { names, visible } = outcome.envelope.step.outputs as { names: string[]; visible: string };
    expect(visible).toBe('visible');
    expect(names).not.toContain('EXCHCERT_TEST_CANARY');
    // EXCHCERT_S1 was read by the prologue, which removes it; EXCH_CERT_PARENT_PID by the handshake.
    const allowed = /^(PATH|HOME|USERPROFILE|TEMP|TMP|TMPDIR|SYSTEMROOT|WINDIR|COMSPEC|PATHEXT|LANG|LC_ALL|PSMODULEPATH|APPDATA|LOCALAPPDATA|PROGRAMFILES|PROGRAMDATA|COMPUTERNAME|USERNAME|USERDOMAIN|NUMBER_OF_PROCESSORS|PROCESSOR_ARCHITECTURE|TERM|DOTNET_\w+|POWERSHELL_\w+|EXCHCERT_VISIBLE)$/i;
    expect(names.filter((name) => !allowed.test(name))).toEqual([]);
  });

  it.each([
    ['`exit 0`, which node-powershell resolves as an empty success', "Write-Host 'bye'\nexit 0", 'the shell exited with code 0'],
    ['a stray `break`, which leaves the wrapper before it reports', "Write-Host 'bye'\nbreak", 'the block ended without a result (no envelope)'],
  ])('reports %s as a crash and leaves the shell dead', async (_name, script, reason) => {
    const doomed = await createNodePowerShellFactory({ shell: pwsh ?? 'pwsh' }).start({ env: {} });
    try {
      expect(await doomed.invoke(script)).toMatchObject({ kind: 'crashed', reason, log: 'bye' });
      expect(doomed.dead).toBe(true);
    } finally {
      await doomed.dispose();
    }
  });

  it('kills pwsh and the processes it started when the watchdog fires, and leaves nothing behind', async () => {
    const doomed = await createNodePowerShellFactory({ shell: pwsh ?? 'pwsh' }).start({ env: {} });
    try {
      const outcome = await doomed.invoke(
        ["Write-Host ('pid ' + $PID)", "$child = Start-Process -FilePath 'sleep' -ArgumentList '300' -PassThru", "Write-Host ('child ' + $child.Id)", 'Start-Sleep -Seconds 60', "Write-Host 'unreachable'"].join('\n'),
        // Generous: Start-Process is slow the first time, and the test machine may be busy.
        { timeoutMs: 8000 },
      );
      expect(outcome.kind).toBe('timed_out');
      const pids = [...numbersAfter('pid', outcome.log), ...numbersAfter('child', outcome.log)];
      expect(pids).toHaveLength(2);
      for (const pid of pids) expect(isRunning(pid), `process ${pid}`).toBe(false);
      expect(outcome.log).not.toContain('unreachable');
      expect(doomed.dead).toBe(true);
    } finally {
      await doomed.dispose();
    }
  });
});
