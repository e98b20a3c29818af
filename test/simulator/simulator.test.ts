/**
 * The simulated Exchange server (src/simulator/ExchCertSimulator.psm1), driven
 * through real PowerShell 7. Each test copies a shared fixture state (made once:
 * certificate generation is slow) into its own temp dir, runs one script with
 * several checks, and reads back its RESULT line and/or the state file. The
 * scripts run in one long-lived pwsh (PwshHost) to save start-up time; the
 * crash test and the end-to-end runs of the compiled renewal script get
 * processes of their own.
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliBin } from '../helpers/cli.js';
import { pwshPath } from '../helpers/pwsh.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const PWSH = pwshPath ?? join(REPO, '.tools', 'pwsh');
const MODULE = join(REPO, 'src', 'simulator', 'ExchCertSimulator.psm1');
const MANIFEST = join(REPO, 'src', 'simulator', 'ExchCertSimulator.psd1');
/** The CLI built for this test run by the global setup. */
const CLI = cliBin;

const PFX_PASSWORD = 'Correct-Horse-Battery-1';
const BACKUP_PASSWORD = 'Backup-Staple-2';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs a program; never rejects (the exit code is part of the result). */
function run(file: string, args: readonly string[], options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      file,
      [...args],
      { cwd: options.cwd ?? REPO, env: { ...process.env, ...options.env }, timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr), ms: Date.now() - started });
      },
    );
  });
}

const psQuote = (text: string): string => `'${text.replace(/'/g, "''")}'`;

/** Every test script starts like this: strict errors, helpers, and the two test passwords as SecureStrings. */
const PREAMBLE = [
  "$ErrorActionPreference = 'Stop'",
  "$ProgressPreference = 'SilentlyContinue'",
  "function Out-Result($Value) { 'RESULT:' + (ConvertTo-Json -InputObject $Value -Depth 8 -Compress) }",
  '# The message of the error the block throws, or $null.',
  'function Get-ErrorText([scriptblock]$Block) { try { $null = & $Block; return $null } catch { return [string]$_.Exception.Message } }',
  "$pfxPassword = ConvertTo-SecureString -String $env:TEST_PFX_PASSWORD -AsPlainText -Force",
  "$backupPassword = ConvertTo-SecureString -String $env:TEST_BACKUP_PASSWORD -AsPlainText -Force",
  '',
].join('\n');

const TEST_ENV = { TEST_PFX_PASSWORD: PFX_PASSWORD, TEST_BACKUP_PASSWORD: BACKUP_PASSWORD };

/** The RESULT line of a script's output. */
function parseResult<T>(output: string): T | undefined {
  const line = output.split(/\r?\n/).find((l) => l.startsWith('RESULT:'));
  return line ? (JSON.parse(line.slice('RESULT:'.length)) as T) : undefined;
}

/** Runs PowerShell code (after the preamble) in its own pwsh process, as a script file. */
async function pwsh<T = Record<string, unknown>>(dir: string, code: string): Promise<Run & { result: T | undefined }> {
  const script = join(dir, `test-${Math.random().toString(36).slice(2)}.ps1`);
  writeFileSync(script, `${PREAMBLE}Import-Module -Name ${psQuote(MODULE)} -Force -DisableNameChecking\n${code}\n`);
  const result = await run(PWSH, ['-NoProfile', '-NonInteractive', '-File', script], { cwd: dir, env: { EXCH_CERT_SIMULATOR_STATE: join(dir, 'state.json'), ...TEST_ENV } });
  return { ...result, result: parseResult<T>(result.stdout) };
}

/**
 * One long-lived `pwsh -NoProfile -NonInteractive` that runs the tests' scripts
 * one after another, each in its own scope, directory and state file. Starting
 * and warming up PowerShell costs about two CPU-seconds per process; this keeps
 * the suite fast on a two-core machine. Requests are JSON lines on stdin; each
 * answer is one '@@EXCHSIM <id> <base64 JSON>' line on stdout.
 */
class PwshHost {
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
        '    try {',
        '        Set-Location -LiteralPath $request.dir',
        "        $env:EXCH_CERT_SIMULATOR_STATE = Join-Path $request.dir 'state.json'",
        '        $block = [scriptblock]::Create([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($request.script)))',
        "        $answer.output = (@(& $block) | ForEach-Object { [string]$_ }) -join \"`n\"",
        '    } catch {',
        '        $answer.ok = $false',
        "        $answer.error = [string]$_.Exception.Message + \"`n\" + [string]$_.ScriptStackTrace",
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

  /** Runs PowerShell code (after the preamble) with dir as location and dir/state.json as the state. */
  run(dir: string, code: string): Promise<HostAnswer> {
    const id = String(++this.next);
    const script = Buffer.from(PREAMBLE + code, 'utf8').toString('base64');
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.stdin.write(JSON.stringify({ id, dir, script }) + '\n');
    });
  }

  close(): void {
    this.child.stdin.end();
  }
}

interface HostAnswer {
  ok: boolean;
  output: string;
  error: string;
}

let host: PwshHost;

/** Runs a test script in the shared host; it must succeed and print a RESULT line. */
async function pwshOk<T = Record<string, unknown>>(dir: string, code: string): Promise<T> {
  const answer = await host.run(dir, code);
  const result = parseResult<T>(answer.output);
  if (!answer.ok || result === undefined) throw new Error(`PowerShell failed: ${answer.error}\n${answer.output}`);
  return result;
}

// ---- the state file, as far as the tests read it ----
interface Binding {
  protocol: string;
  bindingInformation: string;
  certificateHash: string;
}
interface CertificateRecord {
  thumbprint: string;
  subject: string;
  issuer: string;
  certificateDomains: string[];
  services: string[];
  notAfter: string;
  privateKeyExportable: boolean;
  isSelfSigned: boolean;
  pfx: string;
}
interface Protocol {
  x509CertificateName: string;
  activeCertificateName: string;
  pendingRestart: string[];
}
interface Call {
  command: string;
  parameters: Record<string, unknown>;
}
interface State {
  server: { name: string; fqdn: string };
  certificates: CertificateRecord[];
  transport: { internalTransportCertificateThumbprint: string };
  authConfig: { currentCertificateThumbprint: string };
  iis: { sites: { name: string; bindings: Binding[] }[]; resets: number };
  pop: Protocol;
  imap: Protocol;
  services: { name: string; status: string }[];
  roles: { role: string; requiredServices: string[] }[];
  strict: Record<string, boolean>;
  faults: Record<string, unknown>[];
  calls: Call[];
}

const readState = (dir: string): State => JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as State;
const writeState = (dir: string, state: State): void => writeFileSync(join(dir, 'state.json'), JSON.stringify(state, null, 2));
const binding = (state: State, site: string, information: string): Binding | undefined =>
  state.iis.sites.find((s) => s.name === site)?.bindings.find((b) => b.protocol === 'https' && b.bindingInformation === information);

// ---- fixture: one state and some PFX files, copied into each test's dir ----
interface Fixture {
  dir: string;
  publicThumbprint: string;
  selfSignedThumbprint: string;
  authThumbprint: string;
  newThumbprint: string;
  wildcardThumbprint: string;
  chainThumbprint: string;
  expiredThumbprint: string;
}
let fixture: Fixture;
const dirs: string[] = [];

function testDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'exch-cert-sim-'));
  dirs.push(dir);
  for (const file of ['state.json', 'new.pfx', 'wildcard.pfx', 'chain.pfx', 'expired.pfx']) copyFileSync(join(fixture.dir, file), join(dir, file));
  return dir;
}

beforeAll(async () => {
  if (!existsSync(PWSH)) throw new Error(`PowerShell is missing at ${PWSH}: cd ${REPO} && dotnet tool install --tool-path .tools PowerShell --version 7.6.9`);
  const dir = mkdtempSync(join(tmpdir(), 'exch-cert-sim-fixture-'));
  dirs.push(dir);
  host = new PwshHost(dir);
  const made = await pwshOk<Omit<Fixture, 'dir'>>(
    dir,
    `
$state = New-ExchCertSimulatorState -Path ./state.json
$new = New-ExchCertSimulatorPfx -Path ./new.pfx -Password $pfxPassword -DnsName mail.contoso.com, autodiscover.contoso.com
$wildcard = New-ExchCertSimulatorPfx -Path ./wildcard.pfx -Password $pfxPassword -DnsName contoso.com -Wildcard
$chain = New-ExchCertSimulatorPfx -Path ./chain.pfx -Password $pfxPassword -DnsName mail.contoso.com -IncludeChain
$expired = New-ExchCertSimulatorPfx -Path ./expired.pfx -Password $pfxPassword -DnsName old.contoso.com -ValidDays -1
Out-Result @{
    publicThumbprint = $state.PublicThumbprint; selfSignedThumbprint = $state.SelfSignedThumbprint; authThumbprint = $state.AuthThumbprint
    newThumbprint = $new.Thumbprint; wildcardThumbprint = $wildcard.Thumbprint; chainThumbprint = $chain.Thumbprint; expiredThumbprint = $expired.Thumbprint
}`,
  );
  fixture = { dir, ...made };
}, 60_000);

afterAll(() => {
  host.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!pwshPath).concurrent('ExchCertSimulator', { timeout: 90_000 }, () => {
  it('writes a default state that looks like the seed server', async () => {
    const dir = testDir();
    const state = readState(dir);
    const byThumbprint = (t: string): CertificateRecord => state.certificates.find((c) => c.thumbprint === t)!;

    expect(state.server).toMatchObject({ name: 'EXCH01', fqdn: 'EXCH01.contoso.com' });
    const current = byThumbprint(fixture.publicThumbprint);
    expect(current).toMatchObject({ subject: 'CN=mail.contoso.com', certificateDomains: ['mail.contoso.com', 'autodiscover.contoso.com'], privateKeyExportable: true, isSelfSigned: false });
    expect(current.issuer).toContain('DigiCert');
    const daysLeft = (Date.parse(current.notAfter) - Date.now()) / 86_400_000;
    expect(daysLeft).toBeGreaterThan(19);
    expect(daysLeft).toBeLessThan(21);
    expect(byThumbprint(fixture.selfSignedThumbprint)).toMatchObject({ subject: 'CN=EXCH01', certificateDomains: ['EXCH01', 'EXCH01.contoso.com'], isSelfSigned: true });
    expect(byThumbprint(fixture.authThumbprint).subject).toBe('CN=Microsoft Exchange Server Auth Certificate');
    expect(state.transport.internalTransportCertificateThumbprint).toBe(fixture.selfSignedThumbprint);
    expect(state.authConfig.currentCertificateThumbprint).toBe(fixture.authThumbprint);
    expect(binding(state, 'Default Web Site', '*:443:')?.certificateHash).toBe(fixture.publicThumbprint);
    expect(binding(state, 'Default Web Site', '127.0.0.1:443:')?.certificateHash).toBe(fixture.selfSignedThumbprint);
    expect(binding(state, 'Exchange Back End', '*:444:')?.certificateHash).toBe(fixture.selfSignedThumbprint);
    for (const name of ['MSExchangeTransport', 'MSExchangeFrontEndTransport', 'MSExchangePop3', 'MSExchangePOP3BE', 'MSExchangeImap4', 'MSExchangeIMAP4BE', 'MSExchangeIS', 'MSExchangeServiceHost', 'MSExchangeMailboxAssistants', 'W3SVC', 'WAS', 'IISADMIN', 'MSExchangeADTopology']) {
      expect(state.services.find((s) => s.name === name)?.status, name).toBe('Running');
    }
    expect(state.roles.map((r) => r.role)).toEqual(['Mailbox Server Role', 'Client Access Server Role', 'Hub Transport Server Role']);
    expect(state.pop).toMatchObject({ x509CertificateName: 'mail.contoso.com', activeCertificateName: 'mail.contoso.com' });
    expect(state.imap).toMatchObject({ x509CertificateName: 'mail.contoso.com', activeCertificateName: 'mail.contoso.com' });
    expect(state.strict).toEqual({ setTransportService: true, addSslCertificate: true });
    expect(state.faults).toEqual([]);
    expect(state.calls).toEqual([]);

    const seen = await pwshOk<{
      certificates: { Thumbprint: string; Services: string; Status: string; NotAfterIsDate: boolean; IsSelfSigned: boolean }[];
      server: { Name: string; ServerRole: string; AdminDisplayVersion: string };
      auth: string;
      internal: string;
      health: { Role: string; RequiredServicesRunning: boolean }[];
      missingQuiet: number;
      missingStop: string;
      missingContinue: { output: number; errors: string; after: boolean };
      exported: string[];
      manifest: string[];
    }>(
      dir,
      `
$certificates = @(Get-ExchangeCertificate -Server EXCH01 | ForEach-Object {
    @{ Thumbprint = $_.Thumbprint; Services = $_.Services; Status = $_.Status; NotAfterIsDate = ($_.NotAfter -is [datetime]); IsSelfSigned = $_.IsSelfSigned }
})
$missingQuiet = @(Get-ExchangeCertificate -Server EXCH01 -Thumbprint 'ABCDEF' -ErrorAction SilentlyContinue).Count
$missingStop = Get-ErrorText { Get-ExchangeCertificate -Server EXCH01 -Thumbprint 'ABCDEF' }
# The caller's preference counts, as for compiled cmdlets: under Continue the error is written and the script goes on.
$ErrorActionPreference = 'Continue'
$Error.Clear()
$output = @(Get-ExchangeCertificate -Thumbprint 'ABCDEF' 2>$null)
$after = $true
$ErrorActionPreference = 'Stop'
$server = Get-ExchangeServer -Identity EXCH01
Out-Result @{
    certificates = $certificates
    server = @{ Name = $server.Name; ServerRole = $server.ServerRole; AdminDisplayVersion = $server.AdminDisplayVersion }
    auth = (Get-AuthConfig).CurrentCertificateThumbprint
    internal = (Get-TransportService -Identity EXCH01).InternalTransportCertificateThumbprint
    health = @(Test-ServiceHealth -Server EXCH01 | ForEach-Object { @{ Role = $_.Role; RequiredServicesRunning = $_.RequiredServicesRunning } })
    missingQuiet = $missingQuiet
    missingStop = $missingStop
    missingContinue = @{ output = $output.Count; errors = [string]$Error[0]; after = $after }
    exported = @((Get-Module ExchCertSimulator).ExportedFunctions.Keys | Sort-Object)
    manifest = @((Import-PowerShellDataFile -Path ${psQuote(MANIFEST)}).FunctionsToExport | Sort-Object)
}`,
    );
    const services = Object.fromEntries(seen.certificates.map((c) => [c.Thumbprint, c.Services]));
    expect(services).toEqual({ [fixture.publicThumbprint]: 'IMAP, POP, IIS, SMTP', [fixture.selfSignedThumbprint]: 'IIS, SMTP', [fixture.authThumbprint]: 'SMTP' });
    expect(seen.certificates.every((c) => c.Status === 'Valid' && c.NotAfterIsDate)).toBe(true);
    expect(seen.server).toEqual({ Name: 'EXCH01', ServerRole: 'Mailbox', AdminDisplayVersion: expect.stringMatching(/^Version 15\.2 /) });
    expect(seen.auth).toBe(fixture.authThumbprint);
    expect(seen.internal).toBe(fixture.selfSignedThumbprint);
    expect(seen.health.every((r) => r.RequiredServicesRunning)).toBe(true);
    expect(seen.missingQuiet).toBe(0);
    expect(seen.missingStop).toBe('The certificate with thumbprint ABCDEF was not found.');
    expect(seen.missingContinue).toEqual({ output: 0, errors: 'The certificate with thumbprint ABCDEF was not found.', after: true });
    expect(seen.exported).toEqual(seen.manifest);
    expect(seen.exported).not.toContain('Read-SimState');
  });

  it('imports a real PFX with the right password only, and has no -FileName', async () => {
    const dir = testDir();
    const seen = await pwshOk<{
      wrong: string;
      imported: { Thumbprint: string; Services: string; PrivateKeyExportable: boolean; CertificateDomains: string[]; Issuer: string };
      again: string;
      chain: { Thumbprint: string; HasPrivateKey: boolean };
      defaultExportable: boolean;
      fileName: string;
      hasFileName: boolean[];
      count: number;
    }>(
      dir,
      `
$bytes = [System.IO.File]::ReadAllBytes((Join-Path $PWD 'new.pfx'))
$wrong = Get-ErrorText { Import-ExchangeCertificate -Server EXCH01 -FileData $bytes -Password (ConvertTo-SecureString 'not-the-password' -AsPlainText -Force) -PrivateKeyExportable $true }
$count = @(Get-ExchangeCertificate).Count
$imported = Import-ExchangeCertificate -Server EXCH01 -FileData $bytes -Password $pfxPassword -PrivateKeyExportable $true -FriendlyName 'mail 2027'
$again = Get-ErrorText { Import-ExchangeCertificate -Server EXCH01 -FileData $bytes -Password $pfxPassword }
$chain = Import-ExchangeCertificate -Server EXCH01 -FileData ([System.IO.File]::ReadAllBytes((Join-Path $PWD 'chain.pfx'))) -Password $pfxPassword
$fileName = Get-ErrorText { Import-ExchangeCertificate -Server EXCH01 -FileName (Join-Path $PWD 'new.pfx') -Password $pfxPassword }
Out-Result @{
    wrong = $wrong; count = $count; again = $again; fileName = $fileName
    imported = @{ Thumbprint = $imported.Thumbprint; Services = $imported.Services; PrivateKeyExportable = $imported.PrivateKeyExportable; CertificateDomains = $imported.CertificateDomains; Issuer = $imported.Issuer }
    chain = @{ Thumbprint = $chain.Thumbprint; HasPrivateKey = $chain.HasPrivateKey }
    defaultExportable = $chain.PrivateKeyExportable
    hasFileName = @((Get-Command Import-ExchangeCertificate).Parameters.ContainsKey('FileName'), (Get-Command Export-ExchangeCertificate).Parameters.ContainsKey('FileName'))
}`,
    );
    expect(seen.wrong).toMatch(/^Cannot import certificate\. The password is incorrect/);
    expect(seen.count).toBe(3);
    expect(seen.imported).toEqual({
      Thumbprint: fixture.newThumbprint,
      Services: 'None',
      PrivateKeyExportable: true,
      CertificateDomains: ['mail.contoso.com', 'autodiscover.contoso.com'],
      Issuer: "CN=R11, O=Let's Encrypt, C=US",
    });
    expect(seen.again).toBe(`Cannot import certificate. A certificate with the thumbprint ${fixture.newThumbprint} already exists.`);
    expect(seen.chain).toEqual({ Thumbprint: fixture.chainThumbprint, HasPrivateKey: true });
    expect(seen.defaultExportable).toBe(false);
    expect(seen.fileName).toBe("A parameter cannot be found that matches parameter name 'FileName'.");
    expect(seen.hasFileName).toEqual([false, false]);

    const state = readState(dir);
    expect(state.certificates.map((c) => c.thumbprint)).toEqual([fixture.publicThumbprint, fixture.selfSignedThumbprint, fixture.authThumbprint, fixture.newThumbprint, fixture.chainThumbprint]);
    // The calls log keeps parameter names and harmless values, never secrets or key material.
    const imports = state.calls.filter((c) => c.command === 'Import-ExchangeCertificate');
    expect(imports).toHaveLength(4);
    expect(imports[1]!.parameters).toEqual({ Server: 'EXCH01', FileData: expect.stringMatching(/^<\d+ bytes>$/), Password: '<redacted>', PrivateKeyExportable: true, FriendlyName: 'mail 2027' });
    const calls = JSON.stringify(state.calls);
    expect(calls).not.toContain(PFX_PASSWORD);
    expect(calls).not.toContain('not-the-password');
    expect(calls).not.toMatch(/[A-Za-z0-9+/]{100,}/);
    expect(calls).not.toContain(readFileSync(join(dir, 'new.pfx')).toString('base64').slice(0, 40));
    expect(readFileSync(join(dir, 'state.json'), 'utf8')).not.toContain(PFX_PASSWORD);
  });

  it('enables services additively, moves IIS and the default SMTP certificate, refuses POP/IMAP on a wildcard', async () => {
    const dir = testDir();
    const seen = await pwshOk<Record<string, string | null>>(
      dir,
      `
$new = (Import-ExchangeCertificate -Server EXCH01 -FileData ([System.IO.File]::ReadAllBytes((Join-Path $PWD 'new.pfx'))) -Password $pfxPassword -PrivateKeyExportable $true).Thumbprint
$wildcard = (Import-ExchangeCertificate -Server EXCH01 -FileData ([System.IO.File]::ReadAllBytes((Join-Path $PWD 'wildcard.pfx'))) -Password $pfxPassword).Thumbprint
$expired = (Import-ExchangeCertificate -Server EXCH01 -FileData ([System.IO.File]::ReadAllBytes((Join-Path $PWD 'expired.pfx'))) -Password $pfxPassword).Thumbprint
$services = { param($t) (Get-ExchangeCertificate -Server EXCH01 -Thumbprint $t).Services }
$result = [ordered]@{}
Enable-ExchangeCertificate -Server EXCH01 -Thumbprint $new -Services POP -WhatIf
$result.afterWhatIf = & $services $new
Enable-ExchangeCertificate -Server EXCH01 -Thumbprint $new -Services POP
Enable-ExchangeCertificate -Server EXCH01 -Thumbprint $new -Services 'IMAP'
$result.popImap = & $services $new
$result.smtpNoForce = Get-ErrorText { Enable-ExchangeCertificate -Server EXCH01 -Thumbprint $new -Services SMTP }
$result.internalAfterNoForce = (Get-TransportService -Identity EXCH01).InternalTransportCertificateThumbprint
$result.afterNoForce = & $services $new
Enable-ExchangeCertificate -Server EXCH01 -Thumbprint $new -Services IIS, SMTP -Force
$result.all = & $services $new
$result.internal = (Get-TransportService -Identity EXCH01).InternalTransportCertificateThumbprint
$result.oldServices = & $services ${psQuote(fixture.publicThumbprint)}
$result.selfSignedServices = & $services ${psQuote(fixture.selfSignedThumbprint)}
# Restoring the internal transport certificate the way real Exchange allows it.
Enable-ExchangeCertificate -Server EXCH01 -Thumbprint ${psQuote(fixture.selfSignedThumbprint)} -Services SMTP -Force
$result.internalRestored = (Get-TransportService -Identity EXCH01).InternalTransportCertificateThumbprint
$result.wildcardPop = Get-ErrorText { Enable-ExchangeCertificate -Server EXCH01 -Thumbprint $wildcard -Services POP, IIS -Force }
$result.wildcardAfterPop = & $services $wildcard
Enable-ExchangeCertificate -Server EXCH01 -Thumbprint $wildcard -Services SMTP -Force
$result.wildcardSmtp = & $services $wildcard
$result.unknown = Get-ErrorText { Enable-ExchangeCertificate -Server EXCH01 -Thumbprint 'DEADBEEF' -Services IIS }
$result.badService = Get-ErrorText { Enable-ExchangeCertificate -Server EXCH01 -Thumbprint $new -Services HTTP }
$result.expired = Get-ErrorText { Enable-ExchangeCertificate -Server EXCH01 -Thumbprint $expired -Services IIS }
$result.expiredStatus = (Get-ExchangeCertificate -Thumbprint $expired).Status
$result.wrongServer = Get-ErrorText { Enable-ExchangeCertificate -Server EXCH02 -Thumbprint $new -Services IIS }
$result.new = $new
Out-Result $result`,
    );
    expect(seen.afterWhatIf).toBe('None');
    expect(seen.popImap).toBe('IMAP, POP');
    expect(seen.smtpNoForce).toMatch(/^Overwrite the existing default SMTP certificate\?/);
    expect(seen.smtpNoForce).toMatch(/Confirmation required.*NonInteractive/s);
    expect(seen.internalAfterNoForce).toBe(fixture.selfSignedThumbprint);
    expect(seen.afterNoForce).toBe('IMAP, POP');
    expect(seen.all).toBe('IMAP, POP, IIS, SMTP');
    expect(seen.internal).toBe(fixture.newThumbprint);
    // IIS moved with the *:443 binding; the old certificate keeps what was stored.
    expect(seen.oldServices).toBe('IMAP, POP, SMTP');
    expect(seen.selfSignedServices).toBe('IIS, SMTP');
    expect(seen.internalRestored).toBe(fixture.selfSignedThumbprint);
    expect(seen.wildcardPop).toContain('cannot be used for POP SSL/TLS connections because the subject is not a Fully Qualified Domain Name (FQDN)');
    expect(seen.wildcardAfterPop).toBe('None');
    expect(seen.wildcardSmtp).toBe('SMTP');
    expect(seen.unknown).toBe('The certificate with thumbprint DEADBEEF was not found.');
    expect(seen.badService).toMatch(/Cannot convert value "HTTP"/);
    expect(seen.expired).toMatch(/not valid/);
    expect(seen.expiredStatus).toBe('DateInvalid');
    expect(seen.wrongServer).toMatch(/object 'EXCH02' couldn't be found/);

    const state = readState(dir);
    expect(binding(state, 'Default Web Site', '*:443:')?.certificateHash).toBe(fixture.newThumbprint);
    expect(binding(state, 'Default Web Site', '127.0.0.1:443:')?.certificateHash).toBe(fixture.selfSignedThumbprint);
    expect(binding(state, 'Exchange Back End', '*:444:')?.certificateHash).toBe(fixture.selfSignedThumbprint);
  });

  it('exports a real PFX readable with the password, and refuses a key that is not exportable', async () => {
    const dir = testDir();
    const seen = await pwshOk<Record<string, unknown>>(
      dir,
      `
$export = Export-ExchangeCertificate -Server EXCH01 -Thumbprint ${psQuote(fixture.publicThumbprint)} -BinaryEncoded -Password $backupPassword
$bytes = [byte[]]$export.FileData
$read = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($bytes, $backupPassword)
Out-Result @{
    isBytes = ($export.FileData -is [byte[]])
    thumbprint = $read.Thumbprint
    hasKey = $read.HasPrivateKey
    wrongPassword = Get-ErrorText { [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($bytes, 'wrong') }
    notExportable = Get-ErrorText { Export-ExchangeCertificate -Server EXCH01 -Thumbprint ${psQuote(fixture.selfSignedThumbprint)} -BinaryEncoded -Password $backupPassword }
    missing = Get-ErrorText { Export-ExchangeCertificate -Server EXCH01 -Thumbprint 'ABCD' -BinaryEncoded -Password $backupPassword }
}`,
    );
    expect(seen).toMatchObject({ isBytes: true, thumbprint: fixture.publicThumbprint, hasKey: true, missing: 'The certificate with thumbprint ABCD was not found.' });
    expect(seen['wrongPassword']).toBeTruthy();
    expect(seen['notExportable']).toMatch(/couldn't be exported as PKCS-12\. It either couldn't be accessed or isn't exportable/);
    expect(JSON.stringify(readState(dir).calls)).not.toContain(BACKUP_PASSWORD);
  });

  it('refuses to remove certificates still in use (transport, Auth, IIS) and removes the others', async () => {
    const dir = testDir();
    const seen = await pwshOk<Record<string, string | null>>(
      dir,
      `
$result = [ordered]@{}
$result.internal = Get-ErrorText { Remove-ExchangeCertificate -Server EXCH01 -Thumbprint ${psQuote(fixture.selfSignedThumbprint)} -Confirm:$false }
$result.auth = Get-ErrorText { Remove-ExchangeCertificate -Server EXCH01 -Thumbprint ${psQuote(fixture.authThumbprint)} -Confirm:$false }
$result.bound = Get-ErrorText { Remove-ExchangeCertificate -Server EXCH01 -Thumbprint ${psQuote(fixture.publicThumbprint)} -Confirm:$false }
$created = New-ExchangeCertificate -Server EXCH01 -SubjectName 'CN=EXCH01' -DomainName EXCH01, EXCH01.contoso.com -FriendlyName 'test' -PrivateKeyExportable $true -Services None -Force
$result.createdServices = $created.Services
$result.createdSelfSigned = [string]$created.IsSelfSigned
# Without -Confirm:$false Remove-ExchangeCertificate asks (ConfirmImpact High), which a non-interactive shell cannot answer.
$result.prompt = Get-ErrorText { Remove-ExchangeCertificate -Server EXCH01 -Thumbprint $created.Thumbprint }
Remove-ExchangeCertificate -Server EXCH01 -Thumbprint $created.Thumbprint -WhatIf
$result.afterWhatIf = [string]@(Get-ExchangeCertificate -Thumbprint $created.Thumbprint).Count
Remove-ExchangeCertificate -Server EXCH01 -Thumbprint $created.Thumbprint -Confirm:$false
$result.afterRemove = [string]@(Get-ExchangeCertificate -Thumbprint $created.Thumbprint -ErrorAction SilentlyContinue).Count
$result.gone = Get-ErrorText { Remove-ExchangeCertificate -Server EXCH01 -Thumbprint $created.Thumbprint -Confirm:$false }
Out-Result $result`,
    );
    expect(seen.internal).toMatch(/^The internal transport certificate cannot be removed/);
    expect(seen.auth).toMatch(/is the current or next Auth certificate/);
    expect(seen.bound).toMatch(/is bound in IIS \(Default Web Site \*:443:\)/);
    expect(seen.createdServices).toBe('None');
    expect(seen.createdSelfSigned).toBe('True');
    expect(seen.prompt).toMatch(/NonInteractive/);
    expect(seen.afterWhatIf).toBe('1');
    expect(seen.afterRemove).toBe('0');
    expect(seen.gone).toMatch(/was not found/);
    const state = readState(dir);
    expect(state.certificates.map((c) => c.thumbprint)).toEqual([fixture.publicThumbprint, fixture.selfSignedThumbprint, fixture.authThumbprint]);
  });

  it('makes a POP/IMAP certificate name effective only after both services restart', async () => {
    const dir = testDir();
    const steps = await pwshOk<{ step: string; pop: string; popActive: string; imap: string; imapActive: string }[]>(
      dir,
      `
$steps = New-Object System.Collections.Generic.List[object]
function Save-Step([string]$Step) {
    $state = Get-ExchCertSimulatorState
    $steps.Add(@{ step = $Step; pop = (Get-PopSettings -Server EXCH01).X509CertificateName; popActive = $state.pop.activeCertificateName; imap = (Get-ImapSettings -Server EXCH01).X509CertificateName; imapActive = $state.imap.activeCertificateName })
}
Set-PopSettings -Server EXCH01 -X509CertificateName 'pop.contoso.com' -WarningAction SilentlyContinue
Set-ImapSettings -Server EXCH01 -X509CertificateName 'imap.contoso.com' -WarningAction SilentlyContinue
Save-Step 'set'
Restart-Service -Name MSExchangePop3 -Force
Restart-Service -Name MSExchangeImap4 -Force
Save-Step 'front ends'
Restart-Service -Name MSExchangePOP3BE -Force
Stop-Service -Name MSExchangeIMAP4BE
Save-Step 'pop back end, imap back end stopped'
Start-Service -Name MSExchangeIMAP4BE
Save-Step 'imap back end started'
Out-Result $steps.ToArray()`,
    );
    expect(steps).toEqual([
      { step: 'set', pop: 'pop.contoso.com', popActive: 'mail.contoso.com', imap: 'imap.contoso.com', imapActive: 'mail.contoso.com' },
      { step: 'front ends', pop: 'pop.contoso.com', popActive: 'mail.contoso.com', imap: 'imap.contoso.com', imapActive: 'mail.contoso.com' },
      { step: 'pop back end, imap back end stopped', pop: 'pop.contoso.com', popActive: 'pop.contoso.com', imap: 'imap.contoso.com', imapActive: 'mail.contoso.com' },
      { step: 'imap back end started', pop: 'pop.contoso.com', popActive: 'pop.contoso.com', imap: 'imap.contoso.com', imapActive: 'imap.contoso.com' },
    ]);
  });

  it('reports stopped required services in Test-ServiceHealth', async () => {
    const dir = testDir();
    const seen = await pwshOk<{ stopped: { Role: string; RequiredServicesRunning: boolean; ServicesNotRunning: string[] }[]; status: string; missing: string; restarted: boolean[] }>(
      dir,
      `
Stop-Service -Name MSExchangeTransport, MSExchangeIS -Force
$stopped = @(Test-ServiceHealth -Server EXCH01 | ForEach-Object { @{ Role = $_.Role; RequiredServicesRunning = $_.RequiredServicesRunning; ServicesNotRunning = @($_.ServicesNotRunning) } })
$status = [string](Get-Service -Name MSExchangeTransport).Status
$missing = Get-ErrorText { Get-Service -Name NoSuchService }
Get-Service -Name 'MSExchange*' | Where-Object { $_.Status -ne 'Running' } | Start-Service
Out-Result @{ stopped = $stopped; status = $status; missing = $missing; restarted = @(Test-ServiceHealth | ForEach-Object { $_.RequiredServicesRunning }) }`,
    );
    expect(seen.stopped).toEqual([
      { Role: 'Mailbox Server Role', RequiredServicesRunning: false, ServicesNotRunning: ['MSExchangeIS'] },
      { Role: 'Client Access Server Role', RequiredServicesRunning: true, ServicesNotRunning: [] },
      { Role: 'Hub Transport Server Role', RequiredServicesRunning: false, ServicesNotRunning: ['MSExchangeTransport'] },
    ]);
    expect(seen.status).toBe('Stopped');
    expect(seen.missing).toBe("Cannot find any service with service name 'NoSuchService'.");
    expect(seen.restarted).toEqual([true, true, true]);
  });

  it('binds IIS certificates through Get-WebBinding/AddSslCertificate and New-WebBinding', async () => {
    const dir = testDir();
    const seen = await pwshOk<Record<string, unknown>>(
      dir,
      `
$new = (Import-ExchangeCertificate -Server EXCH01 -FileData ([System.IO.File]::ReadAllBytes((Join-Path $PWD 'new.pfx'))) -Password $pfxPassword).Thumbprint
$https = @(Get-WebBinding -Protocol https)
$backEnd = Get-WebBinding -Name 'Exchange Back End' -Protocol https -Port 444
$binding = Get-WebBinding -Name 'Default Web Site' -Protocol https | Where-Object { $_.bindingInformation -eq '*:443:' }
$binding.RemoveSslCertificate()
$unknown = Get-ErrorText { $binding.AddSslCertificate('0123456789ABCDEF0123456789ABCDEF01234567', 'My') }
$binding.AddSslCertificate($new, 'My')
$after = (Get-WebBinding -Name 'Default Web Site' -Protocol https -IPAddress '*' -Port 443).certificateHash
New-WebBinding -Name 'Default Web Site' -Protocol https -Port 8443 -IPAddress '*'
$created = Get-WebBinding -Name 'Default Web Site' -Port 8443
$duplicate = Get-ErrorText { New-WebBinding -Name 'Default Web Site' -Protocol https -Port 8443 -IPAddress '*' }
$created.AddSslCertificate($new, 'My')
Out-Result @{
    https = @($https | ForEach-Object { $_.ItemXPath + ' ' + $_.bindingInformation })
    backEnd = $backEnd.certificateHash
    unknown = $unknown
    objectUpdated = $binding.certificateHash
    after = $after
    created = (Get-WebBinding -Port 8443).certificateHash
    duplicate = $duplicate
    old = (Get-ExchangeCertificate -Thumbprint ${psQuote(fixture.publicThumbprint)}).Services
}`,
    );
    expect(seen['https']).toEqual([
      "/system.applicationHost/sites/site[@name='Default Web Site' and @id='1'] *:443:",
      "/system.applicationHost/sites/site[@name='Default Web Site' and @id='1'] 127.0.0.1:443:",
      "/system.applicationHost/sites/site[@name='Exchange Back End' and @id='2'] *:444:",
    ]);
    expect(seen['backEnd']).toBe(fixture.selfSignedThumbprint);
    expect(seen['unknown']).toMatch(/^Exception calling "AddSslCertificate" with "2" argument\(s\): "A specified logon session does not exist.*0x80070520/);
    expect(seen).toMatchObject({ objectUpdated: fixture.newThumbprint, after: fixture.newThumbprint, created: fixture.newThumbprint, old: 'IMAP, POP, SMTP' });
    expect(seen['duplicate']).toMatch(/Cannot add duplicate collection entry of type 'binding'/);
    const state = readState(dir);
    expect(binding(state, 'Default Web Site', '*:8443:')?.certificateHash).toBe(fixture.newThumbprint);
    expect(state.calls.filter((c) => c.command === 'AddSslCertificate').map((c) => c.parameters['Thumbprint'])).toEqual([
      '0123456789ABCDEF0123456789ABCDEF01234567',
      fixture.newThumbprint,
      fixture.newThumbprint,
    ]);
  });

  it('behaves like real Exchange and IIS by default, and leniently when strict is switched off', async () => {
    const dir = testDir();
    const lenientState = readState(dir);
    lenientState.strict = { setTransportService: false, addSslCertificate: false };
    writeState(dir, lenientState);
    const lenient = await pwshOk<Record<string, string | null>>(
      dir,
      `
Set-TransportService -Identity EXCH01 -InternalTransportCertificateThumbprint ${psQuote(fixture.publicThumbprint)} -Confirm:$false
Out-Result @{ internal = (Get-TransportService EXCH01).InternalTransportCertificateThumbprint; unknown = Get-ErrorText { Set-TransportService -Identity EXCH01 -InternalTransportCertificateThumbprint 'ABCD' } }`,
    );
    expect(lenient).toEqual({ internal: fixture.publicThumbprint, unknown: 'The certificate with thumbprint ABCD was not found.' });

    const state = readState(dir);
    delete (state as { strict?: unknown }).strict;
    writeState(dir, state);
    const strict = await pwshOk<Record<string, string | null>>(
      dir,
      `
$new = (Import-ExchangeCertificate -Server EXCH01 -FileData ([System.IO.File]::ReadAllBytes((Join-Path $PWD 'new.pfx'))) -Password $pfxPassword).Thumbprint
$binding = Get-WebBinding -Name 'Default Web Site' -Protocol https -Port 443 -IPAddress '*'
$bound = Get-ErrorText { $binding.AddSslCertificate($new, 'My') }
$binding.RemoveSslCertificate()
$binding.AddSslCertificate($new, 'My')
Out-Result @{
    transport = Get-ErrorText { Set-TransportService -Identity EXCH01 -InternalTransportCertificateThumbprint ${psQuote(fixture.selfSignedThumbprint)} -Confirm:$false }
    bound = $bound
    rebound = (Get-WebBinding -Port 443 -IPAddress '*').certificateHash
}`,
    );
    expect(strict['transport']).toBe("A parameter cannot be found that matches parameter name 'InternalTransportCertificateThumbprint'.");
    expect(strict['bound']).toMatch(/Cannot create a file when that file already exists\. \(Exception from HRESULT: 0x800700B7\)/);
    expect(strict['rebound']).toBe(fixture.newThumbprint);
  });

  it('injects faults from the state file: throw with a count-down, wont-start, iisreset exit codes, hangs, crashes', async () => {
    const dir = testDir();
    const state = readState(dir);
    state.faults = [
      { command: 'Enable-ExchangeCertificate', action: 'throw', message: 'Active Directory operation failed on DC01 (simulated)', times: 2 },
      { service: 'MSExchangeTransport', action: 'wont-start', times: 1 },
      { command: 'iisreset', action: 'exit', code: 1, times: 1, message: 'Restart attempt failed.\nAccess denied, you must be an administrator of the remote computer to use this\ncommand.' },
      { command: 'Test-ServiceHealth', action: 'hang', seconds: 1.5, times: 1 },
      { command: 'Get-AuthConfig', action: 'throw', message: 'soft failure', terminating: false, times: 1 },
      { command: 'Set-PopSettings', action: 'throw', after: true, message: 'the connection dropped after the change', times: 1 },
    ];
    writeState(dir, state);
    const seen = await pwshOk<Record<string, unknown>>(
      dir,
      `
$result = [ordered]@{}
$new = (Import-ExchangeCertificate -Server EXCH01 -FileData ([System.IO.File]::ReadAllBytes((Join-Path $PWD 'new.pfx'))) -Password $pfxPassword).Thumbprint
$result.first = Get-ErrorText { Enable-ExchangeCertificate -Server EXCH01 -Thumbprint $new -Services IIS -Force }
$result.quiet = Get-ErrorText { Enable-ExchangeCertificate -Server EXCH01 -Thumbprint $new -Services IIS -Force -ErrorAction SilentlyContinue }
Enable-ExchangeCertificate -Server EXCH01 -Thumbprint $new -Services IIS -Force
$result.third = (Get-ExchangeCertificate -Thumbprint $new).Services

$result.restart = Get-ErrorText { Restart-Service -Name MSExchangeTransport -Force }
$result.status = [string](Get-Service -Name MSExchangeTransport).Status
$watch = [System.Diagnostics.Stopwatch]::StartNew()
$result.wait = Get-ErrorText { (Get-Service -Name MSExchangeTransport).WaitForStatus('Running', [TimeSpan]::FromSeconds(1)) }
$result.waitMs = $watch.ElapsedMilliseconds
Start-Service -Name MSExchangeTransport
(Get-Service -Name MSExchangeTransport).WaitForStatus('Running', [TimeSpan]::FromSeconds(5))

$output = iisreset /noforce
$result.iisExit = $LASTEXITCODE
$result.iisOutput = @($output)
$output = iisreset /noforce
$result.iisExitAgain = $LASTEXITCODE
$result.iisOutputAgain = @($output)

$watch = [System.Diagnostics.Stopwatch]::StartNew()
$result.health = @(Test-ServiceHealth -Server EXCH01).Count
$result.hangMs = $watch.ElapsedMilliseconds

$result.softIgnored = @(Get-AuthConfig -ErrorAction SilentlyContinue).Count
$result.authAfter = (Get-AuthConfig).CurrentCertificateThumbprint
$result.after = Get-ErrorText { Set-PopSettings -Server EXCH01 -X509CertificateName 'pop.contoso.com' -WarningAction SilentlyContinue }
$result.afterValue = (Get-PopSettings).X509CertificateName
$result.faultsLeft = @((Get-ExchCertSimulatorState).faults).Count
Out-Result $result`,
    );
    expect(seen['first']).toBe('Active Directory operation failed on DC01 (simulated)');
    // A thrown fault is terminating: -ErrorAction does not hide it.
    expect(seen['quiet']).toBe('Active Directory operation failed on DC01 (simulated)');
    expect(seen['third']).toBe('IIS');
    expect(seen['restart']).toBe("Service 'Microsoft Exchange Transport (MSExchangeTransport)' cannot be started due to the following error: Cannot start service MSExchangeTransport on computer '.'.");
    expect(seen['status']).toBe('Stopped');
    expect(seen['wait']).toBe('Exception calling "WaitForStatus" with "2" argument(s): "Time out has expired and the operation has not been completed."');
    expect(seen['waitMs']).toBeGreaterThanOrEqual(900);
    expect(seen['iisExit']).toBe(1);
    expect(seen['iisOutput']).toEqual(['Attempting stop...', 'Restart attempt failed.', 'Access denied, you must be an administrator of the remote computer to use this', 'command.']);
    expect(seen['iisExitAgain']).toBe(0);
    expect(seen['iisOutputAgain']).toEqual(['Attempting stop...', 'Internet services successfully stopped', 'Attempting start...', 'Internet services successfully restarted']);
    expect(seen['health']).toBe(3);
    expect(seen['hangMs']).toBeGreaterThanOrEqual(1400);
    expect(seen['softIgnored']).toBe(0);
    expect(seen['authAfter']).toBe(fixture.authThumbprint);
    expect(seen['after']).toBe('the connection dropped after the change');
    expect(seen['afterValue']).toBe('pop.contoso.com');
    expect(seen['faultsLeft']).toBe(0);
    const after = readState(dir);
    expect(after.iis.resets).toBe(1);
    expect(after.services.find((s) => s.name === 'MSExchangeTransport')?.status).toBe('Running');
    expect(after.calls.filter((c) => c.command === 'Enable-ExchangeCertificate')).toHaveLength(3);

    // "exit" on any other command ends the process, like a crashed shell.
    const crash = readState(dir);
    crash.faults = [{ command: 'Get-ExchangeServer', action: 'exit', code: 7 }];
    writeState(dir, crash);
    const crashed = await pwsh(dir, "Write-Output 'before'\n$null = Get-ExchangeServer\nWrite-Output 'after'");
    expect(crashed.code).toBe(7);
    expect(crashed.stdout).toContain('before');
    expect(crashed.stdout).not.toContain('after');
  });

  it('keeps Windows PowerShell 5.1 syntax', async () => {
    const dir = testDir();
    const seen = await pwshOk<{ errors: string[]; tokens: string[]; text: string[] }>(
      dir,
      `
$tokens = $null; $errors = $null
$null = [System.Management.Automation.Language.Parser]::ParseFile(${psQuote(MODULE)}, [ref]$tokens, [ref]$errors)
# PowerShell 7-only syntax: && || ?? ??= ?. ?[, the ternary ? : and the clean block.
$banned = @('AndAnd', 'OrOr', 'QuestionQuestion', 'QuestionQuestionEquals', 'QuestionDot', 'QuestionLBracket', 'QuestionMark', 'Clean')
$text = [System.IO.File]::ReadAllText(${psQuote(MODULE)})
Out-Result @{
    errors = @($errors | ForEach-Object { $_.Message })
    tokens = @($tokens | Where-Object { $banned -contains [string]$_.Kind } | ForEach-Object { [string]$_.Kind + ' at line ' + $_.Extent.StartLineNumber })
    text = @(@('-AsHashtable', '-AsByteStream', '-EnumsAsStrings', '-DateKind String', ' -Parallel') | Where-Object { $text.Contains($_) })
}`,
    );
    expect(seen).toEqual({ errors: [], tokens: [], text: [] });
  });
});

describe.skipIf(!pwshPath).concurrent('ExchCertSimulator end to end', { timeout: 90_000 }, () => {
  /** Compiles the renewal runbook for the simulator with the real CLI and runs the script with pwsh -File. */
  async function renew(dir: string, pfx: string, extraArgs: string[] = []): Promise<{ run: Run; backupDirectory: string }> {
    const backupDirectory = join(dir, 'backup');
    const script = join(dir, 'renew.ps1');
    const compiled = await run(process.execPath, [
      CLI,
      'renew',
      '--server',
      'EXCH01',
      '--pfx',
      join(dir, pfx),
      '--fqdn',
      'mail.contoso.com',
      '--connect',
      `module:${MODULE}`,
      '--var',
      `backupDirectory=${backupDirectory}`,
      ...extraArgs,
      '--dry-run',
      '--output',
      script,
    ]);
    if (compiled.code !== 0) throw new Error(`exch-cert renew --dry-run failed (exit ${compiled.code}):\n${compiled.stderr}`);
    const result = await run(PWSH, ['-NoProfile', '-NonInteractive', '-File', script], {
      cwd: dir,
      env: { EXCH_CERT_SIMULATOR_STATE: join(dir, 'state.json'), EXCH_CERT_PFX_PASSWORD: PFX_PASSWORD, EXCH_CERT_BACKUP_PASSWORD: BACKUP_PASSWORD },
    });
    return { run: result, backupDirectory };
  }

  /** A freshly installed server's POP/IMAP name, so the run has to change it and restart both services. */
  function startFromServerName(dir: string): void {
    const state = readState(dir);
    for (const protocol of [state.pop, state.imap]) {
      protocol.x509CertificateName = 'EXCH01.contoso.com';
      protocol.activeCertificateName = 'EXCH01.contoso.com';
    }
    writeState(dir, state);
  }

  it('runs the compiled renewal script against the simulator', async () => {
    const dir = testDir();
    startFromServerName(dir);
    const { run: result, backupDirectory } = await renew(dir, 'new.pfx');
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toContain('exch-cert: step remove-old: changed');

    const state = readState(dir);
    const created = state.certificates.find((c) => c.thumbprint === fixture.newThumbprint);
    expect(created?.services).toEqual(expect.arrayContaining(['SMTP', 'POP', 'IMAP']));
    expect(binding(state, 'Default Web Site', '*:443:')?.certificateHash).toBe(fixture.newThumbprint);
    expect(binding(state, 'Default Web Site', '127.0.0.1:443:')?.certificateHash).toBe(fixture.selfSignedThumbprint);
    expect(binding(state, 'Exchange Back End', '*:444:')?.certificateHash).toBe(fixture.selfSignedThumbprint);
    for (const protocol of [state.pop, state.imap]) {
      expect(protocol).toMatchObject({ x509CertificateName: 'mail.contoso.com', activeCertificateName: 'mail.contoso.com', pendingRestart: [] });
    }
    expect(state.services.filter((s) => s.status !== 'Running')).toEqual([]);
    expect(state.transport.internalTransportCertificateThumbprint).toBe(fixture.selfSignedThumbprint);
    expect(state.certificates.map((c) => c.thumbprint)).not.toContain(fixture.publicThumbprint);
    expect(state.iis.resets).toBe(1);

    // The old certificate is backed up, with its key, under the backup password.
    const backup = join(backupDirectory, `${fixture.publicThumbprint}.pfx`);
    expect(existsSync(backup)).toBe(true);
    const check = await pwshOk<{ thumbprint: string; hasKey: boolean }>(
      dir,
      `$c = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new([System.IO.File]::ReadAllBytes(${psQuote(backup)}), $backupPassword)
Out-Result @{ thumbprint = $c.Thumbprint; hasKey = $c.HasPrivateKey }`,
    );
    expect(check).toEqual({ thumbprint: fixture.publicThumbprint, hasKey: true });

    const commands = state.calls.map((c) => c.command);
    expect(commands).toEqual(expect.arrayContaining(['Import-ExchangeCertificate', 'Enable-ExchangeCertificate', 'Set-PopSettings', 'Set-ImapSettings', 'iisreset', 'Test-ServiceHealth', 'Export-ExchangeCertificate']));
    expect(state.calls.find((c) => c.command === 'Enable-ExchangeCertificate')?.parameters).toMatchObject({ Services: ['IIS', 'SMTP', 'POP', 'IMAP'], Force: true });
    expect(state.calls.find((c) => c.command === 'Remove-ExchangeCertificate')?.parameters).toMatchObject({ Thumbprint: fixture.publicThumbprint, Confirm: false });
    const text = readFileSync(join(dir, 'state.json'), 'utf8');
    expect(text).not.toContain(PFX_PASSWORD);
    expect(text).not.toContain(BACKUP_PASSWORD);
  });

  it('renews with a wildcard certificate: POP/IMAP get the FQDN instead of the certificate', async () => {
    const dir = testDir();
    startFromServerName(dir);
    const { run: result } = await renew(dir, 'wildcard.pfx');
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    const state = readState(dir);
    expect(state.calls.find((c) => c.command === 'Enable-ExchangeCertificate')?.parameters['Services']).toEqual(['IIS', 'SMTP']);
    expect(binding(state, 'Default Web Site', '*:443:')?.certificateHash).toBe(fixture.wildcardThumbprint);
    expect(state.pop.activeCertificateName).toBe('mail.contoso.com');
    expect(state.imap.activeCertificateName).toBe('mail.contoso.com');
    expect(state.transport.internalTransportCertificateThumbprint).toBe(fixture.selfSignedThumbprint);
    expect(state.certificates.map((c) => c.thumbprint)).not.toContain(fixture.publicThumbprint);
  });
});
