/**
 * The simulator through real PowerShell remoting: the module imported on the
 * server side of a remoting session, its Exchange cmdlets reaching the client
 * through Import-PSSession (untyped proxies, server-side parameter binding,
 * deserialized results), host commands through Invoke-Command. The sessions
 * use PowerShell's own named-pipe transport to other pwsh processes (the
 * transport of Enter-PSHostProcess), which needs no sshd; the proxies and
 * results are those every PSRP transport gives.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pwshPath } from '../helpers/pwsh.js';
import { Folders, MODULE, PwshHost, psQuote, pwshProcess, readState, server, spawnPwsh } from './helpers.js';

const folders = new Folders();
let host: PwshHost;
let fixture: string;

beforeAll(async () => {
  fixture = folders.make();
  host = new PwshHost(fixture);
  await host.ok(fixture, "$null = New-ExchCertSimulatorState -Path ./state.json -Servers EXCH01,EXCH02\nOut-Result 'ok'");
}, 90_000);

afterAll(() => {
  host.close();
  folders.removeAll();
});

/** A pwsh process that waits to be the server side of a session; resolves with its process id. */
async function startServerSide(dir: string): Promise<{ child: ChildProcessWithoutNullStreams; pid: number }> {
  const child = spawnPwsh(dir, "[Console]::Out.WriteLine('ready ' + $PID)\n$null = [Console]::In.ReadLine()");
  const pid = await new Promise<number>((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => {
      const match = /ready (\d+)/.exec((text += chunk.toString()));
      if (match) resolve(Number(match[1]));
    });
    child.on('exit', (code) => reject(new Error(`the server-side pwsh exited (${code})`)));
  });
  return { child, pid };
}

/** Client-side PowerShell: Open-SimSession PID SERVER KIND connects, imports the module there and registers the session. */
function client(dir: string): string {
  return `
function Open-SimSession([int]$ProcessId, [string]$Server, [string]$Kind) {
    $connection = [System.Management.Automation.Runspaces.NamedPipeConnectionInfo]::new($ProcessId)
    $connection.OpenTimeout = 30000
    $runspace = [runspacefactory]::CreateRunspace($connection)
    $runspace.Open()
    $session = [System.Management.Automation.Runspaces.PSSession]::Create($runspace, 'NamedPipe', $null)
    Invoke-Command -Session $session -ArgumentList ${psQuote(`${dir}/state.json`)}, ${psQuote(MODULE)}, $Server, $Kind -ScriptBlock {
        param($State, $Module, $Server, $Kind)
        $env:EXCH_CERT_SIMULATOR_STATE = $State
        $env:EXCH_CERT_SIMULATOR_HOST = $Server
        Import-Module -Name $Module -DisableNameChecking
        Register-ExchCertSimulatorSession -Server $Server -Kind $Kind
    }
    $session
}
`;
}

describe.skipIf(!pwshPath)('the simulator through PowerShell remoting', { timeout: 180_000 }, () => {
  it('reaches the client through Import-PSSession as Exchange does: proxies, errors, preferences, deserialized results', async () => {
    const dir = folders.copy(fixture);
    const side = await startServerSide(dir);
    try {
      const seen = await pwshProcess<Record<string, unknown>>(
        dir,
        `${client(dir)}
$global:ErrorActionPreference = 'Continue'
$exchange = Open-SimSession ${side.pid} EXCH01 exchange
$null = Import-PSSession -Session $exchange -CommandName Get-ExchangeCertificate, Enable-ExchangeCertificate, Set-TransportService, Test-ServiceHealth, Get-Queue -DisableNameChecking -AllowClobber
$certificates = @(Get-ExchangeCertificate -Server EXCH02)
Out-Result @{
    proxy = (Get-Command Get-ExchangeCertificate).CommandType.ToString() + ' ' + ((Get-Command Get-ExchangeCertificate).Source -like 'tmp_*')
    certificates = $certificates.Count
    type = $certificates[0].PSObject.TypeNames[0]
    methods = @($certificates[0].PSObject.Methods | Where-Object { $_.MemberType -eq 'ScriptMethod' }).Count
    localStop = & { $ErrorActionPreference = 'Stop'; try { $null = Get-ExchangeCertificate -Thumbprint 'ABCDEF' 2>$null; 'went on' } catch { 'stopped' } }
    errorActionStop = & { try { $null = Get-ExchangeCertificate -Thumbprint 'ABCDEF' -ErrorAction Stop; 'went on' } catch { [string]$_ } }
    silent = @(Get-ExchangeCertificate -Thumbprint 'ABCDEF' -ErrorAction SilentlyContinue 2>&1).Count
    written = @(Enable-ExchangeCertificate -Thumbprint 'ABCDEF' -Services IIS 2>&1 | ForEach-Object { [string]$_ })
    parameter = & { try { Set-TransportService -Identity EXCH01 -InternalTransportCertificateThumbprint 'ABCD' -ErrorAction Stop; 'accepted' } catch { [string]$_ } }
    health = @(Test-ServiceHealth EXCH01 | ForEach-Object { $_.Role })
    queues = @(Get-Queue -Server EXCH02 | ForEach-Object { $_.Identity })
    local = @(Get-Module ExchCertSimulator).Count
}`,
        {},
        false,
      );
      expect(seen.result, seen.stderr).toEqual({
        proxy: 'Function True',
        certificates: 3,
        type: 'Deserialized.Microsoft.Exchange.Management.SystemConfigurationTasks.ExchangeCertificate',
        methods: 0,
        localStop: 'went on',
        errorActionStop: "The certificate with thumbprint ABCDEF was not found on server 'EXCH01'.",
        silent: 0,
        written: ["The certificate with thumbprint ABCDEF was not found on server 'EXCH01'."],
        parameter: "A parameter cannot be found that matches parameter name 'InternalTransportCertificateThumbprint'.",
        health: ['Mailbox Server Role', 'Client Access Server Role', 'Hub Transport Server Role'],
        queues: ['EXCH02\\Submission', 'EXCH02\\1', 'EXCH02\\2', 'EXCH02\\Shadow\\3', 'EXCH02\\Poison'],
        local: 0,
      });
    } finally {
      side.child.stdin.end('\n');
    }
  });

  it('breaks the Exchange PSSession of a server when a host session runs iisreset there', async () => {
    const dir = folders.copy(fixture);
    const exchangeSide = await startServerSide(dir);
    const hostSide = await startServerSide(dir);
    const exchangeExit = new Promise<number | null>((resolve) => exchangeSide.child.on('exit', resolve));
    try {
      const seen = await pwshProcess<Record<string, unknown>>(
        dir,
        `${client(dir)}
$exchange = Open-SimSession ${exchangeSide.pid} EXCH01 exchange
$hostSession = Open-SimSession ${hostSide.pid} EXCH01 host
$null = Import-PSSession -Session $exchange -CommandName Get-ExchangeCertificate -DisableNameChecking -AllowClobber
$before = @(Get-ExchangeCertificate -ErrorAction Stop).Count
$reset = @(Invoke-Command -Session $hostSession -ScriptBlock { iisreset /noforce; 'exit ' + $LASTEXITCODE })
Start-Sleep -Milliseconds 500
Out-Result @{
    before = $before
    reset = $reset
    exchange = $exchange.Runspace.RunspaceStateInfo.State.ToString()
    hostSession = $hostSession.Runspace.RunspaceStateInfo.State.ToString()
    stillHost = @(Invoke-Command -Session $hostSession -ScriptBlock { [string](Get-Service -Name W3SVC).Status })
}`,
        {},
        false,
      );
      expect(seen.result, seen.stderr).toEqual({
        before: 3,
        reset: ['Attempting stop...', 'Internet services successfully stopped', 'Attempting start...', 'Internet services successfully restarted', 'exit 0'],
        exchange: 'Broken',
        hostSession: 'Opened',
        stillHost: ['Running'],
      });
      expect(await exchangeExit).not.toBe(0);
      expect(server(readState(dir), 'EXCH01').iis?.lastResetEndedSessions).toEqual([exchangeSide.pid]);
    } finally {
      exchangeSide.child.stdin.end('\n');
      hostSide.child.stdin.end('\n');
    }
  });
});
