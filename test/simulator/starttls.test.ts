/**
 * What each receive connector of a simulated server serves with STARTTLS, and when that changes:
 * only when the connector's transport service starts (Front End Transport for 25 and 587, Transport
 * for the HubTransport connectors), by TlsCertificateName or the connector's FQDN. Also the chain an
 * imported PFX brings along, which the loopback listeners send.
 */
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pwshPath } from '../helpers/pwsh.js';
import { Folders, PwshHost, readState, server, writeState } from './helpers.js';

const folders = new Folders();
let host: PwshHost;
let plain: string;
let namespace: string;
let hybrid: string;
let made: { selfSigned: string; selfSignedNamespace: string; renewed: string; chained: string; chainedIssuer: string };

const served = (dir: string, name = 'EXCH01'): Record<string, string> =>
  Object.fromEntries(server(readState(dir), name).receiveConnectors.map((c) => [c.name, c.activeCertificateThumbprint]));

const importPfx = (file: string): string => `(Import-ExchangeCertificate -FileData ([System.IO.File]::ReadAllBytes((Join-Path $PWD '${file}'))) -Password $pfxPassword -ErrorAction Stop).Thumbprint`;

beforeAll(async () => {
  plain = folders.make();
  namespace = folders.make();
  hybrid = folders.make();
  host = new PwshHost(plain);
  const { selfSigned } = await host.ok<{ selfSigned: string }>(plain, '$s = New-ExchCertSimulatorState -Path ./state.json -Edge EDGE01\nOut-Result @{ selfSigned = $s.SelfSignedThumbprint }');
  const ns = await host.ok<{ selfSigned: string; renewed: string; chained: string }>(
    namespace,
    `$s = New-ExchCertSimulatorState -Path ./state.json -Layout smtp-namespace
$renewed = New-ExchCertSimulatorPfx -Path ./renewed.pfx -Password $pfxPassword -DnsName mail.contoso.com -ValidDays 200
$chained = New-ExchCertSimulatorPfx -Path ./chained.pfx -Password $pfxPassword -DnsName mail.contoso.com -IncludeChain -Issuer 'CN=Chain Test CA, O=exch-cert'
Out-Result @{ selfSigned = $s.SelfSignedThumbprint; renewed = $renewed.Thumbprint; chained = $chained.Thumbprint }`,
  );
  await host.ok(hybrid, "$null = New-ExchCertSimulatorState -Path ./state.json -Layout hybrid-connectors\nOut-Result 'ok'");
  const chainedIssuer = await host.ok<string>(namespace, "$c = [System.Security.Cryptography.X509Certificates.X509Certificate2Collection]::new(); $c.Import([IO.File]::ReadAllBytes((Join-Path $PWD 'chained.pfx')), $env:TEST_PFX_PASSWORD, 'DefaultKeySet'); Out-Result @($c | Where-Object { $_.Subject -like 'CN=Chain Test CA*' })[0].Thumbprint");
  made = { selfSigned, selfSignedNamespace: ns.selfSigned, renewed: ns.renewed, chained: ns.chained, chainedIssuer };
}, 120_000);

afterAll(() => {
  host.close();
  folders.removeAll();
});

describe.skipIf(!pwshPath).concurrent('what STARTTLS serves', { timeout: 90_000 }, () => {
  it("serves, in a new organisation, the certificate covering each connector's FQDN: the server's own unless the connector names the namespace or a certificate", () => {
    expect(served(plain)).toEqual({
      'Default EXCH01': made.selfSigned,
      'Client Proxy EXCH01': made.selfSigned,
      'Default Frontend EXCH01': made.selfSigned,
      'Outbound Proxy Frontend EXCH01': made.selfSigned,
      'Client Frontend EXCH01': made.selfSigned,
    });
    const edge = server(readState(plain), 'EDGE01');
    expect(Object.values(served(plain, 'EDGE01'))).toEqual([edge.certificates.find((c) => c.subject === 'CN=EDGE01')?.thumbprint]);
    const ns = served(namespace);
    const publicHere = server(readState(namespace), 'EXCH01').certificates.find((c) => c.subject === 'CN=mail.contoso.com')?.thumbprint;
    expect([ns['Default Frontend EXCH01'], ns['Client Frontend EXCH01'], ns['Default EXCH01']]).toEqual([publicHere, publicHere, made.selfSignedNamespace]);
    const hy = served(hybrid);
    expect(hy['Default Frontend EXCH01']).toBe(server(readState(hybrid), 'EXCH01').certificates.find((c) => c.subject === 'CN=mail.contoso.com')?.thumbprint);
    expect(hy['Client Frontend EXCH01']).not.toBe(hy['Default Frontend EXCH01']);
  });

  it('changes what 25 and 587 serve only when the Front End Transport service starts; the Transport service starts its own connectors', async () => {
    const dir = folders.copy(namespace);
    const before = served(dir);
    const seen = await host.ok<Record<string, Record<string, string>>>(
      dir,
      `
$snapshot = { $s = @{}; foreach ($c in (Get-ExchCertSimulatorState).servers[0].receiveConnectors) { $s[$c.name] = $c.activeCertificateThumbprint }; $s }
$t = ${importPfx('renewed.pfx')}
Enable-ExchangeCertificate -Thumbprint $t -Services SMTP -Force
$result = [ordered]@{ enabled = (& $snapshot) }
Restart-Service MSExchangeTransport
$result.transport = (& $snapshot)
Restart-Service MSExchangeFrontEndTransport
$result.frontEnd = (& $snapshot)
Out-Result $result`,
    );
    expect(seen['enabled']).toEqual(before);
    expect(seen['transport']).toEqual(before);
    expect(seen['frontEnd']).toEqual({ ...before, 'Default Frontend EXCH01': made.renewed, 'Client Frontend EXCH01': made.renewed });
  });

  it('picks by TlsCertificateName among certificates with that issuer and subject that are enabled for SMTP, the one that expires last', async () => {
    const dir = folders.copy(hybrid);
    const seen = await host.ok<Record<string, string>>(
      dir,
      `
$pfx = New-ExchCertSimulatorPfx -Path ./same-name.pfx -Password $pfxPassword -DnsName mail.contoso.com -ValidDays 300 -Issuer 'CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1, O=DigiCert Inc, C=US'
$t = ${importPfx('same-name.pfx')}
$frontend = { [string]@((Get-ExchCertSimulatorState).servers[0].receiveConnectors | Where-Object { $_.name -eq 'Default Frontend EXCH01' })[0].activeCertificateThumbprint }
$old = & $frontend
Restart-Service MSExchangeFrontEndTransport
$notForSmtp = & $frontend
Enable-ExchangeCertificate -Thumbprint $t -Services SMTP -Force
Restart-Service MSExchangeFrontEndTransport
$renewed = & $frontend
Set-ReceiveConnector 'Default Frontend EXCH01' -TlsCertificateName '<I>CN=Nobody<S>CN=mail.contoso.com'
Restart-Service MSExchangeFrontEndTransport
Out-Result @{ old = $old; notForSmtp = $notForSmtp; renewed = $renewed; new = $t; none = (& $frontend) }`,
    );
    expect(seen['notForSmtp']).toBe(seen['old']);
    expect(seen['renewed']).toBe(seen['new']);
    expect(seen['none']).toBe('');
  });

  it('prefers a CA-issued certificate to a self-signed one for the same FQDN, and skips expired ones', async () => {
    const dir = folders.copy(plain);
    const imported = await host.ok<{ ca: string; expired: string }>(
      dir,
      `
$null = New-ExchCertSimulatorPfx -Path ./server.pfx -Password $pfxPassword -DnsName EXCH01.contoso.com -ValidDays 30
$null = New-ExchCertSimulatorPfx -Path ./expired.pfx -Password $pfxPassword -DnsName EXCH01.contoso.com -ValidDays -1
$ca = ${importPfx('server.pfx')}
Enable-ExchangeCertificate -Thumbprint $ca -Services SMTP -Force
Out-Result @{ ca = $ca; expired = ${importPfx('expired.pfx')} }`,
    );
    // Enabled for SMTP while it was still valid.
    const state = readState(dir);
    const expired = server(state, 'EXCH01').certificates.find((c) => c.thumbprint === imported.expired);
    expired?.services.push('SMTP');
    writeState(dir, state);
    await host.ok(dir, "Restart-Service MSExchangeTransport\nOut-Result 'ok'");
    expect(served(dir)['Default EXCH01']).toBe(imported.ca);
    expect(served(dir)['Default Frontend EXCH01']).toBe(made.selfSigned);
  });

  it('keeps the chain an imported PFX holds, as Windows keeps it in its CA stores', async () => {
    const dir = folders.copy(namespace);
    await host.ok(dir, `$null = ${importPfx('chained.pfx')}\n$null = ${importPfx('renewed.pfx')}\nOut-Result 'ok'`);
    const certificates = server(readState(dir), 'EXCH01').certificates;
    const thumbprintOf = (base64: string): string => new X509Certificate(Buffer.from(base64, 'base64')).fingerprint.replace(/:/g, '');
    const chained = certificates.find((c) => c.thumbprint === made.chained);
    expect(chained?.chain.map(thumbprintOf)).toEqual([made.chainedIssuer]);
    expect(certificates.find((c) => c.thumbprint === made.renewed)?.chain).toEqual([]);
    expect(certificates.find((c) => c.subject === 'CN=mail.contoso.com' && c.thumbprint !== made.chained && c.thumbprint !== made.renewed)?.chain).toHaveLength(1);
  });
});
