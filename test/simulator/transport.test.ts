/**
 * Transport on a simulated organisation: the transport service, the
 * certificate POP3/IMAP4 serve, send and receive connectors, and maintenance
 * mode (server component states, queues that drain, Redirect-Message).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pwshPath } from '../helpers/pwsh.js';
import { Folders, PwshHost, psQuote, readState, server, writeState } from './helpers.js';

const folders = new Folders();
let host: PwshHost;
let fixture: string;
let made: { publicThumbprint: string; popThumbprint: string; wildcardThumbprint: string; renewedThumbprint: string; expiredThumbprint: string };

const importPfx = (file: string): string => `(Import-ExchangeCertificate -FileData ([System.IO.File]::ReadAllBytes((Join-Path $PWD '${file}'))) -Password $pfxPassword -ErrorAction Stop).Thumbprint`;

beforeAll(async () => {
  fixture = folders.make();
  host = new PwshHost(fixture);
  made = await host.ok(
    fixture,
    `
$state = New-ExchCertSimulatorState -Path ./state.json -Servers EXCH01,EXCH02
$pop = New-ExchCertSimulatorPfx -Path ./pop.pfx -Password $pfxPassword -DnsName pop.contoso.com
$wildcard = New-ExchCertSimulatorPfx -Path ./wildcard.pfx -Password $pfxPassword -DnsName contoso.com -Wildcard
$renewed = New-ExchCertSimulatorPfx -Path ./renewed-wildcard.pfx -Password $pfxPassword -DnsName contoso.com -Wildcard -ValidDays 400
$expired = New-ExchCertSimulatorPfx -Path ./expired.pfx -Password $pfxPassword -DnsName imap.contoso.com -ValidDays -1
Out-Result @{ publicThumbprint = $state.PublicThumbprint; popThumbprint = $pop.Thumbprint; wildcardThumbprint = $wildcard.Thumbprint; renewedThumbprint = $renewed.Thumbprint; expiredThumbprint = $expired.Thumbprint }`,
  );
}, 90_000);

afterAll(() => {
  host.close();
  folders.removeAll();
});

describe.skipIf(!pwshPath).concurrent('transport', { timeout: 90_000 }, () => {
  it('Set-TransportService takes Exchange\u2019s parameters and changes nothing the simulator keeps', async () => {
    const dir = folders.copy(fixture);
    const before = readState(dir).servers;
    const seen = await host.ok<Record<string, unknown>>(dir, "Set-TransportService EXCH02 -MessageTrackingLogEnabled $true -MaxOutboundConnections 100 -Confirm:$false\nOut-Result @{ calls = @((Get-ExchCertSimulatorState).calls | ForEach-Object { $_.command + ' ' + $_.server }) }");
    expect(seen).toEqual({ calls: ['Set-TransportService EXCH02'] });
    expect(readState(dir).servers).toEqual(before);
  });

  it('POP3 and IMAP4 serve a new name once both services restarted, and only with a valid certificate enabled for them (or a wildcard)', async () => {
    const dir = folders.copy(fixture);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
$state = { (Get-ExchCertSimulatorState).servers[0] }
$restart = { param($names) Restart-Service -Name $names }
$result = [ordered]@{}
$pop = ${importPfx('pop.pfx')}
$result.warning = @(Set-PopSettings -X509CertificateName pop.contoso.com 3>&1 | ForEach-Object { [string]$_ })
& $restart 'MSExchangePop3'
$result.oneService = (& $state).pop.activeCertificateName
& $restart 'MSExchangePOP3BE'
# Both restarted, but pop.contoso.com's certificate is not enabled for POP: nothing changes.
$result.notEnabled = @((& $state).pop.activeCertificateName, (& $state).pop.lastProblem)
Enable-ExchangeCertificate -Thumbprint $pop -Services POP
& $restart @('MSExchangePop3', 'MSExchangePOP3BE')
$result.enabled = @((& $state).pop.activeCertificateName, (& $state).pop.activeCertificateThumbprint)
# IMAP: an expired certificate enabled for IMAP does not qualify; a wildcard that covers the name does.
$expired = ${importPfx('expired.pfx')}
Set-ImapSettings -X509CertificateName imap.contoso.com -WarningAction SilentlyContinue
& $restart @('MSExchangeImap4', 'MSExchangeIMAP4BE')
$result.expired = (& $state).imap.activeCertificateName
$wildcard = ${importPfx('wildcard.pfx')}
Set-ImapSettings -X509CertificateName imap.contoso.com -WarningAction SilentlyContinue
& $restart @('MSExchangeImap4', 'MSExchangeIMAP4BE')
$result.wildcard = @((& $state).imap.activeCertificateName, (& $state).imap.activeCertificateThumbprint)
$result.configured = @((Get-PopSettings).X509CertificateName, (Get-ImapSettings -Server EXCH01).X509CertificateName)
$result.exch02 = (Get-PopSettings -Server EXCH02).X509CertificateName
Out-Result $result`,
    );
    expect(seen).toEqual({
      warning: ['Changes to POP3 settings will only take effect after all Microsoft Exchange POP3 services are restarted on server EXCH01.'],
      oneService: 'mail.contoso.com',
      notEnabled: ['mail.contoso.com', expect.stringMatching(/^no valid certificate with a private key that covers pop\.contoso\.com is enabled for POP/)],
      enabled: ['pop.contoso.com', made.popThumbprint],
      expired: 'mail.contoso.com',
      wildcard: ['imap.contoso.com', made.wildcardThumbprint],
      configured: ['pop.contoso.com', 'imap.contoso.com'],
      exch02: 'mail.contoso.com',
    });
  });

  it('picks the certificate for its name whenever the front-end service starts, with no change pending: a renewed wildcard, never enabled for POP', async () => {
    const dir = folders.copy(fixture);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
$state = { (Get-ExchCertSimulatorState).servers[0] }
$result = [ordered]@{}
$renewed = ${importPfx('renewed-wildcard.pfx')}
$result.imported = (& $state).pop.activeCertificateThumbprint
Restart-Service -Name MSExchangePOP3BE
$result.backEnd = (& $state).pop.activeCertificateThumbprint
Restart-Service -Name MSExchangePop3
$result.frontEnd = @((& $state).pop.activeCertificateName, (& $state).pop.activeCertificateThumbprint)
Out-Result $result`,
    );
    expect(seen).toEqual({ imported: made.publicThumbprint, backEnd: made.publicThumbprint, frontEnd: ['mail.contoso.com', made.renewedThumbprint] });
  });

  it('keeps send connectors for the organisation and receive connectors per server, with TlsCertificateName as issuer and subject', async () => {
    const dir = folders.copy(fixture);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
$certificate = Get-ExchangeCertificate ${psQuote(made.publicThumbprint)}
$name = '<I>' + $certificate.Issuer + '<S>' + $certificate.Subject
Set-SendConnector Internet -TlsCertificateName $name -RequireTLS $true -Confirm:$false
Set-ReceiveConnector 'EXCH02\\Default Frontend EXCH02' -TlsCertificateName $name -Comment 'hybrid'
Set-ReceiveConnector 'Client Frontend EXCH01' -Enabled $false
Out-Result @{
    send = @(Get-SendConnector | ForEach-Object { $_.Identity + ' ' + $_.TlsCertificateName + ' ' + $_.RequireTLS + ' ' + ($_.SourceTransportServers -join ',') })
    receive = @(Get-ReceiveConnector -Server EXCH02 | Where-Object { $_.TlsCertificateName } | ForEach-Object { $_.Identity + ' ' + $_.Comment })
    disabled = @(Get-ReceiveConnector | Where-Object { -not $_.Enabled } | ForEach-Object { $_.Identity })
    all = @(Get-ReceiveConnector).Count
    invalid = Get-WrittenErrors { Set-SendConnector Internet -TlsCertificateName 'CN=mail.contoso.com' }
    unknown = Get-WrittenErrors { Get-SendConnector 'Outbound to Nowhere' }
    unknownReceive = Get-WrittenErrors { Get-ReceiveConnector 'EXCH02\\Nothing' }
    cleared = & { Set-SendConnector Internet -TlsCertificateName $null; (Get-SendConnector Internet).TlsCertificateName }
}`,
    );
    const issuerSubject = '<I>CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1, O=DigiCert Inc, C=US<S>CN=mail.contoso.com';
    expect(seen).toEqual({
      send: [`Internet ${issuerSubject} True EXCH01,EXCH02`],
      receive: ['EXCH02\\Default Frontend EXCH02 hybrid'],
      disabled: ['EXCH01\\Client Frontend EXCH01'],
      all: 10,
      invalid: [expect.stringMatching(/"CN=mail\.contoso\.com" isn't a valid SMTP X\.509 identifier: use '<I>issuer<S>subject'/)],
      unknown: ["The operation couldn't be performed because object 'Outbound to Nowhere' couldn't be found on 'DC01.contoso.com'."],
      unknownReceive: ["The operation couldn't be performed because object 'EXCH02\\Nothing' couldn't be found on 'DC01.contoso.com'."],
      cleared: '',
    });
  });

  it('puts a server into maintenance: queues drain while HubTransport drains, shadow queues after Redirect-Message, and back', async () => {
    const dir = folders.copy(fixture);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
$counts = { param($server) (Get-Queue -Server $server | ForEach-Object { [string]$_.MessageCount }) -join ',' }
$result = [ordered]@{ active = & $counts EXCH02; stillActive = & $counts EXCH02 }
Set-ServerComponentState EXCH02 -Component HubTransport -State Draining -Requester Maintenance
$result.state = (Get-ServerComponentState EXCH02 -Component HubTransport).State
$result.drain1 = & $counts EXCH02
$result.drain2 = & $counts EXCH02
$result.redirectSelf = Get-WrittenErrors { Redirect-Message -Server EXCH02 -Target EXCH02.contoso.com -Confirm:$false }
$result.redirectPrompt = Get-WrittenErrors { Redirect-Message -Server EXCH02 -Target EXCH01.contoso.com }
Redirect-Message -Server EXCH02 -Target EXCH01.contoso.com -Confirm:$false
$result.redirect1 = & $counts EXCH02
$result.redirect2 = & $counts EXCH02
$result.target = (Get-Queue -Identity 'EXCH01\\Submission').MessageCount
$result.nonEmpty = @(Get-Queue -Server EXCH02 -Filter 'MessageCount -gt 0').Count
Set-ServerComponentState EXCH02 -Component ServerWideOffline -State Inactive -Requester Maintenance
$result.offline = @(Get-ServerComponentState EXCH02 | Where-Object { $_.State -ne 'Active' } | ForEach-Object { $_.Component + ' ' + $_.State })
Set-ServerComponentState EXCH02 -Component ServerWideOffline -State Active -Requester Maintenance
Set-ServerComponentState EXCH02 -Component HubTransport -State Active -Requester Maintenance
$result.back = @(Get-ServerComponentState EXCH02.contoso.com | Where-Object { $_.State -ne 'Active' }).Count
$result.requesters = @((Get-ServerComponentState EXCH02 -Component HubTransport).LocalStates | ForEach-Object { $_.Requester + ' ' + $_.State })
$result.badState = Get-WrittenErrors { Set-ServerComponentState EXCH02 -Component HubTransport -State Paused -Requester Maintenance }
$result.badRequester = Get-WrittenErrors { Set-ServerComponentState EXCH02 -Component HubTransport -State Active -Requester Admin }
$result.badComponent = Get-WrittenErrors { Get-ServerComponentState EXCH02 -Component Nothing }
$result.exch01 = (Get-ServerComponentState EXCH01 -Component HubTransport).State
Out-Result $result`,
    );
    expect(seen).toEqual({
      active: '0,8,4,6,0',
      stillActive: '0,8,4,6,0',
      state: 'Draining',
      drain1: '0,4,2,6,0',
      drain2: '0,0,0,6,0',
      redirectSelf: ['The target server EXCH02.contoso.com is the server whose messages are redirected.'],
      redirectPrompt: [expect.stringMatching(/NonInteractive mode/)],
      redirect1: '0,0,0,3,0',
      redirect2: '0,0,0,0,0',
      target: 6,
      nonEmpty: 0,
      offline: ['ServerWideOffline Inactive', 'HubTransport Draining'],
      back: 0,
      requesters: ['Maintenance Active'],
      badState: [expect.stringMatching(/Cannot convert value "Paused" to type "Microsoft\.Exchange\.Data\.ServiceState"/)],
      badRequester: ["The requester 'Admin' isn't valid. Valid values: HealthAPI, Maintenance, Sidelined, Functional, Deployment."],
      badComponent: ["The component 'Nothing' isn't a server component of EXCH02."],
      exch01: 'Active',
    });
    expect(server(readState(dir), 'EXCH02').transport.redirectTarget).toBe('');
  });

  it('keeps queues that a stuck fault or a stuck queue holds', async () => {
    const dir = folders.copy(fixture);
    const state = readState(dir);
    state.faults = [{ command: 'Get-Queue', action: 'stuck', server: 'EXCH02', times: 2 }];
    (server(state, 'EXCH01').queues[1] as { stuck?: boolean }).stuck = true;
    writeState(dir, state);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
$counts = { param($server) (Get-Queue -Server $server | ForEach-Object { [string]$_.MessageCount }) -join ',' }
Set-ServerComponentState EXCH02 -Component HubTransport -State Draining -Requester Maintenance
Set-ServerComponentState EXCH01 -Component HubTransport -State Draining -Requester Maintenance
Out-Result @{ exch02 = @(& $counts EXCH02; & $counts EXCH02; & $counts EXCH02); exch01 = @(& $counts EXCH01; & $counts EXCH01) }`,
    );
    expect(seen).toEqual({ exch02: ['0,8,4,6,0', '0,8,4,6,0', '0,4,2,6,0'], exch01: ['0,8,2,6,0', '0,8,0,6,0'] });
  });
});
