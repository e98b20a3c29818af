/**
 * The real PowerShell parser, for tests that check our own PowerShell handling
 * against it. PowerShell takes about a second to start, so many scripts are
 * parsed in one process.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const repoRoot = join(import.meta.dirname, '..', '..');

/** One parse error, as PowerShell reports it (1-based line and column). */
export interface PwshError {
  readonly line: number;
  readonly column: number;
  readonly message: string;
  /** PowerShell's ErrorId, e.g. MissingEndCurlyBrace or TypeNotFound. */
  readonly errorId: string;
}

/** A StringConstantExpressionAst or ExpandableStringExpressionAst. Bare words (command names, bareword arguments) are string constants too. */
export interface PwshString {
  /** The string's value; unexpanded for an expandable string. */
  readonly value: string;
  readonly line: number;
  readonly column: number;
  /** The source text, quotes included. */
  readonly extentText: string;
}

export interface PwshParse {
  readonly errors: readonly PwshError[];
  readonly stringConstants: readonly PwshString[];
  /** `GetCommandName()` of every CommandAst; '' where there is none (`& $block`). */
  readonly commands: readonly string[];
  /** `VariablePath.UserPath` of every VariableExpressionAst, splats included. */
  readonly variables: readonly string[];
}

/**
 * `.tools/pwsh` of this repo, else `pwsh` on PATH, if it starts; undefined when
 * there is no PowerShell, and then the tests that need it say they are
 * skipped. With EXCH_CERT_REQUIRE_PWSH=1 (set by .ci/run wherever the .NET SDK
 * can install PowerShell) a missing PowerShell fails the run instead.
 */
export const pwshPath: string | undefined = [join(repoRoot, '.tools', 'pwsh'), 'pwsh'].find(
  (candidate) => (candidate === 'pwsh' || existsSync(candidate)) && spawnSync(candidate, ['--version'], { stdio: 'ignore', timeout: 60_000 }).status === 0,
);

if (!pwshPath) {
  if (process.env['EXCH_CERT_REQUIRE_PWSH'] === '1') {
    throw new Error('EXCH_CERT_REQUIRE_PWSH=1 but PowerShell 7 does not start: install it with `dotnet tool install --tool-path .tools PowerShell --version 7.6.9`');
  }
  // eslint-disable-next-line no-console -- a skip must be visible in the test output
  console.warn('SKIPPED: tests that need PowerShell 7 (no .tools/pwsh and no pwsh on PATH)');
}

/*
 * Scripts go in, and every string comes out, as base64 of their UTF-16 code
 * units, so that anything a JavaScript string can hold (NUL, lone surrogates,
 * text that ConvertFrom-Json would turn into a date) arrives unchanged. The
 * scripts are never part of a command line.
 */
const PARSER_SCRIPT = String.raw`
param([string]$InputPath, [string]$OutputPath)
$ErrorActionPreference = 'Stop'
# New-Object and extra statements cost more than the copying; $null arrives as ''.
function ConvertTo-Utf16Base64([string]$Text) {
    $bytes = [byte[]]::new($Text.Length * 2)
    [Buffer]::BlockCopy($Text.ToCharArray(), 0, $bytes, 0, $bytes.Length)
    [Convert]::ToBase64String($bytes)
}
function ConvertFrom-Utf16Base64([string]$Base64) {
    $bytes = [Convert]::FromBase64String($Base64)
    $chars = [char[]]::new($bytes.Length / 2)
    [Buffer]::BlockCopy($bytes, 0, $chars, 0, $bytes.Length)
    [string]::new($chars)
}
# Predicates made once: a script block turned into a delegate on every call is slow.
$isString = [Func[System.Management.Automation.Language.Ast, bool]] {
    param($node)
    $node -is [System.Management.Automation.Language.StringConstantExpressionAst] -or
    $node -is [System.Management.Automation.Language.ExpandableStringExpressionAst]
}
$isCommand = [Func[System.Management.Automation.Language.Ast, bool]] { param($node) $node -is [System.Management.Automation.Language.CommandAst] }
$isVariable = [Func[System.Management.Automation.Language.Ast, bool]] { param($node) $node -is [System.Management.Automation.Language.VariableExpressionAst] }
$results = foreach ($line in [IO.File]::ReadAllLines($InputPath)) {
    $text = ConvertFrom-Utf16Base64 $line
    $tokens = $null
    $errors = $null
    $ast = [System.Management.Automation.Language.Parser]::ParseInput($text, [ref]$tokens, [ref]$errors)
    @{
        errors = @(foreach ($e in $errors) { @{ line = $e.Extent.StartLineNumber; column = $e.Extent.StartColumnNumber; message = ConvertTo-Utf16Base64 $e.Message; errorId = $e.ErrorId } })
        stringConstants = @(foreach ($s in $ast.FindAll($isString, $true)) {
            @{ value = ConvertTo-Utf16Base64 $s.Value; line = $s.Extent.StartLineNumber; column = $s.Extent.StartColumnNumber; extentText = ConvertTo-Utf16Base64 $s.Extent.Text }
        })
        commands = @(foreach ($c in $ast.FindAll($isCommand, $true)) { ConvertTo-Utf16Base64 $c.GetCommandName() })
        variables = @(foreach ($v in $ast.FindAll($isVariable, $true)) { ConvertTo-Utf16Base64 $v.VariablePath.UserPath })
    }
}
[IO.File]::WriteAllText($OutputPath, (ConvertTo-Json -InputObject @($results) -Depth 5 -Compress))
`;

interface RawParse {
  errors: Array<{ line: number; column: number; message: string; errorId: string }>;
  stringConstants: Array<{ value: string; line: number; column: number; extentText: string }>;
  commands: string[];
  variables: string[];
}

const fromBase64 = (text: string): string => Buffer.from(text, 'base64').toString('utf16le');
const toBase64 = (text: string): string => Buffer.from(text, 'utf16le').toString('base64');

/** Parses every script with PowerShell's own parser, all in one pwsh process. */
export async function parseWithPwsh(scripts: readonly string[]): Promise<PwshParse[]> {
  if (!pwshPath) throw new Error('no PowerShell: guard the test with describe.skipIf(!pwshPath)');
  if (scripts.length === 0) return [];
  const dir = mkdtempSync(join(tmpdir(), 'exch-cert-pwsh-'));
  try {
    const parser = join(dir, 'parse.ps1');
    const input = join(dir, 'scripts.txt');
    const output = join(dir, 'result.json');
    writeFileSync(parser, PARSER_SCRIPT);
    // One line per script; the last newline keeps a final empty script.
    writeFileSync(input, `${scripts.map(toBase64).join('\n')}\n`);
    await promisify(execFile)(pwshPath, ['-NoProfile', '-NonInteractive', '-File', parser, input, output], {
      env: { ...process.env, POWERSHELL_TELEMETRY_OPTOUT: '1', POWERSHELL_UPDATECHECK: 'Off', DOTNET_CLI_TELEMETRY_OPTOUT: '1' },
      timeout: 300_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    const raw = JSON.parse(readFileSync(output, 'utf8')) as RawParse[];
    if (raw.length !== scripts.length) throw new Error(`pwsh parsed ${raw.length} scripts, expected ${scripts.length}`);
    return raw.map((parse) => ({
      errors: parse.errors.map((error) => ({ ...error, message: fromBase64(error.message) })),
      stringConstants: parse.stringConstants.map((string) => ({ ...string, value: fromBase64(string.value), extentText: fromBase64(string.extentText) })),
      commands: parse.commands.map(fromBase64),
      variables: parse.variables.map(fromBase64),
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/*
 * Evaluates expressions and returns their string values, moved as UTF-16 code
 * units like the parser's. Only for expressions the parser has already shown
 * to be data (literals, [char] codes and +).
 */
const EVALUATE_SCRIPT = String.raw`
param([string]$InputPath, [string]$OutputPath)
$ErrorActionPreference = 'Stop'
$results = foreach ($line in [IO.File]::ReadAllLines($InputPath)) {
    $bytes = [Convert]::FromBase64String($line)
    $chars = [char[]]::new($bytes.Length / 2)
    [Buffer]::BlockCopy($bytes, 0, $chars, 0, $bytes.Length)
    $value = [string](& ([scriptblock]::Create([string]::new($chars))))
    $out = [byte[]]::new($value.Length * 2)
    [Buffer]::BlockCopy($value.ToCharArray(), 0, $out, 0, $out.Length)
    [Convert]::ToBase64String($out)
}
[IO.File]::WriteAllLines($OutputPath, [string[]]@($results))
`;

/** The string each expression evaluates to, all in one pwsh process. */
export async function evaluateWithPwsh(expressions: readonly string[]): Promise<string[]> {
  if (!pwshPath) throw new Error('no PowerShell: guard the test with describe.skipIf(!pwshPath)');
  if (expressions.length === 0) return [];
  const dir = mkdtempSync(join(tmpdir(), 'exch-cert-pwsh-'));
  try {
    const script = join(dir, 'evaluate.ps1');
    const input = join(dir, 'expressions.txt');
    const output = join(dir, 'values.txt');
    writeFileSync(script, EVALUATE_SCRIPT);
    writeFileSync(input, `${expressions.map(toBase64).join('\n')}\n`);
    await promisify(execFile)(pwshPath, ['-NoProfile', '-NonInteractive', '-File', script, input, output], { timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });
    const values = readFileSync(output, 'utf8').split(/\r?\n/).slice(0, expressions.length);
    return values.map(fromBase64);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** How an argument was written, as far as the syntax tree tells. */
export type ArgumentKind = 'string' | 'number' | 'bool' | 'null' | 'variable' | 'array' | 'hashtable' | 'expression';

/** One element of a command: `-Name` (with its argument, if any) or a positional argument. */
export type CommandElement =
  | { readonly kind: 'parameter'; readonly name: string; readonly argument?: ArgumentKind; readonly colon?: boolean; readonly line: number }
  | { readonly kind: 'argument'; readonly argument: ArgumentKind; readonly line: number };

export interface CommandCall {
  readonly name: string;
  readonly line: number;
  readonly elements: readonly CommandElement[];
  /** The command is splatted (`@params`): its parameters cannot be known from the text. */
  readonly splatted: boolean;
}

const COMMANDS_SCRIPT = String.raw`
param([string]$InputPath, [string]$OutputPath)
$ErrorActionPreference = 'Stop'
$isCommand = [Func[System.Management.Automation.Language.Ast, bool]] { param($node) $node -is [System.Management.Automation.Language.CommandAst] }
function Get-ArgumentKind($node) {
    if ($node -is [System.Management.Automation.Language.StringConstantExpressionAst] -or $node -is [System.Management.Automation.Language.ExpandableStringExpressionAst]) { return 'string' }
    if ($node -is [System.Management.Automation.Language.ConstantExpressionAst]) { return 'number' }
    if ($node -is [System.Management.Automation.Language.VariableExpressionAst]) {
        $name = $node.VariablePath.UserPath
        if ($name -eq 'true' -or $name -eq 'false') { return 'bool' }
        if ($name -eq 'null') { return 'null' }
        return 'variable'
    }
    if ($node -is [System.Management.Automation.Language.ArrayExpressionAst] -or $node -is [System.Management.Automation.Language.ArrayLiteralAst]) { return 'array' }
    if ($node -is [System.Management.Automation.Language.HashtableAst]) { return 'hashtable' }
    return 'expression'
}
$results = foreach ($line in [IO.File]::ReadAllLines($InputPath)) {
    $bytes = [Convert]::FromBase64String($line)
    $chars = [char[]]::new($bytes.Length / 2)
    [Buffer]::BlockCopy($bytes, 0, $chars, 0, $bytes.Length)
    $tokens = $null
    $errors = $null
    $ast = [System.Management.Automation.Language.Parser]::ParseInput([string]::new($chars), [ref]$tokens, [ref]$errors)
    ,@(foreach ($command in $ast.FindAll($isCommand, $true)) {
        $elements = @()
        $splatted = $false
        $skip = $false
        $parts = $command.CommandElements
        for ($i = 1; $i -lt $parts.Count; $i++) {
            $part = $parts[$i]
            if ($part -is [System.Management.Automation.Language.CommandParameterAst]) {
                $element = @{ kind = 'parameter'; name = $part.ParameterName; line = $part.Extent.StartLineNumber }
                if ($part.Argument) { $element.argument = Get-ArgumentKind $part.Argument; $element.colon = $true }
                elseif ($i + 1 -lt $parts.Count -and -not ($parts[$i + 1] -is [System.Management.Automation.Language.CommandParameterAst])) { $element.argument = Get-ArgumentKind $parts[$i + 1]; $i++ }
                $elements += $element
            } elseif ($part -is [System.Management.Automation.Language.VariableExpressionAst] -and $part.Splatted) {
                $splatted = $true
            } else {
                $elements += @{ kind = 'argument'; argument = (Get-ArgumentKind $part); line = $part.Extent.StartLineNumber }
            }
        }
        @{ name = [string]$command.GetCommandName(); line = $command.Extent.StartLineNumber; elements = $elements; splatted = $splatted }
    })
}
[IO.File]::WriteAllText($OutputPath, (ConvertTo-Json -InputObject @($results) -Depth 8 -Compress))
`;

/**
 * Every command call in each script, from PowerShell's own syntax tree. A switch followed by a
 * value is read as a parameter with an argument (PowerShell would bind the value positionally):
 * the conformance check then reports it as a switch given a value.
 */
export async function commandsWithPwsh(scripts: readonly string[]): Promise<CommandCall[][]> {
  if (!pwshPath) throw new Error('no PowerShell: guard the test with describe.skipIf(!pwshPath)');
  const dir = mkdtempSync(join(tmpdir(), 'exch-cert-pwsh-'));
  try {
    const script = join(dir, 'commands.ps1');
    const input = join(dir, 'scripts.txt');
    const output = join(dir, 'commands.json');
    writeFileSync(script, COMMANDS_SCRIPT);
    writeFileSync(input, `${scripts.map(toBase64).join('\n')}\n`);
    await promisify(execFile)(pwshPath, ['-NoProfile', '-NonInteractive', '-File', script, input, output], { timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });
    const parsed = JSON.parse(readFileSync(output, 'utf8')) as unknown;
    // ConvertTo-Json unwraps one-element arrays; put them back.
    const asArray = <T>(value: T | readonly T[] | null | undefined): T[] => (value === null || value === undefined ? [] : Array.isArray(value) ? [...(value as T[])] : [value as T]);
    return asArray(parsed as CommandCall[][]).map((calls) => asArray(calls as CommandCall[] | CommandCall).map((call) => ({ ...call, elements: asArray(call.elements) })));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
