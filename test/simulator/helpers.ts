/**
 * What the simulator's tests share: a long-lived pwsh that runs their
 * scripts one after another (starting PowerShell costs about two CPU-seconds,
 * and the machine has two cores), separate pwsh processes where a test needs
 * one (crashes, locks, concurrency), and the parts of the state file the tests
 * read. Each test file makes its own host and fixture in its own temporary
 * folders, so the files run in parallel.
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pwshPath } from '../helpers/pwsh.js';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const PWSH = pwshPath ?? join(REPO, '.tools', 'pwsh');
export const SIMULATOR_DIR = join(REPO, 'src', 'simulator');
/** The module as exch-cert imports it (the CLI and generated scripts name the .psm1). */
export const MODULE = join(SIMULATOR_DIR, 'ExchCertSimulator.psm1');
export const MANIFEST = join(SIMULATOR_DIR, 'ExchCertSimulator.psd1');

export const PFX_PASSWORD = 'Correct-Horse-Battery-1';
export const BACKUP_PASSWORD = 'Backup-Staple-2';
const TEST_ENV = { TEST_PFX_PASSWORD: PFX_PASSWORD, TEST_BACKUP_PASSWORD: BACKUP_PASSWORD };

export const psQuote = (text: string): string => `'${text.replace(/'/g, "''")}'`;

/**
 * Every test script starts like this: a local Stop preference (which the
 * simulated Exchange cmdlets, like implicit-remoting proxies, do not see),
 * helpers, and the two test passwords as SecureStrings.
 */
const PREAMBLE = [
  "$ErrorActionPreference = 'Stop'",
  "$ProgressPreference = 'SilentlyContinue'",
  "function Out-Result($Value) { 'RESULT:' + (ConvertTo-Json -InputObject $Value -Depth 8 -Compress) }",
  '# The message of the exception the block throws, or $null.',
  'function Get-ErrorText([scriptblock]$Block) { try { $null = & $Block; return $null } catch { return [string]$_.Exception.Message } }',
  '# The messages of the errors the block writes to the error stream (it must not throw).',
  'function Get-WrittenErrors([scriptblock]$Block) { return , @(& $Block 2>&1 | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] } | ForEach-Object { [string]$_.Exception.Message }) }',
  "$pfxPassword = ConvertTo-SecureString -String $env:TEST_PFX_PASSWORD -AsPlainText -Force",
  "$backupPassword = ConvertTo-SecureString -String $env:TEST_BACKUP_PASSWORD -AsPlainText -Force",
  '',
].join('\n');

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program; never rejects (the exit code is part of the result). */
export function run(file: string, args: readonly string[], options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      file,
      [...args],
      { cwd: options.cwd ?? REPO, env: { ...process.env, ...TEST_ENV, ...options.env }, timeout: options.timeoutMs ?? 90_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** The RESULT line of a script's output. */
export function parseResult<T>(output: string): T | undefined {
  const line = output.split(/\r?\n/).find((l) => l.startsWith('RESULT:'));
  return line ? (JSON.parse(line.slice('RESULT:'.length)) as T) : undefined;
}

/** A script file that imports the module (unless importModule is false), then runs code after the preamble. */
export function writeScript(dir: string, code: string, importModule = true): string {
  const script = join(dir, `test-${Math.random().toString(36).slice(2)}.ps1`);
  const load = importModule ? `Import-Module -Name ${psQuote(MODULE)} -Force -DisableNameChecking\n` : '';
  writeFileSync(script, `${PREAMBLE}${load}${code}\n`);
  return script;
}

/** Starts PowerShell code in its own pwsh process (stdin open), with dir/state.json as the state. */
export function spawnPwsh(dir: string, code: string, env: Record<string, string> = {}): ChildProcessWithoutNullStreams {
  return spawn(PWSH, ['-NoProfile', '-NonInteractive', '-File', writeScript(dir, code)], { cwd: dir, env: { ...process.env, ...TEST_ENV, EXCH_CERT_SIMULATOR_STATE: join(dir, 'state.json'), ...env } });
}

/** Runs PowerShell code in its own pwsh process, with dir/state.json as the state (and the module imported unless importModule is false). */
export async function pwshProcess<T = Record<string, unknown>>(dir: string, code: string, env: Record<string, string> = {}, importModule = true): Promise<Run & { result: T | undefined }> {
  const result = await run(PWSH, ['-NoProfile', '-NonInteractive', '-File', writeScript(dir, code, importModule)], { cwd: dir, env: { EXCH_CERT_SIMULATOR_STATE: join(dir, 'state.json'), ...env } });
  return { ...result, result: parseResult<T>(result.stdout) };
}

interface HostAnswer {
  ok: boolean;
  output: string;
  error: string;
}

/**
 * One long-lived `pwsh -NoProfile -NonInteractive` that runs scripts one
 * after another, each in its own scope, directory, state file and
 * environment; the global error preference is reset to Continue before each.
 * Requests are JSON lines on stdin; each answer is one
 * '@@EXCHSIM <id> <base64 JSON>' line on stdout.
 */
export class PwshHost {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending = new Map<string, { resolve: (answer: HostAnswer) => void; reject: (error: Error) => void }>();
  private stdout = '';
  private stderr = '';
  private next = 0;

  constructor(dir: string) {
    const script = join(dir, 'host.ps1');
    writeFileSync(
      script,
      [
        `Import-Module -Name ${psQuote(MODULE)} -DisableNameChecking`,
        'while ($null -ne ($line = [Console]::In.ReadLine())) {',
        '    $request = ConvertFrom-Json -InputObject $line',
        "    $answer = @{ ok = $true; output = ''; error = '' }",
        '    $saved = @{}',
        "    $global:ErrorActionPreference = 'Continue'",
        '    try {',
        '        Set-Location -LiteralPath $request.dir',
        "        $env:EXCH_CERT_SIMULATOR_STATE = Join-Path $request.dir 'state.json'",
        '        foreach ($property in $request.env.PSObject.Properties) { $saved[$property.Name] = [Environment]::GetEnvironmentVariable($property.Name); [Environment]::SetEnvironmentVariable($property.Name, [string]$property.Value) }',
        '        $block = [scriptblock]::Create([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($request.script)))',
        "        $answer.output = (@(& $block) | ForEach-Object { [string]$_ }) -join \"`n\"",
        '    } catch {',
        '        $answer.ok = $false',
        "        $answer.error = [string]$_.Exception.Message + \"`n\" + [string]$_.ScriptStackTrace",
        '    } finally {',
        '        foreach ($name in $saved.Keys) { [Environment]::SetEnvironmentVariable($name, $saved[$name]) }',
        '    }',
        "    [Console]::Out.WriteLine(\"`n@@EXCHSIM \" + $request.id + ' ' + [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes((ConvertTo-Json -InputObject $answer -Compress))))",
        '}',
      ].join('\n'),
    );
    this.child = spawn(PWSH, ['-NoProfile', '-NonInteractive', '-File', script], { cwd: dir, env: { ...process.env, ...TEST_ENV } });
    this.child.stdout.setEncoding('utf8');
    this.child.stderr.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => this.onStdout(chunk));
    this.child.stderr.on('data', (chunk: string) => (this.stderr += chunk));
    this.child.on('exit', (code) => {
      for (const { reject } of this.pending.values()) reject(new Error(`the pwsh host exited (${code}):\n${this.stderr}`));
      this.pending.clear();
    });
  }

  private onStdout(chunk: string): void {
    this.stdout += chunk;
    let newline: number;
    while ((newline = this.stdout.indexOf('\n')) >= 0) {
      const line = this.stdout.slice(0, newline).trim();
      this.stdout = this.stdout.slice(newline + 1);
      const match = /@@EXCHSIM (\S+) (\S+)$/.exec(line);
      if (!match) continue;
      const waiter = this.pending.get(match[1]!);
      this.pending.delete(match[1]!);
      waiter?.resolve(JSON.parse(Buffer.from(match[2]!, 'base64').toString('utf8')) as HostAnswer);
    }
  }

  /** Runs PowerShell code (after the preamble) with dir as location, dir/state.json as the state, and env set for it. */
  run(dir: string, code: string, env: Record<string, string> = {}): Promise<HostAnswer> {
    const id = String(++this.next);
    const script = Buffer.from(PREAMBLE + code, 'utf8').toString('base64');
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.stdin.write(JSON.stringify({ id, dir, script, env }) + '\n');
    });
  }

  /** Runs a script that must succeed and print a RESULT line; returns that result. */
  async ok<T = Record<string, unknown>>(dir: string, code: string, env: Record<string, string> = {}): Promise<T> {
    const answer = await this.run(dir, code, env);
    const result = parseResult<T>(answer.output);
    if (!answer.ok || result === undefined) throw new Error(`PowerShell failed: ${answer.error}\n${answer.output}`);
    return result;
  }

  close(): void {
    this.child.stdin.end();
  }
}

/** Temporary folders of one test file, removed at its end. */
export class Folders {
  private readonly made: string[] = [];

  /** A new empty folder. */
  make(prefix = 'exch-cert-sim-'): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.made.push(dir);
    return dir;
  }

  /** A new folder holding a copy of every file of the fixture folder (state.json, PFX files). */
  copy(fixture: string): string {
    const dir = this.make();
    for (const file of readdirSync(fixture)) if (/\.(json|pfx|xml)$/.test(file)) copyFileSync(join(fixture, file), join(dir, file));
    return dir;
  }

  removeAll(): void {
    for (const dir of this.made) rmSync(dir, { recursive: true, force: true });
  }
}

// ---- the state file, as far as the tests read it ----
export interface Binding {
  protocol: string;
  bindingInformation: string;
  sslFlags: number;
  certificateHash: string;
  certificateStoreName: string;
}
export interface CertificateRecord {
  thumbprint: string;
  subject: string;
  issuer: string;
  certificateDomains: string[];
  services: string[];
  notAfter: string;
  privateKeyExportable: boolean;
  isSelfSigned: boolean;
  pfx: string;
  chain: string[];
}
export interface Protocol {
  x509CertificateName: string;
  activeCertificateName: string;
  activeCertificateThumbprint: string;
  pendingRestart: string[];
}
export interface Call {
  command: string;
  server: string;
  host: string;
  parameters: Record<string, unknown>;
}
export interface ServerState {
  name: string;
  fqdn: string;
  serverRole: 'Mailbox' | 'Edge';
  adminDisplayVersion: string;
  certificates: CertificateRecord[];
  transport: { internalTransportCertificateThumbprint: string; redirectTarget: string };
  iis: { sites: { name: string; requireSsl: boolean; bindings: Binding[] }[]; resets: number; lastResetEndedSessions: number[] } | null;
  pop: Protocol | null;
  imap: Protocol | null;
  services: { name: string; status: string; startType: string }[];
  roles: { role: string; requiredServices: string[] }[];
  receiveConnectors: { name: string; tlsCertificateName: string; activeCertificateThumbprint: string }[];
  queues: { identity: string; deliveryType: string; messageCount: number }[];
  sessions: { pid: number; kind: string }[];
  edge?: { subscription: { certificateThumbprint: string } | null; bootstrap: { expiresAt: string } | null };
}
export interface SimState {
  version: number;
  id: string;
  layouts: string[];
  organization: {
    domain: string;
    site: string;
    namespace: string;
    authConfig: { currentCertificateThumbprint: string };
    sendConnectors: { name: string; tlsCertificateName: string; sourceTransportServers: string[]; edgeSync: string }[];
    edgeSubscriptions: { name: string; certificateThumbprint: string }[];
  };
  servers: ServerState[];
  faults: Record<string, unknown>[];
  calls: Call[];
}

export const readState = (dir: string): SimState => JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as SimState;
export const writeState = (dir: string, state: SimState): void => writeFileSync(join(dir, 'state.json'), JSON.stringify(state, null, 2));
export const server = (state: SimState, name: string): ServerState => {
  const found = state.servers.find((s) => s.name === name);
  if (!found) throw new Error(`no server ${name} in the state`);
  return found;
};
export const binding = (state: SimState, serverName: string, site: string, information: string): Binding | undefined =>
  server(state, serverName)
    .iis?.sites.find((s) => s.name === site)
    ?.bindings.find((b) => b.protocol === 'https' && b.bindingInformation === information);
