/**
 * The wire format between exch-cert and a PowerShell process fed through
 * `-Command -` (node-powershell).
 *
 * PowerShell reads such stdin like an interactive prompt: a multi-line
 * statement that looks unfinished waits for more input and swallows the
 * framing lines, and a stray quote leaves a string open. So every block goes
 * over the wire as ONE complete, ASCII-only line whose only variable parts are
 * Base64 and a nonce. The result comes back the same way: one JSON envelope,
 * Base64-encoded between `<<NONCE ` and ` NONCE>>`, so nothing a step prints
 * can be mistaken for it. Everything else on stdout is log text.
 *
 * Pure: no processes, no I/O.
 */
import { randomBytes } from 'node:crypto';
import * as z from 'zod';
import type { Envelope, ScriptError, StepReport } from './session.js';

/** A fresh marker for one exchange: 128 random bits as 32 lowercase hex characters. */
export function newNonce(): string {
  return randomBytes(16).toString('hex');
}

const NONCE = /^[A-Za-z0-9]+$/;

function assertNonce(nonce: string): void {
  // The nonce is pasted into PowerShell and into a regular expression; only our own newNonce() output belongs here.
  if (!NONCE.test(nonce)) throw new Error(`not an alphanumeric nonce: ${JSON.stringify(nonce)}`);
}

/**
 * Turns any value a step left in its Outputs into something ConvertTo-Json
 * writes the same way on Windows PowerShell 5.1 and PowerShell 7:
 * - `.psobject.BaseObject` drops the ETS wrapper that makes 5.1 write strings
 *   from Get-Content as `{"value":…,"PSPath":…}`;
 * - lists become `List[object]`, never a `[object[]]` that went through the
 *   pipeline: 5.1 writes a wrapped array as `{"value":[…],"Count":n}`, and
 *   `return ,$l` keeps one- and zero-element lists from being unrolled;
 * - dates become ISO 8601 (5.1 would write `"\/Date(ms)\/"`), enums their
 *   names, NaN/Infinity strings (5.1 would write invalid JSON);
 * - anything else, and anything nested deeper than 5 levels, becomes
 *   `[string]`, so no live object (a certificate, a SecureString) is walked.
 */
const NORMALIZE = [
  '$n = { param($v, $d)',
  'if ($null -eq $v) { return $null }',
  '$b = $v.psobject.BaseObject',
  'if ($b -is [string] -or $b -is [bool]) { return $b }',
  'if ($b -is [char] -or $b -is [enum] -or $b -is [guid]) { return [string]$b }',
  "if ($b -is [datetime]) { return $b.ToUniversalTime().ToString('o') }",
  "if ($b -is [datetimeoffset]) { return $b.ToString('o') }",
  'if ($b -is [double] -or $b -is [single]) { if ([double]::IsNaN($b) -or [double]::IsInfinity($b)) { return [string]$b }; return $b }',
  'if ($b -is [decimal] -or ($b -is [ValueType] -and $b.GetType().IsPrimitive)) { return $b }',
  'if ($d -ge 5) { return [string]$b }',
  'if ($b -is [Collections.IDictionary]) { $h = @{}; foreach ($p in $b.GetEnumerator()) { $h[[string]$p.Key] = & $n $p.Value ($d + 1) }; return $h }',
  'if ($b -is [Management.Automation.PSCustomObject]) { $h = @{}; foreach ($p in $v.psobject.Properties) { $h[$p.Name] = & $n $p.Value ($d + 1) }; return $h }',
  "if ($b -is [Collections.IEnumerable]) { $l = New-Object 'System.Collections.Generic.List[object]'; foreach ($i in $b) { $l.Add((& $n $i ($d + 1))) }; return ,$l }",
  'return [string]$b }',
].join('; ');

/**
 * Runs the block; afterwards `$c` is the step's report (`$global:ExchCert.Current`),
 * `$e` the error record it threw and `$x` that error's exception. A syntax error
 * surfaces as a MethodInvocationException from ScriptBlock.Create; the
 * ParseException inside it carries the real message, category and line.
 */
const RUN = [
  "$ErrorActionPreference = 'Stop'",
  '$c = $null',
  '$e = $null',
  '$x = $null',
  // Nothing but $ErrorActionPreference and these three $nulls is visible to the block: the decoded text is never stored in a variable.
  'try { if ($null -ne $global:ExchCert) { $global:ExchCert.Current = $null }; ' +
    '& ([scriptblock]::Create([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($args[0])))) | Out-Host; ' +
    'if ($null -ne $global:ExchCert) { $c = $global:ExchCert.Current } } ' +
    'catch { $e = $_; $x = $_.Exception; if ($x.InnerException -is [Management.Automation.ParseException]) { $x = $x.InnerException; $e = $x.ErrorRecord } }',
].join('; ');

/**
 * Builds the envelope as JSON in `$j`. A parse error's line is in its first
 * ParseError extent; a runtime error's line is relative to the block text,
 * because the block was compiled on its own.
 * If reporting itself fails, that failure is the envelope, never silence.
 */
const REPORT = [
  'try { if ($null -ne $e) { $line = 0; ' +
    'if ($x -is [Management.Automation.ParseException] -and $x.Errors.Count -gt 0) { $line = $x.Errors[0].Extent.StartLineNumber } ' +
    'elseif ($null -ne $e.InvocationInfo) { $line = $e.InvocationInfo.ScriptLineNumber }; ' +
    '$r = @{ ok = $false; error = @{ message = [string]$x.Message; category = [string]$e.CategoryInfo.Category; fqid = [string]$e.FullyQualifiedErrorId; line = [int]$line } } } ' +
    'elseif ($null -eq $c) { $r = @{ ok = $true; step = $null } } ' +
    'else { $r = @{ ok = $true; step = @{ Id = [string]$c.Id; Status = [string]$c.Status; Outputs = (& $n $c.Outputs 0) } } }; ' +
    '$j = ConvertTo-Json -InputObject $r -Depth 8 -Compress } ' +
    'catch { $j = \'{"ok":false,"error":{"message":\' + (ConvertTo-Json -InputObject (\'exch-cert: cannot report the result of the block: \' + $_.Exception.Message) -Compress) + \'}}\' }',
  "[Console]::Out.WriteLine('<<' + $args[1] + ' ' + [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($j)) + ' ' + $args[1] + '>>')",
  '[Console]::Out.Flush()',
].join('; ');

/**
 * The wrapper, defined once per shell by the handshake: each block is then one
 * short call, so PowerShell does not parse and compile the wrapper again for
 * every block. Its arguments are the Base64 payload and the nonce; its
 * variables stay in its own scope, and the block shares state with later
 * blocks only through `$global:` and `function global:`.
 */
const WRAPPER_FUNCTION = `function global:Invoke-ExchCertBlock { ${RUN}; ${NORMALIZE}; ${REPORT} }`;

/**
 * One line of PowerShell that runs `script` (any text, any length, any Unicode)
 * with `$ErrorActionPreference = 'Stop'` and writes its envelope to stdout.
 * The line is ASCII, has no line break, and is a complete statement, so the
 * `-Command -` reader runs it at once. Lone UTF-16 surrogates in `script`
 * arrive as U+FFFD (UTF-8 cannot carry them).
 */
export function wrapBlock(script: string, nonce: string): string {
  assertNonce(nonce);
  const payload = Buffer.from(script, 'utf8').toString('base64');
  return `Invoke-ExchCertBlock '${payload}' '${nonce}'`;
}

/**
 * A shell must never outlive exch-cert: an orphan would finish its step and save stale state over
 * what a resumed run did. A second runspace (its own thread) watches the parent process whose id
 * arrives in EXCH_CERT_PARENT_PID, and kills this shell at once when that parent is gone: exited,
 * its pid reused (another start time), or (Linux) this shell re-parented. Nothing runs after that.
 */
const PARENT_WATCHER = [
  "$exchCertParent = [int][Environment]::GetEnvironmentVariable('EXCH_CERT_PARENT_PID')",
  "[Environment]::SetEnvironmentVariable('EXCH_CERT_PARENT_PID', [NullString]::Value)",
  'if ($exchCertParent -gt 0) { $exchCertWatcher = [PowerShell]::Create(); $null = $exchCertWatcher.AddScript({ param($parentId) ' +
    '$self = [Diagnostics.Process]::GetCurrentProcess(); ' +
    "$stat = '/proc/self/stat'; " +
    "$ppid = { if ([IO.File]::Exists($stat)) { $t = [IO.File]::ReadAllText($stat); [int]($t.Substring($t.LastIndexOf(')') + 2).Split(' ')[1]) } else { 0 } }; " +
    '$first = & $ppid; ' +
    'try { $started = [Diagnostics.Process]::GetProcessById($parentId).StartTime } catch { $started = $null }; ' +
    'while ($true) { $gone = ($null -eq $started) -or ($first -ne 0 -and (& $ppid) -ne $first); ' +
    'if (-not $gone) { try { $p = [Diagnostics.Process]::GetProcessById($parentId); $gone = $p.HasExited -or $p.StartTime -ne $started } catch { $gone = $true } }; ' +
    'if ($gone) { try { $self.Kill($true) } catch { $self.Kill() } }; ' +
    '[Threading.Thread]::Sleep(200) } }).AddArgument($exchCertParent); $null = $exchCertWatcher.BeginInvoke() }',
].join('; ');

/**
 * The first command a new shell gets: quiet progress bars (they would garble
 * stdout), the parent watcher, UTF-8 console output where the host allows it,
 * and the edition and version between the markers, as `<<NONCE Core 7.6.9 NONCE>>`.
 */
export function handshakeCommand(nonce: string): string {
  assertNonce(nonce);
  return [
    "$global:ProgressPreference = 'SilentlyContinue'",
    PARENT_WATCHER,
    WRAPPER_FUNCTION,
    // Without a BOM: [Text.Encoding]::UTF8 would let 5.1 start the next output with one. Redirected 5.1 hosts may refuse the setter.
    'try { [Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false } catch { }',
    `[Console]::Out.WriteLine('<<${nonce} ' + [string]$PSVersionTable.PSEdition + ' ' + [string]$PSVersionTable.PSVersion + ' ${nonce}>>')`,
    '[Console]::Out.Flush()',
  ].join('; ');
}

/** What the handshake reported, or undefined when the answer is not one. */
export function parseHandshake(stdout: string, nonce: string): { readonly edition: 'Core' | 'Desktop'; readonly version: string } | undefined {
  assertNonce(nonce);
  // PowerShell before 5.1 has no PSEdition: an empty edition is Windows PowerShell.
  const match = new RegExp(`<<${nonce} (Core|Desktop|) (\\d+\\.\\d+[0-9A-Za-z.+-]*) ${nonce}>>`).exec(stdout);
  if (match?.[1] === undefined || !match[2]) return undefined;
  return { edition: match[1] === 'Core' ? 'Core' : 'Desktop', version: match[2] };
}

// PowerShell's [string]$null is '' and [int]$null is 0: both mean "not known".
const optionalText = z.string().transform((text) => (text === '' ? undefined : text));

const wireError = z.object({
  message: z.string(),
  category: optionalText.optional(),
  fqid: optionalText.optional(),
  line: z
    .number()
    .int()
    .transform((line) => (line > 0 ? line : undefined))
    .optional(),
});

const wireStep = z.object({
  Id: z.string(),
  Status: z.enum(['ok', 'changed', 'skipped']),
  // A step that never set an output may leave $null or an empty hashtable. Not z.record: it
  // copies keys by assignment, so an output named __proto__ would replace the object's prototype.
  Outputs: z
    .custom<Record<string, unknown>>((value) => typeof value === 'object' && value !== null && !Array.isArray(value), 'expected an object')
    .nullable()
    .optional(),
});

const wireEnvelope = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), step: wireStep.nullable() }),
  z.object({ ok: z.literal(false), error: wireError }),
]);

/** The result of reading one exchange's stdout. `problem` says why there is no envelope. */
export type ParsedOutput =
  | { readonly envelope: Envelope; readonly log: string }
  | { readonly envelope: undefined; readonly log: string; readonly problem: string };

/**
 * Finds the envelope between this exchange's markers and validates it. The
 * rest of stdout (Write-Host, warnings, formatted output) comes back as `log`.
 * Never throws: a missing, truncated or malformed envelope is reported as a
 * `problem`, because what a broken shell printed is evidence, not a bug.
 */
export function parseEnvelope(stdout: string, nonce: string): ParsedOutput {
  assertNonce(nonce);
  const open = `<<${nonce} `;
  const close = ` ${nonce}>>`;
  const start = stdout.lastIndexOf(open);
  const end = start < 0 ? -1 : stdout.indexOf(close, start + open.length);
  if (start < 0 || end < 0) {
    const log = cleanLog(start < 0 ? stdout : stdout.slice(0, start));
    return { envelope: undefined, log, problem: start < 0 ? 'no envelope' : 'the envelope is truncated' };
  }
  const log = cleanLog(joinAround(stdout.slice(0, start), stdout.slice(end + close.length)));
  const decoded = decodeEnvelope(stdout.slice(start + open.length, end));
  return typeof decoded === 'string' ? { envelope: undefined, log, problem: decoded } : { envelope: decoded, log };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The envelope, or a string saying what is wrong with the payload. */
function decodeEnvelope(payload: string): Envelope | string {
  // Buffer.from(…, 'base64') skips bad characters silently; a damaged payload must not half-decode.
  if (!BASE64.test(payload)) return 'the envelope is not valid Base64';
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(payload, 'base64')));
  } catch {
    return 'the envelope is not valid UTF-8 JSON';
  }
  const parsed = wireEnvelope.safeParse(json);
  if (!parsed.success) return `the envelope does not match the expected shape: ${z.prettifyError(parsed.error).replaceAll('\n', ' ')}`;
  const wire = parsed.data;
  return wire.ok ? { ok: true, step: wire.step && toStep(wire.step) } : { ok: false, error: toError(wire.error) };
}

function toStep(step: z.infer<typeof wireStep>): StepReport {
  return { id: step.Id, status: step.Status, outputs: step.Outputs ?? {} };
}

function toError(error: z.infer<typeof wireError>): ScriptError {
  return {
    message: error.message,
    ...(error.category !== undefined && { category: error.category }),
    ...(error.fqid !== undefined && { fullyQualifiedErrorId: error.fqid }),
    ...(error.line !== undefined && { line: error.line }),
  };
}

/** The text on both sides of a removed marker, without the empty line the marker's own line would leave. */
function joinAround(before: string, after: string): string {
  return before === '' || before.endsWith('\n') ? before + after.replace(/^\r?\n/, '') : before + after;
}

/** Log text with Windows line ends normalized and the blank edges (left by removed markers) trimmed. */
function cleanLog(text: string): string {
  return text
    .replaceAll('\r\n', '\n')
    .replace(/^\s*\n/, '')
    .trimEnd();
}
