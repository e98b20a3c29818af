/**
 * The simulated *-ExchangeCertificate cmdlets, each behaviour as Exchange
 * 2019 has it, on an organisation of two Mailbox servers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pwshPath } from '../helpers/pwsh.js';
import { BACKUP_PASSWORD, Folders, PFX_PASSWORD, PwshHost, binding, psQuote, readState, server } from './helpers.js';

const folders = new Folders();
let host: PwshHost;
let fixture: string;
let made: { publicThumbprint: string; selfSigned: string; selfSigned2: string; authThumbprint: string; newThumbprint: string; wildcardThumbprint: string; chainThumbprint: string; expiredThumbprint: string };

/** PowerShell that imports a PFX of the fixture on a server and gives its thumbprint. */
const importPfx = (file: string, serverName = 'EXCH01', exportable = true): string =>
  `(Import-ExchangeCertificate -Server ${serverName} -FileData ([System.IO.File]::ReadAllBytes((Join-Path $PWD '${file}'))) -Password $pfxPassword -PrivateKeyExportable $${exportable} -ErrorAction Stop).Thumbprint`;

beforeAll(async () => {
  fixture = folders.make();
  host = new PwshHost(fixture);
  made = await host.ok(
    fixture,
    `
$state = New-ExchCertSimulatorState -Path ./state.json -Servers EXCH01,EXCH02
$new = New-ExchCertSimulatorPfx -Path ./new.pfx -Password $pfxPassword -DnsName mail.contoso.com, autodiscover.contoso.com
$wildcard = New-ExchCertSimulatorPfx -Path ./wildcard.pfx -Password $pfxPassword -DnsName contoso.com -Wildcard
$chain = New-ExchCertSimulatorPfx -Path ./chain.pfx -Password $pfxPassword -DnsName mail.contoso.com -IncludeChain
$expired = New-ExchCertSimulatorPfx -Path ./expired.pfx -Password $pfxPassword -DnsName old.contoso.com -ValidDays -1
Out-Result @{
    publicThumbprint = $state.PublicThumbprint; selfSigned = $state.SelfSignedThumbprints.EXCH01; selfSigned2 = $state.SelfSignedThumbprints.EXCH02; authThumbprint = $state.AuthThumbprint
    newThumbprint = $new.Thumbprint; wildcardThumbprint = $wildcard.Thumbprint; chainThumbprint = $chain.Thumbprint; expiredThumbprint = $expired.Thumbprint
}`,
  );
}, 90_000);

afterAll(() => {
  host.close();
  folders.removeAll();
});

describe.skipIf(!pwshPath).concurrent('the simulated *-ExchangeCertificate cmdlets', { timeout: 90_000 }, () => {
  it('imports a real PFX with the right password only, into the server -Server names, and logs no secret', async () => {
    const dir = folders.copy(fixture);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
$bytes = [System.IO.File]::ReadAllBytes((Join-Path $PWD 'new.pfx'))
$wrong = Get-WrittenErrors { Import-ExchangeCertificate -Server EXCH02 -FileData $bytes -Password (ConvertTo-SecureString 'not-the-password' -AsPlainText -Force) }
$imported = Import-ExchangeCertificate -Server EXCH02 -FileData $bytes -Password $pfxPassword -PrivateKeyExportable $true -FriendlyName 'mail 2027'
$again = Get-WrittenErrors { Import-ExchangeCertificate -Server EXCH02 -FileData $bytes -Password $pfxPassword }
$chain = Import-ExchangeCertificate -Server EXCH02 -FileData ([System.IO.File]::ReadAllBytes((Join-Path $PWD 'chain.pfx'))) -Password $pfxPassword
Out-Result @{
    wrong = $wrong; again = $again
    imported = @{ Identity = $imported.Identity; Services = $imported.Services; PrivateKeyExportable = $imported.PrivateKeyExportable; CertificateDomains = $imported.CertificateDomains; Issuer = $imported.Issuer; FriendlyName = $imported.FriendlyName }
    type = $imported.PSObject.TypeNames[0]
    methods = @($imported.PSObject.Methods | Where-Object { $_.MemberType -eq 'ScriptMethod' }).Count
    chain = @{ Thumbprint = $chain.Thumbprint; HasPrivateKey = $chain.HasPrivateKey; PrivateKeyExportable = $chain.PrivateKeyExportable }
    exch01 = @(Get-ExchangeCertificate -Server EXCH01).Count
}`,
    );
    expect(seen['wrong']).toEqual([expect.stringMatching(/^Cannot import certificate\. The password is incorrect/)]);
    expect(seen['again']).toEqual([`Cannot import certificate. A certificate with the thumbprint ${made.newThumbprint} already exists.`]);
    expect(seen['imported']).toEqual({
      Identity: `EXCH02\\${made.newThumbprint}`,
      Services: 'None',
      PrivateKeyExportable: true,
      CertificateDomains: ['mail.contoso.com', 'autodiscover.contoso.com'],
      Issuer: "CN=R11, O=Let's Encrypt, C=US",
      FriendlyName: 'mail 2027',
    });
    expect(seen['type']).toBe('Deserialized.Microsoft.Exchange.Management.SystemConfigurationTasks.ExchangeCertificate');
    expect(seen['methods']).toBe(0);
    // Import-ExchangeCertificate's default: the key is not exportable.
    expect(seen['chain']).toEqual({ Thumbprint: made.chainThumbprint, HasPrivateKey: true, PrivateKeyExportable: false });
    expect(seen['exch01']).toBe(3);

    const state = readState(dir);
    expect(server(state, 'EXCH02').certificates.map((c) => c.thumbprint)).toEqual([made.publicThumbprint, made.selfSigned2, made.authThumbprint, made.newThumbprint, made.chainThumbprint]);
    const imports = state.calls.filter((c) => c.command === 'Import-ExchangeCertificate');
    expect(imports).toHaveLength(4);
    expect(imports[1]).toMatchObject({ server: 'EXCH02', host: 'EXCH01', parameters: { Server: 'EXCH02', FileData: expect.stringMatching(/^<\d+ bytes>$/), Password: '<redacted>', PrivateKeyExportable: true, FriendlyName: 'mail 2027' } });
    const text = readFileSync(join(dir, 'state.json'), 'utf8');
    expect(JSON.stringify(state.calls)).not.toMatch(/[A-Za-z0-9+/]{100,}/);
    expect(text).not.toContain(PFX_PASSWORD);
    expect(text).not.toContain('not-the-password');
  });

  it('lists every certificate for -Thumbprint \u2019\u2019, finds one by Identity or thumbprint, and takes pipeline input by Identity', async () => {
    const dir = folders.copy(fixture);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
$new = ${importPfx('new.pfx', 'EXCH02')}
Get-ExchangeCertificate -Server EXCH02 -Thumbprint $new | Enable-ExchangeCertificate -Services POP
Out-Result @{
    empty = @(Get-ExchangeCertificate -Thumbprint '' -Server EXCH02).Count
    identity = (Get-ExchangeCertificate -Identity ('EXCH02\\' + $new)).Thumbprint
    positional = (Get-ExchangeCertificate $new -Server EXCH02).Thumbprint
    domain = @(Get-ExchangeCertificate -Server EXCH02 -DomainName autodiscover.contoso.com | ForEach-Object { $_.Thumbprint })
    piped = (Get-ExchangeCertificate $new -Server EXCH02).Services
}`,
    );
    expect(seen).toEqual({
      empty: 4,
      identity: made.newThumbprint,
      positional: made.newThumbprint,
      domain: [made.publicThumbprint, made.newThumbprint],
      piped: 'POP',
    });
  });

  it('enables services additively; IIS binds Default Web Site *:443: and turns Require SSL on unless -DoNotRequireSsl', async () => {
    const dir = folders.copy(fixture);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
$new = ${importPfx('new.pfx')}
$requireSsl = { Get-WebConfigurationProperty -Filter system.webServer/security/access -Name sslFlags -PSPath 'IIS:\\Sites\\Default Web Site' }
Set-WebConfigurationProperty -Filter system.webServer/security/access -Name sslFlags -Value 'None' -PSPath 'IIS:\\Sites\\Default Web Site'
$result = [ordered]@{ before = & $requireSsl }
Enable-ExchangeCertificate -Thumbprint $new -Services POP -WhatIf
$result.afterWhatIf = (Get-ExchangeCertificate $new).Services
Enable-ExchangeCertificate -Thumbprint $new -Services POP
Enable-ExchangeCertificate -Thumbprint $new -Services 'IMAP,IIS' -DoNotRequireSsl
$result.additive = (Get-ExchangeCertificate $new).Services
$result.keptOff = & $requireSsl
Enable-ExchangeCertificate -Thumbprint $new -Services IIS
$result.turnedOn = & $requireSsl
$result.old = (Get-ExchangeCertificate ${psQuote(made.publicThumbprint)}).Services
$result.unknown = Get-WrittenErrors { Enable-ExchangeCertificate -Thumbprint $new -Services IIS, WWW }
Out-Result $result`,
    );
    expect(seen).toEqual({
      before: 'None',
      afterWhatIf: 'None',
      additive: 'IMAP, POP, IIS',
      keptOff: 'None',
      turnedOn: 'Ssl',
      old: 'IMAP, POP, SMTP',
      unknown: [expect.stringMatching(/Cannot convert value "WWW" to type "Microsoft\.Exchange\.Data\.AllowedServices"/)],
    });
    const state = readState(dir);
    expect(binding(state, 'EXCH01', 'Default Web Site', '*:443:')?.certificateHash).toBe(made.newThumbprint);
    expect(binding(state, 'EXCH01', 'Default Web Site', '127.0.0.1:443:')?.certificateHash).toBe(made.selfSigned);
    expect(binding(state, 'EXCH02', 'Default Web Site', '*:443:')?.certificateHash).toBe(made.publicThumbprint);
  });

  it('asks before replacing the default SMTP certificate, after applying the other services; -Force replaces it', async () => {
    const dir = folders.copy(fixture);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
$new = ${importPfx('new.pfx')}
$result = [ordered]@{ prompt = Get-WrittenErrors { Enable-ExchangeCertificate -Thumbprint $new -Services IIS, POP, IMAP, SMTP } }
$result.servicesAfterPrompt = (Get-ExchangeCertificate $new).Services
$result.internalAfterPrompt = (Get-TransportService EXCH01).InternalTransportCertificateThumbprint
Enable-ExchangeCertificate -Thumbprint $new -Services SMTP -Force
$result.services = (Get-ExchangeCertificate $new).Services
$result.internal = (Get-TransportService EXCH01).InternalTransportCertificateThumbprint
Enable-ExchangeCertificate -Thumbprint ${psQuote(made.selfSigned)} -Services SMTP -Force
$result.restored = (Get-TransportService EXCH01).InternalTransportCertificateThumbprint
Out-Result $result`,
    );
    expect(seen['prompt']).toEqual([expect.stringMatching(/^Overwrite the existing default SMTP certificate\?[\s\S]*Current certificate: '[0-9A-F]{40}'[\s\S]*Confirmation required, but it cannot be given: PowerShell is in NonInteractive mode/)]);
    expect(seen).toMatchObject({ servicesAfterPrompt: 'IMAP, POP, IIS', internalAfterPrompt: made.selfSigned, services: 'IMAP, POP, IIS, SMTP', internal: made.newThumbprint, restored: made.selfSigned });
  });

  it('warns for POP/IMAP on a wildcard certificate and enables the other services', async () => {
    const dir = folders.copy(fixture);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
$wildcard = ${importPfx('wildcard.pfx')}
$warnings = @(Enable-ExchangeCertificate -Thumbprint $wildcard -Services POP, IMAP, IIS, SMTP -Force 3>&1 | ForEach-Object { [string]$_ })
$errors = Get-WrittenErrors { Enable-ExchangeCertificate -Thumbprint $wildcard -Services POP, IIS -WarningAction SilentlyContinue }
Out-Result @{ warnings = $warnings; services = (Get-ExchangeCertificate $wildcard).Services; errors = $errors.Count }`,
    );
    expect(seen).toEqual({
      warnings: [
        `This certificate with thumbprint ${made.wildcardThumbprint} and subject 'CN=*.contoso.com' cannot used for POP SSL/TLS connections because the subject is not a Fully Qualified Domain Name (FQDN). Use command Set-POPSettings to set X509CertificateName to the FQDN of the service.`,
        `This certificate with thumbprint ${made.wildcardThumbprint} and subject 'CN=*.contoso.com' cannot used for IMAP SSL/TLS connections because the subject is not a Fully Qualified Domain Name (FQDN). Use command Set-IMAPSettings to set X509CertificateName to the FQDN of the service.`,
      ],
      services: 'IIS, SMTP',
      errors: 0,
    });
  });

  it('refuses to enable an expired certificate or one without a private key', async () => {
    const dir = folders.copy(fixture);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
$expired = ${importPfx('expired.pfx')}
$certificateOnly = [Convert]::FromBase64String((Export-ExchangeCertificate -Thumbprint ${psQuote(made.publicThumbprint)} -Server EXCH02))
$null = Remove-ExchangeCertificate -Thumbprint ${psQuote(made.publicThumbprint)} -Server EXCH02 -Confirm:$false
$keyless = (Import-ExchangeCertificate -Server EXCH02 -FileData $certificateOnly).Thumbprint
Out-Result @{
    status = (Get-ExchangeCertificate $expired).Status
    expired = Get-WrittenErrors { Enable-ExchangeCertificate -Thumbprint $expired -Services IIS }
    hasKey = (Get-ExchangeCertificate $keyless -Server EXCH02).HasPrivateKey
    keyless = Get-WrittenErrors { Enable-ExchangeCertificate -Thumbprint $keyless -Server EXCH02 -Services SMTP -Force }
}`,
    );
    expect(seen).toEqual({
      status: 'DateInvalid',
      expired: [expect.stringMatching(/^The certificate with thumbprint [0-9A-F]{40} is not valid \(status DateInvalid/)],
      hasKey: false,
      keyless: [expect.stringMatching(/doesn't have a private key/)],
    });
  });

  it('exports a Base64 string, or with -BinaryEncoded an object holding the bytes; a key that is not exportable stays', async () => {
    const dir = folders.copy(fixture);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
$text = Export-ExchangeCertificate -Thumbprint ${psQuote(made.publicThumbprint)} -Password $backupPassword
$binary = Export-ExchangeCertificate -Thumbprint ${psQuote(made.publicThumbprint)} -Password $backupPassword -BinaryEncoded
$fromText = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new([Convert]::FromBase64String($text), $backupPassword)
$fromBinary = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($binary.FileData, $backupPassword)
$certificateOnly = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new([Convert]::FromBase64String((Export-ExchangeCertificate ${psQuote(made.publicThumbprint)})))
Out-Result @{
    textType = $text.GetType().FullName
    binaryType = $binary.PSObject.TypeNames[0]
    bytesType = $binary.FileData.GetType().FullName
    fromText = @($fromText.Thumbprint, $fromText.HasPrivateKey)
    fromBinary = @($fromBinary.Thumbprint, $fromBinary.HasPrivateKey)
    certificateOnly = @($certificateOnly.Thumbprint, $certificateOnly.HasPrivateKey)
    selfSigned = Get-WrittenErrors { Export-ExchangeCertificate -Thumbprint ${psQuote(made.selfSigned)} -Password $backupPassword -BinaryEncoded }
}`,
    );
    expect(seen).toEqual({
      textType: 'System.String',
      binaryType: 'Deserialized.Microsoft.Exchange.Data.BinaryFileDataObject',
      bytesType: 'System.Byte[]',
      fromText: [made.publicThumbprint, true],
      fromBinary: [made.publicThumbprint, true],
      certificateOnly: [made.publicThumbprint, false],
      selfSigned: [expect.stringMatching(/^The private key couldn't be exported as PKCS-12/)],
    });
    expect(readFileSync(join(dir, 'state.json'), 'utf8')).not.toContain(BACKUP_PASSWORD);
  });

  it('removes any certificate but the internal transport one (IIS-bound and Auth certificates too), after confirmation', async () => {
    const dir = folders.copy(fixture);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
$result = [ordered]@{ prompt = Get-WrittenErrors { Remove-ExchangeCertificate -Thumbprint ${psQuote(made.publicThumbprint)} } }
Remove-ExchangeCertificate -Thumbprint ${psQuote(made.publicThumbprint)} -WhatIf
$result.afterWhatIf = @(Get-ExchangeCertificate).Count
$result.internal = Get-WrittenErrors { Remove-ExchangeCertificate -Thumbprint ${psQuote(made.selfSigned)} -Confirm:$false }
Remove-ExchangeCertificate -Thumbprint ${psQuote(made.publicThumbprint)} -Confirm:$false
Remove-ExchangeCertificate -Identity ${psQuote(`EXCH01\\${made.authThumbprint}`)} -Confirm:$false
$result.left = @(Get-ExchangeCertificate | ForEach-Object { $_.Thumbprint })
$result.exch02 = @(Get-ExchangeCertificate -Server EXCH02).Count
$result.binding = (Get-WebBinding -Name 'Default Web Site' -Protocol https -Port 443 -IPAddress '*').certificateHash
Out-Result $result`,
    );
    expect(seen).toEqual({
      prompt: [expect.stringMatching(/NonInteractive mode/)],
      afterWhatIf: 3,
      internal: [expect.stringMatching(/^The internal transport certificate cannot be removed/)],
      left: [made.selfSigned],
      exch02: 3,
      // http.sys keeps the thumbprint of a certificate that is gone; guarding against that is exch-cert's job.
      binding: made.publicThumbprint,
    });
  });

  it('makes self-signed certificates with KeySize 1024, 2048 or 4096 and the subject\u2019s CN among their names', async () => {
    const dir = folders.copy(fixture);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
$result = [ordered]@{ size3072 = Get-WrittenErrors { New-ExchangeCertificate -KeySize 3072 -Force } }
$result.request = Get-WrittenErrors { New-ExchangeCertificate -GenerateRequest -SubjectName 'CN=mail.contoso.com' }
$named = New-ExchangeCertificate -SubjectName 'CN=mail.contoso.com' -DomainName autodiscover.contoso.com -KeySize 1024 -Services IIS -PrivateKeyExportable $true
$result.named = @{ Domains = $named.CertificateDomains; Size = $named.PublicKeySize; Services = $named.Services; SelfSigned = $named.IsSelfSigned; RootCAType = $named.RootCAType; Exportable = $named.PrivateKeyExportable }
$default = New-ExchangeCertificate -Force -Server EXCH02
$result.default = @{ Subject = $default.Subject; Domains = $default.CertificateDomains; Services = $default.Services; Size = $default.PublicKeySize; Exportable = $default.PrivateKeyExportable; Friendly = $default.FriendlyName }
$result.internal = (Get-TransportService EXCH02).InternalTransportCertificateThumbprint -eq $default.Thumbprint
$included = New-ExchangeCertificate -SubjectName 'CN=EXCH01' -IncludeServerFQDN -IncludeAutoDiscover -KeySize 4096 -Services None
$result.included = @{ Domains = $included.CertificateDomains; Size = $included.PublicKeySize }
Out-Result $result`,
    );
    expect(seen).toEqual({
      size3072: ["The KeySize value 3072 isn't valid. Valid values are 1024, 2048 and 4096."],
      request: [expect.stringMatching(/-GenerateRequest\) are not simulated/)],
      named: { Domains: ['mail.contoso.com', 'autodiscover.contoso.com'], Size: 1024, Services: 'IIS', SelfSigned: true, RootCAType: 'Registry', Exportable: true },
      default: { Subject: 'CN=EXCH02', Domains: ['EXCH02', 'EXCH02.contoso.com'], Services: 'IMAP, POP, SMTP', Size: 2048, Exportable: false, Friendly: 'Microsoft Exchange' },
      internal: true,
      included: { Domains: ['EXCH01', 'EXCH01.contoso.com', 'autodiscover.contoso.com'], Size: 4096 },
    });
  });
});
