/**
 * Windows services of a simulated server (Get/Start/Stop/Restart-Service,
 * WaitForStatus) and Exchange's Test-ServiceHealth.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pwshPath } from '../helpers/pwsh.js';
import { Folders, PwshHost, readState, server, spawnPwsh } from './helpers.js';

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

describe.skipIf(!pwshPath).concurrent('services of a simulated server', { timeout: 90_000 }, () => {
  it('finds services by name or wildcard, starts, stops and restarts them like the real cmdlets', async () => {
    const dir = folders.copy(fixture);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
$result = [ordered]@{ pop = @(Get-Service -Name 'MSExchangePOP3*' | ForEach-Object { $_.Name + ' ' + $_.Status + ' ' + $_.StartType }) }
$result.missing = Get-ErrorText { Get-Service -Name 'NoSuchService' }
$result.missingWildcard = @(Get-Service -Name 'NoSuch*').Count
# Restart-Service starts a stopped service, as the real one does.
$result.restarted = @(Restart-Service -Name MSExchangePop3, MSExchangePOP3BE -PassThru | ForEach-Object { $_.Name + ' ' + $_.Status })
Stop-Service -Name MSExchangeTransport -WhatIf
$result.afterWhatIf = [string](Get-Service MSExchangeTransport).Status
$controller = Get-Service -Name MSExchangeTransport
Stop-Service -Name MSExchangeTransport
$result.stale = [string]$controller.Status
$controller.Refresh()
$result.refreshed = [string]$controller.Status
Start-Service -Name MSExchangeTransport
$controller.WaitForStatus('Running', [TimeSpan]::FromSeconds(5))
$result.waited = [string]$controller.Status
$result.piped = @('W3SVC', 'WAS' | Get-Service | ForEach-Object { $_.Name })
Out-Result $result`,
    );
    expect(seen).toEqual({
      pop: ['MSExchangePop3 Stopped Manual', 'MSExchangePOP3BE Stopped Manual'],
      missing: "Cannot find any service with service name 'NoSuchService'.",
      missingWildcard: 0,
      restarted: ['MSExchangePop3 Running', 'MSExchangePOP3BE Running'],
      afterWhatIf: 'Running',
      stale: 'Running',
      refreshed: 'Stopped',
      waited: 'Running',
      piped: ['W3SVC', 'WAS'],
    });
    expect(readState(dir).calls.map((c) => c.command)).toContain('WaitForStatus');
  });

  it('Test-ServiceHealth returns every role and writes an error for each stopped required service that starts automatically', async () => {
    const dir = folders.copy(fixture);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
Stop-Service -Name MSExchangeTransport, MSExchangeADTopology
$roles = @()
$errors = @(Test-ServiceHealth EXCH01 2>&1 | ForEach-Object { if ($_ -is [System.Management.Automation.ErrorRecord]) { [string]$_.Exception.Message } else { $roles += $_ } })
Out-Result @{
    roles = @($roles | ForEach-Object { $_.Role + ' ' + $_.RequiredServicesRunning + ' ' + ($_.ServicesNotRunning -join ',') })
    errors = $errors
    stop = Get-ErrorText { Test-ServiceHealth -ErrorAction Stop }
    quiet = @(Test-ServiceHealth -ErrorAction SilentlyContinue).Count
    other = @(Test-ServiceHealth -Server EXCH02 | Where-Object { -not $_.RequiredServicesRunning }).Count
}`,
    );
    expect(seen).toEqual({
      roles: ['Mailbox Server Role False MSExchangeADTopology', 'Client Access Server Role False MSExchangeADTopology', 'Hub Transport Server Role False MSExchangeADTopology,MSExchangeTransport'],
      errors: [
        "The required service MSExchangeADTopology of the Mailbox Server Role is set to start automatically but isn't running on server EXCH01 (current status: Stopped).",
        "The required service MSExchangeTransport of the Hub Transport Server Role is set to start automatically but isn't running on server EXCH01 (current status: Stopped).",
      ],
      stop: expect.stringMatching(/^The required service MSExchangeADTopology/),
      quiet: 3,
      other: 0,
    });
    // POP3 and IMAP4 are Manual on a fresh install: Test-ServiceHealth does not ask for them.
    expect(server(readState(dir), 'EXCH01').services.find((s) => s.name === 'MSExchangeImap4')).toMatchObject({ status: 'Stopped', startType: 'Manual' });
  });

  it('polls the state for WaitForStatus without holding its lock, so another process can start the service meanwhile', async () => {
    const dir = folders.copy(fixture);
    await host.ok(dir, "Stop-Service -Name MSExchangeTransport\nOut-Result 'ok'");
    const waiter = spawnPwsh(dir, "$controller = Get-Service -Name MSExchangeTransport\n[Console]::Out.WriteLine('waiting')\n$watch = [Diagnostics.Stopwatch]::StartNew()\n$controller.WaitForStatus('Running', [TimeSpan]::FromSeconds(30))\nOut-Result @{ ms = $watch.ElapsedMilliseconds; status = [string]$controller.Status }");
    let output = '';
    const finished = new Promise<number | null>((resolve) => waiter.on('exit', resolve));
    await new Promise<void>((resolve) => waiter.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()).includes('waiting') && resolve()));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const started = await host.ok<{ ms: number }>(dir, "$watch = [Diagnostics.Stopwatch]::StartNew()\nStart-Service -Name MSExchangeTransport\nOut-Result @{ ms = $watch.ElapsedMilliseconds }");
    expect(await finished).toBe(0);
    const waited = JSON.parse(output.split('\n').find((line) => line.startsWith('RESULT:'))!.slice(7)) as { ms: number; status: string };
    expect(waited.status).toBe('Running');
    expect(waited.ms).toBeLessThan(20_000);
    expect(started.ms).toBeLessThan(5000);
  });
});
