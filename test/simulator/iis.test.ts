/**
 * IIS on a simulated server: Get-WebBinding and New-WebBinding, the binding
 * methods, netsh http show/update sslcert, Require SSL per site, and
 * iisreset, which ends the Exchange PowerShell sessions of its server.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pwshPath } from '../helpers/pwsh.js';
import { Folders, MODULE, PWSH, PwshHost, binding, psQuote, pwshProcess, readState, server, spawnPwsh, writeState } from './helpers.js';

const folders = new Folders();
let host: PwshHost;
let fixture: string;
let made: { publicThumbprint: string; selfSigned: string; newThumbprint: string };

const IIS_APP_ID = '{4dc3e181-e14b-4a21-b022-59fc669b0914}';
const importNew = "(Import-ExchangeCertificate -FileData ([System.IO.File]::ReadAllBytes((Join-Path $PWD 'new.pfx'))) -Password $pfxPassword -ErrorAction Stop).Thumbprint";

beforeAll(async () => {
  fixture = folders.make();
  host = new PwshHost(fixture);
  made = await host.ok(
    fixture,
    `
$state = New-ExchCertSimulatorState -Path ./state.json -Servers EXCH01,EXCH02 -Edge EDGE01
$new = New-ExchCertSimulatorPfx -Path ./new.pfx -Password $pfxPassword -DnsName mail.contoso.com
Out-Result @{ publicThumbprint = $state.PublicThumbprint; selfSigned = $state.SelfSignedThumbprint; newThumbprint = $new.Thumbprint }`,
  );
}, 90_000);

afterAll(() => {
  host.close();
  folders.removeAll();
});

describe.skipIf(!pwshPath).concurrent('IIS on a simulated server', { timeout: 90_000 }, () => {
  it('finds bindings by the literal site name and adds new ones', async () => {
    const dir = folders.copy(fixture);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
New-WebBinding -Name 'Default Web Site' -Protocol https -Port 8443 -IPAddress '*'
Out-Result @{
    wildcard = @(Get-WebBinding -Name 'Default*').Count
    https = @(Get-WebBinding -Name 'Default Web Site' -Protocol https | ForEach-Object { $_.bindingInformation + ' ' + $_.certificateHash })
    backEnd = @(Get-WebBinding -Port 444 | ForEach-Object { $_.ItemXPath + ' ' + $_.bindingInformation })
    duplicate = Get-ErrorText { New-WebBinding -Name 'Default Web Site' -Protocol https -Port 8443 -IPAddress '*' }
}`,
    );
    expect(seen).toEqual({
      wildcard: 0,
      https: [`*:443: ${made.publicThumbprint}`, `127.0.0.1:443: ${made.selfSigned}`, '*:8443: '],
      backEnd: ["/system.applicationHost/sites/site[@name='Exchange Back End' and @id='2'] *:444:"],
      duplicate: "Cannot add duplicate collection entry of type 'binding' with combined key attributes 'protocol, bindingInformation' respectively set to 'https, *:8443:'",
    });
    const edge = await host.run(dir, 'Get-WebBinding', { EXCH_CERT_SIMULATOR_HOST: 'EDGE01' });
    expect(edge.error).toMatch(/^The term 'Get-WebBinding' is not recognized as a name of a cmdlet.*EDGE01 is an Edge Transport server, without IIS/);
  });

  it('adds and removes binding certificates as http.sys allows: no second certificate on a binding that has one', async () => {
    const dir = folders.copy(fixture);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
$new = ${importNew}
$binding = Get-WebBinding -Name 'Default Web Site' -Protocol https -Port 443 -IPAddress '*'
$result = [ordered]@{ exists = Get-ErrorText { $binding.AddSslCertificate($new, 'My') } }
New-WebBinding -Name 'Default Web Site' -Protocol https -Port 8443
$result.unknown = Get-ErrorText { (Get-WebBinding -Port 8443).AddSslCertificate('0123456789ABCDEF0123456789ABCDEF01234567', 'My') }
$binding.RemoveSslCertificate()
$result.removed = (Get-WebBinding -Name 'Default Web Site' -Protocol https -Port 443 -IPAddress '*').certificateHash
$binding.AddSslCertificate($new, 'My')
$result.objectUpdated = $binding.certificateHash
$result.added = (Get-WebBinding -Name 'Default Web Site' -Protocol https -Port 443 -IPAddress '*').certificateHash
# A host-name binding without SNI shares 0.0.0.0:443 with *:443:, so it shows that certificate at once.
New-WebBinding -Name 'Default Web Site' -Protocol https -Port 443 -HostHeader 'owa.contoso.com'
$result.shared = (Get-WebBinding -Name 'Default Web Site' -HostHeader 'owa.contoso.com').certificateHash
Out-Result $result`,
    );
    expect(seen).toEqual({
      exists: expect.stringMatching(/^Exception calling "AddSslCertificate" with "2" argument\(s\): "Cannot create a file when that file already exists\. \(Exception from HRESULT: 0x800700B7\)/),
      unknown: expect.stringMatching(/^Exception calling "AddSslCertificate" with "2" argument\(s\): "A specified logon session does not exist\. .*0x80070520/),
      removed: '',
      objectUpdated: made.newThumbprint,
      added: made.newThumbprint,
      shared: made.newThumbprint,
    });
    // Every call is logged, the refused ones too.
    expect(readState(dir).calls.filter((c) => /SslCertificate$/.test(c.command)).map((c) => c.command)).toEqual(['AddSslCertificate', 'AddSslCertificate', 'RemoveSslCertificate', 'AddSslCertificate']);
  });

  it('shows and updates http.sys SSL bindings with netsh, replacing a certificate in one change', async () => {
    const dir = folders.copy(fixture);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
$new = ${importNew}
$result = [ordered]@{}
$all = netsh http show sslcert
$result.all = @($all | Where-Object { $_ -match 'IP:port|Hostname:port' } | ForEach-Object { $_.Trim() })
$result.allExit = $LASTEXITCODE
$missing = netsh http show sslcert ipport=10.0.0.1:443
$result.missing = @($missing | Where-Object { $_.Trim() }); $result.missingExit = $LASTEXITCODE
$update = netsh http update sslcert ipport=0.0.0.0:443 certhash=$new appid=${psQuote(IIS_APP_ID)} certstorename=MY
$result.update = @($update | Where-Object { $_ }); $result.updateExit = $LASTEXITCODE
$result.iis = (Get-WebBinding -Name 'Default Web Site' -Protocol https -Port 443 -IPAddress '*').certificateHash
$shown = netsh http show sslcert ipport=0.0.0.0:443
$result.shown = @($shown | Where-Object { $_ -match 'Certificate Hash|Application ID|Certificate Store Name' } | ForEach-Object { $_.Trim() })
$none = netsh http update sslcert ipport=10.0.0.1:443 certhash=$new appid=${psQuote(IIS_APP_ID)}
$result.none = @($none | Where-Object { $_ }); $result.noneExit = $LASTEXITCODE
$bad = netsh http update sslcert ipport=127.0.0.1:443 certhash=0123456789ABCDEF0123456789ABCDEF01234567 appid=${psQuote(IIS_APP_ID)}
$result.badCertificate = @($bad | Where-Object { $_ }); $result.badExit = $LASTEXITCODE
$short = netsh http update sslcert ipport=127.0.0.1:443 certhash=$new
$result.short = @($short | Where-Object { $_ })[0]; $result.shortExit = $LASTEXITCODE
New-WebBinding -Name 'Default Web Site' -Protocol https -Port 443 -HostHeader 'mail.contoso.com' -SslFlags 1
(Get-WebBinding -Name 'Default Web Site' -HostHeader 'mail.contoso.com').AddSslCertificate(${psQuote(made.publicThumbprint)}, 'My')
$null = netsh http update sslcert hostnameport=mail.contoso.com:443 certhash=$new appid=${psQuote(IIS_APP_ID)} certstorename=MY
$result.sniExit = $LASTEXITCODE
$result.sni = (Get-WebBinding -Name 'Default Web Site' -HostHeader 'mail.contoso.com').certificateHash
$result.loopback = (Get-WebBinding -IPAddress '127.0.0.1').certificateHash
Out-Result $result`,
    );
    expect(seen).toEqual({
      all: ['IP:port                      : 0.0.0.0:443', 'IP:port                      : 127.0.0.1:443', 'IP:port                      : 0.0.0.0:444'],
      allExit: 0,
      missing: ['SSL Certificate bindings:', '-------------------------', 'The system cannot find the file specified. '],
      missingExit: 1,
      update: ['SSL Certificate successfully updated'],
      updateExit: 0,
      iis: made.newThumbprint,
      shown: [`Certificate Hash             : ${made.newThumbprint.toLowerCase()}`, `Application ID               : ${IIS_APP_ID}`, 'Certificate Store Name       : MY'],
      none: ['SSL Certificate update failed, Error: 2', 'The system cannot find the file specified. '],
      noneExit: 1,
      badCertificate: ['SSL Certificate update failed, Error: 1312', 'A specified logon session does not exist. It may already have been terminated.'],
      badExit: 1,
      short: 'One or more essential parameters were not entered.',
      shortExit: 1,
      sniExit: 0,
      sni: made.newThumbprint,
      loopback: made.selfSigned,
    });
    // The update is one state change: no call ever saw 0.0.0.0:443 without a certificate.
    const calls = readState(dir).calls.map((c) => c.command);
    expect(calls.filter((c) => c === 'RemoveSslCertificate')).toEqual([]);
  });

  it('reads and sets Require SSL per site', async () => {
    const dir = folders.copy(fixture);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
$get = { param($site) Get-WebConfigurationProperty -Filter 'system.webServer/security/access' -Name 'sslFlags' -PSPath ('IIS:\\Sites\\' + $site) }
$result = [ordered]@{ before = & $get 'Default Web Site' }
Set-WebConfigurationProperty -Filter 'system.webServer/security/access' -Name 'sslFlags' -Value 'None' -PSPath 'MACHINE/WEBROOT/APPHOST' -Location 'Default Web Site'
$result.off = & $get 'Default Web Site'
$result.backEnd = & $get 'Exchange Back End'
Set-WebConfigurationProperty -Filter 'system.webServer/security/access' -Name 'sslFlags' -Value 'Ssl,Ssl128' -PSPath 'IIS:\\Sites\\Default Web Site'
$result.on = & $get 'Default Web Site'
$result.other = Get-ErrorText { Get-WebConfigurationProperty -Filter 'system.webServer/security/authentication/windowsAuthentication' -Name enabled -PSPath 'IIS:\\Sites\\Default Web Site' }
Out-Result $result`,
    );
    expect(seen).toEqual({ before: 'Ssl', off: 'None', backEnd: 'Ssl', on: 'Ssl', other: expect.stringMatching(/^ExchCertSimulator: only the sslFlags attribute of system.webServer\/security\/access \(Require SSL\) is simulated/) });
    expect(server(readState(dir), 'EXCH01').iis?.sites.map((s) => s.requireSsl)).toEqual([true, true]);
  });

  it('prints what iisreset prints and sets its exit code, also when IIS does not come back', async () => {
    const dir = folders.copy(fixture);
    const state = readState(dir);
    state.faults = [
      { command: 'iisreset', action: 'exit', code: 1, times: 1, message: 'Restart attempt failed.\nAccess denied, you must be an administrator of the remote computer to use this\ncommand.' },
      { service: 'W3SVC', action: 'wont-start', times: 1 },
    ];
    writeState(dir, state);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
$result = [ordered]@{}
foreach ($round in 1..3) { $result['output' + $round] = @(iisreset /noforce); $result['exit' + $round] = $LASTEXITCODE }
$result.status = @(iisreset /status)
Out-Result $result`,
    );
    expect(seen).toEqual({
      output1: ['Attempting stop...', 'Restart attempt failed.', 'Access denied, you must be an administrator of the remote computer to use this', 'command.'],
      exit1: 1,
      output2: ['Attempting stop...', 'Internet services successfully stopped', 'Attempting start...', 'Restart attempt failed.', expect.stringMatching(/^The IIS Admin Service or the World Wide Web Publishing Service/)],
      exit2: 1,
      output3: ['Attempting stop...', 'Internet services successfully stopped', 'Attempting start...', 'Internet services successfully restarted'],
      exit3: 0,
      status: ['Status for IIS Admin Service ( IISADMIN ) : Running', 'Status for Windows Process Activation Service ( WAS ) : Running', 'Status for World Wide Web Publishing Service ( W3SVC ) : Running'],
    });
    expect(server(readState(dir), 'EXCH01').iis?.resets).toBe(2);
  });

  it('ends the in-process Exchange session with an iisreset on its server, until the module is imported again', async () => {
    const dir = folders.copy(fixture);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
$result = [ordered]@{ before = @(Get-ExchangeCertificate -ErrorAction Stop).Count }
$env:EXCH_CERT_SIMULATOR_HOST = 'EXCH02'
$null = iisreset /noforce
$env:EXCH_CERT_SIMULATOR_HOST = ''
$result.otherServer = @(Get-ExchangeCertificate -ErrorAction Stop).Count
$null = iisreset /noforce
$result.ended = Get-WrittenErrors { Get-ExchangeCertificate }
$result.alsoEnded = Get-WrittenErrors { Get-TransportService -Identity EXCH02 }
$result.host = [string](Get-Service -Name W3SVC).Status
Import-Module -Name ${psQuote(MODULE)} -Force -DisableNameChecking
$result.again = @(Get-ExchangeCertificate -ErrorAction Stop).Count
Out-Result $result`,
    );
    expect(seen).toEqual({
      before: 3,
      otherServer: 3,
      ended: [expect.stringMatching(/^ExchCertSimulator: the Exchange PowerShell session ended: IIS was restarted on EXCH01 at \S+Z, and the \/PowerShell endpoint lives in IIS\. Connect again/)],
      alsoEnded: [expect.stringMatching(/session ended/)],
      host: 'Running',
      again: 3,
    });
  });

  it('remembers at import each server\u2019s IIS resets, so an iisreset from another process ends this process\u2019s session', async () => {
    const dir = folders.copy(fixture);
    const seen = await pwshProcess<Record<string, unknown>>(
      dir,
      `
# A script run with -File runs in the global scope: its preference is the one Exchange cmdlets see.
$global:ErrorActionPreference = 'Continue'
$before = @(Get-ExchangeCertificate -ErrorAction Stop).Count
$other = Start-Process -FilePath ${psQuote(PWSH)} -ArgumentList @('-NoProfile', '-NonInteractive', '-Command', ('Import-Module -Name ''${MODULE.replace(/'/g, "''''")}'' -DisableNameChecking; $null = iisreset /noforce')) -Wait -PassThru
Out-Result @{ before = $before; other = $other.ExitCode; after = Get-WrittenErrors { Get-ExchangeCertificate } }`,
    );
    expect(seen.result, seen.stderr).toEqual({ before: 3, other: 0, after: [expect.stringMatching(/^ExchCertSimulator: the Exchange PowerShell session ended: IIS was restarted on EXCH01/)] });
  });

  it('ends the processes of the Exchange sessions registered for that server, not host sessions or other servers\u2019', async () => {
    const dir = folders.copy(fixture);
    // Each session prints its own process id: .tools/pwsh is a launcher whose child is PowerShell.
    const start = (serverName: string, kind: string): ChildProcessWithoutNullStreams =>
      spawnPwsh(dir, `Register-ExchCertSimulatorSession -Server ${serverName} -Kind ${kind}\n[Console]::Out.WriteLine('registered ' + $PID)\n$null = [Console]::In.ReadLine()`);
    const sessions = { exchange: start('EXCH01', 'exchange'), hostSession: start('EXCH01', 'host'), otherServer: start('EXCH02', 'exchange') };
    const exits = Object.fromEntries(Object.entries(sessions).map(([name, child]) => [name, new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))]));
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    try {
      const pids = Object.fromEntries(
        await Promise.all(
          Object.entries(sessions).map(
            ([name, child]) =>
              new Promise<[string, number]>((resolve) => {
                let text = '';
                child.stdout.on('data', (chunk: Buffer) => {
                  const match = /registered (\d+)/.exec((text += chunk.toString()));
                  if (match) resolve([name, Number(match[1])]);
                });
              }),
          ),
        ),
      ) as Record<keyof typeof sessions, number>;
      const registered = (name: string): string[] => server(readState(dir), name).sessions.map((s) => `${s.pid} ${s.kind}`).sort();
      expect(registered('EXCH01')).toEqual([`${pids.exchange} exchange`, `${pids.hostSession} host`].sort());
      await host.ok(dir, "$null = iisreset /noforce\nOut-Result 'ok'");
      expect(await exits['exchange']).not.toBe(0);
      expect(alive(pids.exchange)).toBe(false);
      const state = readState(dir);
      expect(server(state, 'EXCH01').iis?.lastResetEndedSessions).toEqual([pids.exchange]);
      expect(registered('EXCH01')).toEqual([`${pids.hostSession} host`]);
      expect(registered('EXCH02')).toEqual([`${pids.otherServer} exchange`]);
      expect(alive(pids.hostSession) && alive(pids.otherServer)).toBe(true);
    } finally {
      for (const child of Object.values(sessions)) child.stdin.end('\n');
    }
    expect(await exits['hostSession']).toBe(0);
    expect(await exits['otherServer']).toBe(0);
    expect(binding(readState(dir), 'EXCH01', 'Default Web Site', '*:443:')?.certificateHash).toBe(made.publicThumbprint);
  });
});
