/**
 * An Edge Transport server, its subscription and EdgeSync, as the seed's
 * notes show them: the subscription file carries the Edge's SMTP certificate
 * and a bootstrap account that expires; EdgeSync fails with "The supplied
 * credential is invalid." once that certificate changed, until the
 * subscription is made again.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pwshPath } from '../helpers/pwsh.js';
import { Folders, PwshHost, readState, server, writeState } from './helpers.js';

const folders = new Folders();
let host: PwshHost;
let fixture: string;
let made: { publicThumbprint: string; newThumbprint: string };

const ON_EDGE = { EXCH_CERT_SIMULATOR_HOST: 'EDGE01' };
const readFile = "$file = [System.IO.File]::ReadAllBytes((Join-Path $PWD 'sub.xml'))";

beforeAll(async () => {
  fixture = folders.make();
  host = new PwshHost(fixture);
  made = await host.ok(
    fixture,
    `
$state = New-ExchCertSimulatorState -Path ./state.json -Servers EXCH01 -Edge EDGE01
$new = New-ExchCertSimulatorPfx -Path ./new.pfx -Password $pfxPassword -DnsName mail.contoso.com
Out-Result @{ publicThumbprint = $state.PublicThumbprint; newThumbprint = $new.Thumbprint }`,
  );
}, 90_000);

afterAll(() => {
  host.close();
  folders.removeAll();
});

describe.skipIf(!pwshPath).concurrent('the Edge subscription and EdgeSync', { timeout: 90_000 }, () => {
  it('writes the subscription file on the Edge after Exchange\u2019s confirmation, with its SMTP certificate and a bootstrap account', async () => {
    const dir = folders.copy(fixture);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
$result = [ordered]@{ prompt = Get-WrittenErrors { New-EdgeSubscription -FileName ./sub.xml } }
$result.noFile = -not (Test-Path ./sub.xml)
$result.tooShort = Get-WrittenErrors { New-EdgeSubscription -FileName ./sub.xml -AccountExpiryDuration '00:01:00' -Force }
$result.fileData = Get-WrittenErrors { New-EdgeSubscription -FileData ([byte[]](1, 2, 3)) -Force }
New-EdgeSubscription -FileName ./sub.xml -Confirm:$false
[xml]$xml = Get-Content -Raw ./sub.xml
$certificate = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new([Convert]::FromBase64String($xml.EdgeSubscriptionData.EdgeCertificateBlob))
$result.file = @($xml.EdgeSubscriptionData.EdgeServerName, $xml.EdgeSubscriptionData.EdgeServerFQDN, $certificate.Thumbprint, $certificate.HasPrivateKey, $xml.EdgeSubscriptionData.Duration, $xml.EdgeSubscriptionData.AdamSslPort)
$result.account = [string]$xml.EdgeSubscriptionData.ESRAUsername
$result.edgeSees = @(Get-EdgeSubscription | ForEach-Object { $_.Name + ' ' + $_.Site })
Out-Result $result`,
      ON_EDGE,
    );
    expect(seen['prompt']).toEqual([expect.stringContaining('any of the following objects that were created manually will be deleted: accepted domains, message classifications, remote domains, and Send connectors')]);
    expect(String((seen['prompt'] as string[])[0])).toContain('You should complete the Edge Subscription inside the organization in the next "1440" minutes before the bootstrap account expires.');
    expect(seen).toMatchObject({
      noFile: true,
      tooShort: ['The AccountExpiryDuration must be at least 00:02:00.'],
      fileData: [expect.stringMatching(/^The FileData parameter is used inside the organization/)],
      file: ['EDGE01', 'EDGE01.contoso.com', made.publicThumbprint, false, '1.00:00:00', '50636'],
      account: expect.stringMatching(/^ESRA\.EDGE01\./),
      edgeSees: ['EDGE01 contoso.com/Configuration/Sites/Default-First-Site-Name'],
    });
    const bootstrap = server(readState(dir), 'EDGE01').edge?.bootstrap;
    const hours = (Date.parse(bootstrap!.expiresAt) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(23.9);
    expect(hours).toBeLessThanOrEqual(24);
    expect(readFileSync(join(dir, 'sub.xml'), 'utf8')).toMatch(/^<\?xml version="1\.0" encoding="utf-8"\?>\n<EdgeSubscriptionData>/);
  });

  it('subscribes inside the organisation with -FileData and -Site, creating the connectors its flags ask for, once', async () => {
    const dir = folders.copy(fixture);
    await host.ok(dir, "New-EdgeSubscription -FileName ./sub.xml -Force\nOut-Result 'ok'", ON_EDGE);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
${readFile}
$result = [ordered]@{ exists = Get-WrittenErrors { New-EdgeSubscription -FileData $file -Site 'Default-First-Site-Name' } }
$result.fileName = Get-WrittenErrors { New-EdgeSubscription -FileName ./sub.xml -Site 'Default-First-Site-Name' }
$result.noSite = Get-WrittenErrors { New-EdgeSubscription -FileData $file }
Get-EdgeSubscription | Remove-EdgeSubscription -Confirm:$false
$result.removed = @(Get-ExchangeServer | ForEach-Object { $_.Name }), @(Get-SendConnector).Count
$result.badSite = Get-WrittenErrors { New-EdgeSubscription -FileData $file -Site 'Branch-Office' }
New-EdgeSubscription -FileData $file -Site 'contoso.com/Configuration/Sites/Default-First-Site-Name' -CreateInternetSendConnector $false
$result.subscribed = @(Get-ExchangeServer | ForEach-Object { $_.Name })
$result.connectors = @(Get-SendConnector | ForEach-Object { $_.Name + ' ' + ($_.AddressSpaces -join ',') + ' ' + ($_.SourceTransportServers -join ',') })
$result.reused = Get-WrittenErrors { Remove-EdgeSubscription EDGE01 -Force; New-EdgeSubscription -FileData $file -Site 'Default-First-Site-Name' }
$result.sync = Get-WrittenErrors { Test-EdgeSynchronization }
Out-Result $result`,
    );
    expect(seen).toEqual({
      exists: ['An Edge Subscription for EDGE01 already exists. Remove it with Remove-EdgeSubscription EDGE01 first.'],
      fileName: [expect.stringMatching(/^The FileName parameter is used on the Edge Transport server/)],
      noSite: [expect.stringMatching(/needs -FileData .* and -Site\.$/)],
      removed: [['EXCH01'], 0],
      badSite: ["The operation couldn't be performed because object 'Branch-Office' couldn't be found on 'DC01.contoso.com'."],
      subscribed: ['EXCH01', 'EDGE01'],
      connectors: ['EdgeSync - Inbound to Default-First-Site-Name SMTP:--;100 EDGE01'],
      reused: [expect.stringMatching(/^Couldn't create the Edge Subscription: the bootstrap account in the file isn't valid on EDGE01/)],
      sync: ['No Edge Subscriptions were found for EdgeSync to synchronize.'],
    });
  });

  it('refuses a subscription file whose bootstrap account expired', async () => {
    const dir = folders.copy(fixture);
    await host.ok(dir, "New-EdgeSubscription -FileName ./sub.xml -AccountExpiryDuration '00:02:00' -Force\nOut-Result 'ok'", ON_EDGE);
    const state = readState(dir);
    // Two minutes later: the Mailbox side imports the file too late.
    server(state, 'EDGE01').edge!.bootstrap!.expiresAt = new Date(Date.now() - 1000).toISOString();
    writeState(dir, state);
    const seen = await host.ok<Record<string, unknown>>(dir, `${readFile}\nRemove-EdgeSubscription EDGE01 -Confirm:$false\nOut-Result @{ late = Get-WrittenErrors { New-EdgeSubscription -FileData $file -Site 'Default-First-Site-Name' }; left = @(Get-EdgeSubscription).Count }`);
    expect(seen).toEqual({ late: [expect.stringMatching(/^Couldn't create the Edge Subscription: the file's bootstrap account expired at \S+Z \(it lasts AccountExpiryDuration, 24 hours by default\)/)], left: 0 });
  });

  it('synchronizes while the subscription holds the Edge\u2019s SMTP certificate, and reports the credential invalid once it changed, until re-subscribed', async () => {
    const dir = folders.copy(fixture);
    const test = "@(Test-EdgeSynchronization | ForEach-Object { $_.Name + ' ' + $_.SyncStatus + ' ' + $_.FailureDetail + ' ' + $_.RecipientStatus })";
    const start = "@(Start-EdgeSynchronization -ForceFullSync | ForEach-Object { $_.Type + ' ' + $_.Result + ' ' + $_.FailureDetails })";
    const before = await host.ok<Record<string, unknown>>(dir, `Out-Result @{ test = ${test}; start = ${start}; errors = Get-WrittenErrors { Test-EdgeSynchronization } }`);
    expect(before).toEqual({
      test: ['EDGE01 Normal  Synchronized'],
      start: ['Recipients Success ', 'Configuration Success '],
      errors: [],
    });
    const onEdge = await host.ok<Record<string, unknown>>(
      dir,
      `
$new = (Import-ExchangeCertificate -FileData ([System.IO.File]::ReadAllBytes((Join-Path $PWD 'new.pfx'))) -Password $pfxPassword -PrivateKeyExportable $true).Thumbprint
Enable-ExchangeCertificate -Thumbprint $new -Services SMTP -Force
Out-Result @{ internal = (Get-TransportService).InternalTransportCertificateThumbprint; iis = Get-WrittenErrors { Enable-ExchangeCertificate -Thumbprint $new -Services IIS }; sync = Get-WrittenErrors { Start-EdgeSynchronization } }`,
      ON_EDGE,
    );
    expect(onEdge).toEqual({
      internal: made.newThumbprint,
      iis: ['The Edge Transport server EDGE01 has no IIS service; an Edge certificate can be enabled for SMTP only.'],
      sync: ['Start-EdgeSynchronization runs inside the organization (on a Mailbox server), not on the Edge Transport server EDGE01.'],
    });
    const broken = await host.ok<Record<string, unknown>>(dir, `Out-Result @{ test = ${test}; start = ${start} }`);
    expect(broken).toEqual({
      test: ['EDGE01 CouldNotConnect The supplied credential is invalid. Skipped'],
      start: ['Recipients CouldNotConnect The supplied credential is invalid.', 'Configuration CouldNotConnect The supplied credential is invalid.'],
    });
    // The seed's fix: remove the subscription on both sides, a new file on the Edge, import it, synchronize.
    await host.ok(dir, "Get-EdgeSubscription | Remove-EdgeSubscription -Confirm:$false\nNew-EdgeSubscription -FileName ./sub.xml -Force\nOut-Result 'ok'", ON_EDGE);
    const edgeRemoved = await host.ok<Record<string, unknown>>(dir, `Out-Result @{ test = ${test} }`);
    expect(edgeRemoved).toEqual({ test: ['EDGE01 CouldNotConnect The supplied credential is invalid. Skipped'] });
    const fixed = await host.ok<Record<string, unknown>>(dir, `${readFile}\nGet-EdgeSubscription | Remove-EdgeSubscription -Confirm:$false\nNew-EdgeSubscription -FileData $file -Site 'Default-First-Site-Name' -CreateInternetSendConnector $true -CreateInboundSendConnector $true\nOut-Result @{ test = ${test}; start = ${start} }`);
    expect(fixed).toEqual({ test: ['EDGE01 Normal  Synchronized'], start: ['Recipients Success ', 'Configuration Success '] });
    const state = readState(dir);
    expect(state.organization.edgeSubscriptions).toMatchObject([{ name: 'EDGE01', certificateThumbprint: made.newThumbprint }]);
    expect(state.organization.sendConnectors.map((c) => c.name)).toEqual(['EdgeSync - Default-First-Site-Name to Internet', 'EdgeSync - Inbound to Default-First-Site-Name']);
    const adamDown = await host.ok<Record<string, unknown>>(dir, "Stop-Service -Name ADAM_MSExchange\nOut-Result 'ok'", ON_EDGE);
    expect(adamDown).toBe('ok');
    expect(await host.ok(dir, `Out-Result @{ test = ${test} }`)).toEqual({ test: ['EDGE01 CouldNotConnect The LDAP server is unavailable. Skipped'] });
  });
});
