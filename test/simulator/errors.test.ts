/**
 * How errors and results reach the caller (as implicit-remoting proxies
 * deliver Exchange's; as compiled cmdlets deliver the host's), and the faults
 * a state file can inject.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pwshPath } from '../helpers/pwsh.js';
import { Folders, PwshHost, pwshProcess, readState, server, spawnPwsh, writeState } from './helpers.js';

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

describe.skipIf(!pwshPath).concurrent('errors and results', { timeout: 90_000 }, () => {
  it('writes every Exchange error as a non-terminating error that only -ErrorAction and the global preference stop, as proxies do', async () => {
    const dir = folders.copy(fixture);
    const state = readState(dir);
    state.faults = [{ command: 'Enable-ExchangeCertificate', action: 'throw', message: 'Active Directory operation failed (simulated)' }];
    writeState(dir, state);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
# The script's own $ErrorActionPreference is 'Stop' (the preamble): a proxy does not see it.
$result = [ordered]@{}
$output = @(Get-ExchangeCertificate -Thumbprint 'ABCDEF' 2>$null)
$result.continued = $output.Count
$result.written = Get-WrittenErrors { Get-ExchangeCertificate -Thumbprint 'ABCDEF' }
function Test-Inner { $ErrorActionPreference = 'Stop'; $null = Get-ExchangeCertificate -Thumbprint 'ABCDEF' 2>$null; 'went on' }
$result.inner = Test-Inner
$result.stop = Get-ErrorText { Get-ExchangeCertificate -Thumbprint 'ABCDEF' -ErrorAction Stop }
$result.silent = Get-WrittenErrors { Get-ExchangeCertificate -Thumbprint 'ABCDEF' -ErrorAction SilentlyContinue }
$result.fault = Get-WrittenErrors { Enable-ExchangeCertificate -Thumbprint 'ABCDEF' -Services IIS }
$result.faultSilent = Get-WrittenErrors { Enable-ExchangeCertificate -Thumbprint 'ABCDEF' -Services IIS -ErrorAction SilentlyContinue }
$global:ErrorActionPreference = 'Stop'
$result.globalStop = Get-ErrorText { Get-ExchangeCertificate -Thumbprint 'ABCDEF' }
$global:ErrorActionPreference = 'Continue'
# Host commands stand in for compiled cmdlets: the caller's preference counts.
$result.host = Get-ErrorText { Get-Service -Name 'NoSuchService' }
$result.hostSilent = Get-WrittenErrors { Get-Service -Name 'NoSuchService' -ErrorAction SilentlyContinue }
Out-Result $result`,
    );
    const missing = "The certificate with thumbprint ABCDEF was not found on server 'EXCH01'.";
    expect(seen).toEqual({
      continued: 0,
      written: [missing],
      inner: 'went on',
      stop: missing,
      silent: [],
      fault: ['Active Directory operation failed (simulated)'],
      faultSilent: [],
      globalStop: missing,
      host: "Cannot find any service with service name 'NoSuchService'.",
      hostSilent: [],
    });
  });

  it('returns property bags typed Deserialized.* without methods from Exchange cmdlets, and host objects with their methods', async () => {
    const dir = folders.copy(fixture);
    const seen = await host.ok<{ exchange: { command: string; type: string; methods: number }[]; binding: string[]; service: string[] }>(
      dir,
      `
$results = [ordered]@{
    'Get-ExchangeCertificate' = Get-ExchangeCertificate; 'Get-ExchangeServer' = Get-ExchangeServer; 'Get-TransportService' = Get-TransportService
    'Get-PopSettings' = Get-PopSettings; 'Get-ImapSettings' = Get-ImapSettings; 'Get-AuthConfig' = Get-AuthConfig; 'Test-ServiceHealth' = Test-ServiceHealth
    'Get-SendConnector' = Get-SendConnector; 'Get-ReceiveConnector' = Get-ReceiveConnector; 'Get-Queue' = Get-Queue
    'Get-ServerComponentState' = Get-ServerComponentState EXCH01 -Component HubTransport
    'Export-ExchangeCertificate' = Export-ExchangeCertificate (Get-ExchangeCertificate | Select-Object -First 1).Thumbprint -BinaryEncoded
}
Out-Result @{
    exchange = @(foreach ($name in $results.Keys) { foreach ($item in @($results[$name])) { @{ command = $name; type = $item.PSObject.TypeNames[0]; methods = @($item.PSObject.Methods | Where-Object { $_.MemberType -eq 'ScriptMethod' }).Count } } })
    binding = @((Get-WebBinding -Name 'Default Web Site' -Protocol https | Select-Object -First 1).PSObject.Methods | Where-Object { $_.MemberType -eq 'ScriptMethod' } | ForEach-Object { $_.Name })
    service = @((Get-Service -Name W3SVC).PSObject.Methods | Where-Object { $_.MemberType -eq 'ScriptMethod' } | ForEach-Object { $_.Name })
}`,
    );
    expect(seen.exchange.length).toBeGreaterThan(12);
    for (const item of seen.exchange) {
      expect(item.type, item.command).toMatch(/^Deserialized\.Microsoft\.Exchange\./);
      expect(item.methods, item.command).toBe(0);
    }
    expect(seen.binding).toEqual(['AddSslCertificate', 'RemoveSslCertificate']);
    expect(seen.service).toEqual(expect.arrayContaining(['WaitForStatus', 'Refresh']));
  });
});

describe.skipIf(!pwshPath).concurrent('injected faults', { timeout: 90_000 }, () => {
  it('throws with a count-down, after the change, and on one server only', async () => {
    const dir = folders.copy(fixture);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
Add-ExchCertSimulatorFault -Command Set-PopSettings -Action throw -Message 'failed on EXCH02 (simulated)' -Times 2 -Server EXCH02
Add-ExchCertSimulatorFault -Command Set-ImapSettings -Action throw -After -Message 'the connection dropped after the change' -Times 1
$unknownServer = Get-ErrorText { Add-ExchCertSimulatorFault -Command Get-Queue -Action stuck -Server EXCH09 }
$set = { param($server) Get-WrittenErrors { Set-PopSettings -Server $server -X509CertificateName ('pop.' + $server + '.contoso.com') -WarningAction SilentlyContinue } }
Out-Result @{
    exch01 = & $set EXCH01
    first = & $set EXCH02
    second = & $set EXCH02
    third = & $set EXCH02
    names = @((Get-PopSettings -Server EXCH01).X509CertificateName, (Get-PopSettings -Server EXCH02).X509CertificateName)
    after = Get-WrittenErrors { Set-ImapSettings -X509CertificateName 'imap.contoso.com' -WarningAction SilentlyContinue }
    imap = (Get-ImapSettings).X509CertificateName
    left = @((Get-ExchCertSimulatorState).faults).Count
    unknownServer = $unknownServer
}`,
    );
    expect(seen).toEqual({
      unknownServer: "ExchCertSimulator: no server 'EXCH09' in this organisation.",
      exch01: [],
      first: ['failed on EXCH02 (simulated)'],
      second: ['failed on EXCH02 (simulated)'],
      third: [],
      names: ['pop.EXCH01.contoso.com', 'pop.EXCH02.contoso.com'],
      after: ['the connection dropped after the change'],
      imap: 'imap.contoso.com',
      left: 0,
    });
    expect(readState(dir).calls.filter((c) => c.command === 'Set-PopSettings').map((c) => c.server)).toEqual(['EXCH01', 'EXCH02', 'EXCH02', 'EXCH02']);
  });

  it('makes host commands throw their faults unless "terminating": false', async () => {
    const dir = folders.copy(fixture);
    const state = readState(dir);
    state.faults = [
      { command: 'Get-WebBinding', action: 'throw', message: 'the IIS configuration is locked (simulated)', times: 1 },
      { command: 'Get-Service', action: 'throw', message: 'RPC server unavailable (simulated)', terminating: false, times: 1 },
    ];
    writeState(dir, state);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `Out-Result @{ terminating = Get-ErrorText { Get-WebBinding -ErrorAction SilentlyContinue }; hidden = Get-ErrorText { Get-Service -Name W3SVC -ErrorAction SilentlyContinue } }`,
    );
    expect(seen).toEqual({ terminating: 'the IIS configuration is locked (simulated)', hidden: null });
  });

  it('hangs without holding the state lock, then runs the command', async () => {
    const dir = folders.copy(fixture);
    const state = readState(dir);
    state.faults = [{ command: 'Get-AuthConfig', action: 'hang', seconds: 4, times: 1 }];
    writeState(dir, state);
    const hanging = spawnPwsh(dir, "[Console]::Out.WriteLine('calling')\n$watch = [Diagnostics.Stopwatch]::StartNew()\n$auth = Get-AuthConfig -ErrorAction Stop\nOut-Result @{ ms = $watch.ElapsedMilliseconds; identity = $auth.Identity }");
    let output = '';
    const finished = new Promise<number | null>((resolve) => hanging.on('exit', resolve));
    await new Promise<void>((resolve) => hanging.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()).includes('calling') && resolve()));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    // While the other process sleeps, this one reads and writes the state.
    const meanwhile = await host.ok<{ ms: number; done: boolean }>(dir, "$watch = [Diagnostics.Stopwatch]::StartNew()\n$null = Get-ExchangeServer -ErrorAction Stop\nOut-Result @{ ms = $watch.ElapsedMilliseconds; done = ((Get-ExchCertSimulatorState).calls | Where-Object { $_.command -eq 'Get-AuthConfig' }).Count -eq 1 }");
    expect(await finished).toBe(0);
    const hung = JSON.parse(output.split('\n').find((line) => line.startsWith('RESULT:'))!.slice(7)) as { ms: number; identity: string };
    expect(hung.identity).toBe('Auth Configuration');
    expect(hung.ms).toBeGreaterThanOrEqual(3900);
    expect(meanwhile.done).toBe(true);
    expect(meanwhile.ms).toBeLessThan(2000);
  });

  it('ends the process for an exit fault, after saving the call', async () => {
    const dir = folders.copy(fixture);
    const state = readState(dir);
    state.faults = [{ command: 'Get-ExchangeServer', action: 'exit', code: 7, times: 1 }];
    writeState(dir, state);
    const crashed = await pwshProcess(dir, "Write-Output 'before'\n$null = Get-ExchangeServer\nWrite-Output 'after'");
    expect(crashed.code).toBe(7);
    expect(crashed.stdout).toContain('before');
    expect(crashed.stdout).not.toContain('after');
    const after = readState(dir);
    expect(after.calls.map((c) => c.command)).toEqual(['Get-ExchangeServer']);
    expect(after.faults).toEqual([]);
  });

  it('keeps a service from starting or stopping, on the server the fault names', async () => {
    const dir = folders.copy(fixture);
    const state = readState(dir);
    state.faults = [
      { service: 'MSExchangeTransport', action: 'wont-start', server: 'EXCH02', times: 1 },
      { service: 'W3SVC', action: 'wont-stop', times: 1 },
    ];
    writeState(dir, state);
    const onExch02 = { EXCH_CERT_SIMULATOR_HOST: 'EXCH02' };
    const exch01 = await host.ok<Record<string, unknown>>(dir, "Restart-Service -Name MSExchangeTransport\nOut-Result @{ status = [string](Get-Service MSExchangeTransport).Status }");
    expect(exch01).toEqual({ status: 'Running' });
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
$result = [ordered]@{ restart = Get-ErrorText { Restart-Service -Name MSExchangeTransport -Force } }
$result.status = [string](Get-Service -Name MSExchangeTransport).Status
$watch = [System.Diagnostics.Stopwatch]::StartNew()
$result.wait = Get-ErrorText { (Get-Service -Name MSExchangeTransport).WaitForStatus('Running', [TimeSpan]::FromSeconds(1)) }
$result.waitMs = $watch.ElapsedMilliseconds
$result.stop = Get-ErrorText { Stop-Service -Name W3SVC }
$result.w3svc = [string](Get-Service -Name W3SVC).Status
Start-Service -Name MSExchangeTransport
(Get-Service -Name MSExchangeTransport).WaitForStatus('Running', [TimeSpan]::FromSeconds(5))
$result.started = [string](Get-Service -Name MSExchangeTransport).Status
Out-Result $result`,
      onExch02,
    );
    expect(seen).toMatchObject({
      restart: "Service 'Microsoft Exchange Transport (MSExchangeTransport)' cannot be started due to the following error: Cannot start service MSExchangeTransport on computer '.'.",
      status: 'Stopped',
      wait: 'Exception calling "WaitForStatus" with "2" argument(s): "Time out has expired and the operation has not been completed."',
      stop: "Service 'World Wide Web Publishing Service (W3SVC)' cannot be stopped due to the following error: Cannot stop W3SVC service on computer '.'.",
      w3svc: 'Running',
      started: 'Running',
    });
    expect(seen['waitMs']).toBeGreaterThanOrEqual(900);
    expect(server(readState(dir), 'EXCH02').services.find((s) => s.name === 'MSExchangeTransport')?.status).toBe('Running');
  });
});
