/**
 * The simulated organisation: state format version 2 (many Mailbox servers,
 * Edge servers), which server a process is on, the layouts, the parameters
 * the CLI passes, and the state file's lock under concurrent processes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pwshPath } from '../helpers/pwsh.js';
import { Folders, PwshHost, binding, psQuote, pwshProcess, readState, server, spawnPwsh } from './helpers.js';

const folders = new Folders();
let host: PwshHost;
/** EXCH01, EXCH02 and EDGE01 without layouts. */
let organisation: string;
/** EXCH01 with every layout. */
let layouts: string;
let made: { publicThumbprint: string; selfSigned: Record<string, string>; authThumbprint: string; layoutPublic: string };

const ALL_LAYOUTS = ['seed', 'loopback-public', 'sni', 'public-internal-transport', 'non-exportable', 'require-ssl-off', 'hybrid-connectors'];

beforeAll(async () => {
  const dir = folders.make();
  host = new PwshHost(dir);
  organisation = folders.make();
  layouts = folders.make();
  made = await host.ok(
    dir,
    `
$org = New-ExchCertSimulatorState -Path ${psQuote(join(organisation, 'state.json'))} -Servers EXCH01,EXCH02 -Edge EDGE01
$all = New-ExchCertSimulatorState -Path ${psQuote(join(layouts, 'state.json'))} -Layout ${psQuote(ALL_LAYOUTS.slice(0, 3).join(','))}, ${ALL_LAYOUTS.slice(3).map(psQuote).join(', ')}
Out-Result @{ publicThumbprint = $org.PublicThumbprint; selfSigned = $org.SelfSignedThumbprints; authThumbprint = $org.AuthThumbprint; layoutPublic = $all.PublicThumbprint }`,
  );
}, 90_000);

afterAll(() => {
  host.close();
  folders.removeAll();
});

describe.skipIf(!pwshPath).concurrent('the simulated organisation', { timeout: 90_000 }, () => {
  it('writes one organisation of Mailbox and Edge servers in state format version 2', () => {
    const state = readState(organisation);
    expect(state.version).toBe(2);
    expect(state.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(state.servers.map((s) => [s.name, s.serverRole, s.fqdn])).toEqual([
      ['EXCH01', 'Mailbox', 'EXCH01.contoso.com'],
      ['EXCH02', 'Mailbox', 'EXCH02.contoso.com'],
      ['EDGE01', 'Edge', 'EDGE01.contoso.com'],
    ]);
    for (const name of ['EXCH01', 'EXCH02']) {
      const each = server(state, name);
      const own = made.selfSigned[name]!;
      // The same public certificate on every Mailbox server; each server's own self-signed one inside.
      expect(each.certificates.map((c) => c.thumbprint)).toEqual([made.publicThumbprint, own, made.authThumbprint]);
      expect(each.transport.internalTransportCertificateThumbprint).toBe(own);
      expect(binding(state, name, 'Default Web Site', '*:443:')?.certificateHash).toBe(made.publicThumbprint);
      expect(binding(state, name, 'Default Web Site', '127.0.0.1:443:')?.certificateHash).toBe(own);
      expect(binding(state, name, 'Exchange Back End', '*:444:')?.certificateHash).toBe(own);
      expect(each.iis?.sites.map((s) => [s.name, s.requireSsl])).toEqual([
        ['Default Web Site', true],
        ['Exchange Back End', true],
      ]);
      expect(each.pop).toMatchObject({ x509CertificateName: 'mail.contoso.com', activeCertificateThumbprint: made.publicThumbprint });
      // A fresh install: POP3 and IMAP4 Manual and Stopped.
      expect(each.services.filter((s) => /POP3|IMAP4/i.test(s.name)).map((s) => [s.name, s.startType, s.status])).toEqual([
        ['MSExchangeImap4', 'Manual', 'Stopped'],
        ['MSExchangeIMAP4BE', 'Manual', 'Stopped'],
        ['MSExchangePop3', 'Manual', 'Stopped'],
        ['MSExchangePOP3BE', 'Manual', 'Stopped'],
      ]);
      expect(each.receiveConnectors.map((c) => c.name)).toEqual([`Default ${name}`, `Client Proxy ${name}`, `Default Frontend ${name}`, `Outbound Proxy Frontend ${name}`, `Client Frontend ${name}`]);
      expect(each.queues.reduce((sum, q) => sum + q.messageCount, 0)).toBeGreaterThan(0);
    }
    const edge = server(state, 'EDGE01');
    expect(edge).toMatchObject({ iis: null, pop: null, imap: null });
    expect(edge.transport.internalTransportCertificateThumbprint).toBe(made.publicThumbprint);
    expect(edge.services.map((s) => s.name)).toContain('ADAM_MSExchange');
    expect(edge.edge?.subscription?.certificateThumbprint).toBe(made.publicThumbprint);
    expect(state.organization.authConfig.currentCertificateThumbprint).toBe(made.authThumbprint);
    expect(state.organization.edgeSubscriptions).toMatchObject([{ name: 'EDGE01', certificateThumbprint: made.publicThumbprint }]);
    expect(state.organization.sendConnectors.map((c) => [c.name, c.sourceTransportServers, c.edgeSync])).toEqual([
      ['EdgeSync - Default-First-Site-Name to Internet', ['EDGE01'], 'EDGE01'],
      ['EdgeSync - Inbound to Default-First-Site-Name', ['EDGE01'], 'EDGE01'],
    ]);
    expect(state.faults).toEqual([]);
    expect(state.calls).toEqual([]);
  });

  it('shows the organisation through Exchange cmdlets, and refuses servers it does not have', async () => {
    const dir = folders.copy(organisation);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
Out-Result @{
    servers = @(Get-ExchangeServer | ForEach-Object { $_.Name + ' ' + $_.ServerRole + ' ' + $_.AdminDisplayVersion + ' ' + $_.IsEdgeServer })
    byFqdn = (Get-ExchangeServer -Identity EXCH02.contoso.com).Name
    exch02 = @(Get-ExchangeCertificate -Server EXCH02 | ForEach-Object { $_.Identity + ' ' + $_.Services })
    transport = @(Get-TransportService | ForEach-Object { $_.Name + ' ' + $_.InternalTransportCertificateThumbprint })
    health = @(Test-ServiceHealth EXCH02 | ForEach-Object { $_.Role + ' ' + $_.RequiredServicesRunning })
    unknown = Get-WrittenErrors { Get-ExchangeCertificate -Server EXCH03 }
    transportFqdn = Get-WrittenErrors { Get-TransportService -Identity EXCH02.contoso.com }
    edgeFromMailbox = Get-WrittenErrors { Get-ExchangeCertificate -Server EDGE01 }
}`,
    );
    const version = 'Version 15.2 (Build 1748.10)';
    expect(seen['servers']).toEqual([`EXCH01 Mailbox ${version} False`, `EXCH02 Mailbox ${version} False`, `EDGE01 Edge ${version} True`]);
    expect(seen['byFqdn']).toBe('EXCH02');
    expect(seen['exch02']).toEqual([`EXCH02\\${made.publicThumbprint} IMAP, POP, IIS, SMTP`, `EXCH02\\${made.selfSigned['EXCH02']} IIS, SMTP`, `EXCH02\\${made.authThumbprint} SMTP`]);
    expect(seen['transport']).toEqual([`EXCH01 ${made.selfSigned['EXCH01']}`, `EXCH02 ${made.selfSigned['EXCH02']}`, `EDGE01 ${made.publicThumbprint}`]);
    expect(seen['health']).toEqual(['Mailbox Server Role True', 'Client Access Server Role True', 'Hub Transport Server Role True']);
    expect(seen['unknown']).toEqual(["The operation couldn't be performed because object 'EXCH03' couldn't be found on 'DC01.contoso.com'."]);
    expect(seen['transportFqdn']).toEqual(["The operation couldn't be performed because object 'EXCH02.contoso.com' couldn't be found on 'DC01.contoso.com'."]);
    expect(seen['edgeFromMailbox']).toEqual([expect.stringMatching(/^The Edge Transport server EDGE01 isn't managed from EXCH01/)]);
  });

  it('sees a change another writer made between two commands of one process (the state it keeps is only reused while the file is unchanged)', async () => {
    const dir = folders.copy(organisation);
    const first = await host.ok<Record<string, unknown>>(dir, 'Out-Result @{ name = (Get-PopSettings -Server EXCH01).X509CertificateName }');
    const path = join(dir, 'state.json');
    const state = readState(dir) as unknown as { servers: Array<{ pop?: { x509CertificateName: string } }> };
    for (const entry of state.servers) if (entry.pop) entry.pop.x509CertificateName = 'pop.contoso.com';
    writeFileSync(path, JSON.stringify(state, null, 2));
    const second = await host.ok<Record<string, unknown>>(dir, "Set-ImapSettings -Server EXCH01 -X509CertificateName imap.contoso.com -WarningAction SilentlyContinue\nOut-Result @{ pop = (Get-PopSettings -Server EXCH01).X509CertificateName; imap = (Get-ImapSettings -Server EXCH01).X509CertificateName }");
    expect(first).toEqual({ name: 'mail.contoso.com' });
    expect(second).toEqual({ pop: 'pop.contoso.com', imap: 'imap.contoso.com' });
    expect(server(readState(dir), 'EXCH01').pop?.x509CertificateName).toBe('pop.contoso.com');
  });

  it('acts on the server EXCH_CERT_SIMULATOR_HOST names (default the first Mailbox server), and logs it', async () => {
    const dir = folders.copy(organisation);
    const onExch02 = { EXCH_CERT_SIMULATOR_HOST: 'EXCH02' };
    await host.ok(dir, "Stop-Service -Name MSExchangeTransport\nOut-Result 'ok'", onExch02);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
Out-Result @{
    here = [string](Get-Service -Name MSExchangeTransport).Status
    certificates = @(Get-ExchangeCertificate | ForEach-Object { $_.Thumbprint })
    health = @(Test-ServiceHealth | Where-Object { -not $_.RequiredServicesRunning } | ForEach-Object { $_.Role })
}`,
      onExch02,
    );
    expect(seen).toEqual({ here: 'Stopped', certificates: [made.publicThumbprint, made.selfSigned['EXCH02'], made.authThumbprint], health: ['Hub Transport Server Role'] });
    const elsewhere = await host.ok<Record<string, unknown>>(
      dir,
      `
Out-Result @{
    exch01 = [string](Get-Service -Name MSExchangeTransport).Status
    edge = @(Get-ExchangeServer | ForEach-Object { $_.Name })
    edgeCertificates = @(Get-ExchangeCertificate | ForEach-Object { $_.Thumbprint })
    edgeSeesNoOther = Get-WrittenErrors { Get-ExchangeServer EXCH01 }
}`,
      { EXCH_CERT_SIMULATOR_HOST: 'EDGE01' },
    );
    expect(elsewhere).toEqual({
      exch01: 'Running',
      edge: ['EDGE01'],
      edgeCertificates: [made.publicThumbprint, made.selfSigned['EDGE01']],
      edgeSeesNoOther: ["The operation couldn't be performed because object 'EXCH01' couldn't be found on 'DC01.contoso.com'."],
    });
    expect(server(readState(dir), 'EXCH01').services.find((s) => s.name === 'MSExchangeTransport')?.status).toBe('Running');
    const unknown = await host.run(dir, 'Get-Service -Name W3SVC', { EXCH_CERT_SIMULATOR_HOST: 'EXCH09' });
    expect(unknown.error).toMatch(/^ExchCertSimulator: EXCH_CERT_SIMULATOR_HOST is 'EXCH09', which is not a server of the simulated organisation \(EXCH01, EXCH02, EDGE01\)\./);
    const calls = readState(dir).calls.map((c) => [c.command, c.server, c.host]);
    expect(calls.slice(0, 4)).toEqual([
      ['Stop-Service', 'EXCH02', 'EXCH02'],
      ['Get-Service', 'EXCH02', 'EXCH02'],
      ['Get-ExchangeCertificate', 'EXCH02', 'EXCH02'],
      ['Test-ServiceHealth', 'EXCH02', 'EXCH02'],
    ]);
  });

  it('takes -Path, -Server and -Fqdn as the CLI passes them, and overwrites only with -Force', async () => {
    const dir = folders.make();
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
$made = New-ExchCertSimulatorState -Path ./state.json -Server 'EXCH07' -Fqdn 'mail.fabrikam.com'
$again = Get-ErrorText { New-ExchCertSimulatorState -Path ./state.json -Server 'EXCH07' }
$unknown = Get-ErrorText { New-ExchCertSimulatorState -Path ./other.json -Layout 'seed,bogus' }
Out-Result @{
    server = $made.Server
    names = @(Get-ExchangeCertificate -Server EXCH07 | ForEach-Object { $_.Subject })
    fqdn = (Get-ExchangeServer).Fqdn
    again = $again
    unknown = $unknown
}`,
    );
    expect(seen).toEqual({
      server: 'EXCH07',
      names: ['CN=mail.fabrikam.com', 'CN=EXCH07', 'CN=Microsoft Exchange Server Auth Certificate'],
      fqdn: 'EXCH07.fabrikam.com',
      again: expect.stringMatching(/exists; use -Force to overwrite it$/),
      unknown: "ExchCertSimulator: unknown layout 'bogus'. Layouts: seed, loopback-public, sni, public-internal-transport, non-exportable, require-ssl-off, hybrid-connectors, smtp-namespace.",
    });
    expect(readState(dir).organization.namespace).toBe('mail.fabrikam.com');
  });

  it('refuses a state file of format version 1 with what to do', async () => {
    const dir = folders.make();
    writeFileSync(join(dir, 'state.json'), JSON.stringify({ version: 1, server: { name: 'EXCH01' } }));
    const answer = await host.run(dir, 'Get-ExchangeCertificate -ErrorAction Stop');
    expect(answer.error).toMatch(/is a version 1 simulator state file; this simulator reads version 2\. Create a new one with New-ExchCertSimulatorState -Path FILE -Force\./);
  });
});

describe.skipIf(!pwshPath).concurrent('the layouts real servers have', { timeout: 90_000 }, () => {
  it('seed: POP3 and IMAP4 Automatic and Running', () => {
    const services = server(readState(layouts), 'EXCH01').services.filter((s) => /POP3|IMAP4/i.test(s.name));
    expect(services.map((s) => `${s.startType} ${s.status}`)).toEqual(Array(4).fill('Automatic Running'));
  });

  it('loopback-public and sni: the old public certificate on 127.0.0.1:443 and on an SNI binding, as IIS and netsh show them', async () => {
    const dir = folders.copy(layouts);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
$loopback = netsh http show sslcert ipport=127.0.0.1:443
$sni = netsh http show sslcert hostnameport=mail.contoso.com:443
Out-Result @{
    bindings = @(Get-WebBinding -Name 'Default Web Site' -Protocol https | ForEach-Object { $_.bindingInformation + ' ' + $_.sslFlags + ' ' + $_.certificateHash })
    loopback = @($loopback | Where-Object { $_ -match 'Certificate Hash' })
    sni = @($sni | Where-Object { $_ -match 'Hostname:port|Certificate Hash' })
}`,
    );
    const lower = made.layoutPublic.toLowerCase();
    expect(seen['bindings']).toEqual([`*:443: 0 ${made.layoutPublic}`, `127.0.0.1:443: 0 ${made.layoutPublic}`, `*:443:mail.contoso.com 1 ${made.layoutPublic}`]);
    expect(seen['loopback']).toEqual([`    Certificate Hash             : ${lower}`]);
    expect(seen['sni']).toEqual(['    Hostname:port                : mail.contoso.com:443', `    Certificate Hash             : ${lower}`]);
  });

  it('public-internal-transport: the old public certificate is the internal transport certificate, which Exchange will not remove', async () => {
    const dir = folders.copy(layouts);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `Out-Result @{ internal = (Get-TransportService EXCH01).InternalTransportCertificateThumbprint; remove = Get-WrittenErrors { Remove-ExchangeCertificate -Thumbprint ${psQuote(made.layoutPublic)} -Confirm:$false } }`,
    );
    expect(seen).toEqual({ internal: made.layoutPublic, remove: [expect.stringMatching(/^The internal transport certificate cannot be removed/)] });
  });

  it('non-exportable: the old public certificate\u2019s key cannot be exported', async () => {
    const dir = folders.copy(layouts);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `Out-Result @{ exportable = (Get-ExchangeCertificate ${psQuote(made.layoutPublic)}).PrivateKeyExportable; export = Get-WrittenErrors { Export-ExchangeCertificate -Thumbprint ${psQuote(made.layoutPublic)} -BinaryEncoded -Password $backupPassword } }`,
    );
    expect(seen).toEqual({ exportable: false, export: [expect.stringMatching(/^The private key couldn't be exported as PKCS-12/)] });
  });

  it('require-ssl-off: Default Web Site has Require SSL off', async () => {
    const dir = folders.copy(layouts);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `Out-Result @{ site = Get-WebConfigurationProperty -Filter 'system.webServer/security/access' -Name sslFlags -PSPath 'IIS:\\Sites\\Default Web Site'; backEnd = Get-WebConfigurationProperty -PSPath 'MACHINE/WEBROOT/APPHOST' -Location 'Exchange Back End' -Filter 'system.webServer/security/access' -Name sslFlags }`,
    );
    expect(seen).toEqual({ site: 'None', backEnd: 'Ssl' });
  });

  it('hybrid-connectors: a send and a receive connector name the old public certificate by issuer and subject', async () => {
    const dir = folders.copy(layouts);
    const seen = await host.ok<Record<string, unknown>>(
      dir,
      `
$certificate = Get-ExchangeCertificate ${psQuote(made.layoutPublic)}
Out-Result @{
    expected = '<I>' + $certificate.Issuer + '<S>' + $certificate.Subject
    send = @(Get-SendConnector | Where-Object { $_.TlsCertificateName } | ForEach-Object { ($_.Name -replace ' - [0-9a-f-]{36}$', '') + ' ' + $_.TlsCertificateName + ' ' + $_.RequireTLS })
    receive = @(Get-ReceiveConnector | Where-Object { $_.TlsCertificateName } | ForEach-Object { $_.Identity + ' ' + $_.TlsCertificateName })
}`,
    );
    const name = String(seen['expected']);
    expect(name).toMatch(/^<I>CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1, O=DigiCert Inc, C=US<S>CN=mail\.contoso\.com$/);
    expect(seen['send']).toEqual([`Outbound to Office 365 ${name} True`]);
    expect(seen['receive']).toEqual([`EXCH01\\Default Frontend EXCH01 ${name}`]);
  });

  it('none of them without -Layout', () => {
    const state = readState(organisation);
    const each = server(state, 'EXCH01');
    expect(state.layouts).toEqual([]);
    expect(readState(layouts).layouts).toEqual(ALL_LAYOUTS);
    expect(each.certificates[0]?.privateKeyExportable).toBe(true);
    expect(each.iis?.sites[0]?.bindings.map((b) => b.bindingInformation)).toEqual(['*:80:', '*:443:', '127.0.0.1:443:']);
    expect([...each.receiveConnectors.map((c) => c.tlsCertificateName), ...state.organization.sendConnectors.map((c) => c.tlsCertificateName)].every((t) => t === '')).toBe(true);
  });
});

describe.skipIf(!pwshPath)('the state file\u2019s lock', { timeout: 120_000 }, () => {
  it('keeps every update when many processes change the state at the same time', async () => {
    const dir = folders.copy(organisation);
    const processes = 4;
    const each = 5;
    const runs = await Promise.all(
      Array.from({ length: processes }, (_, index) =>
        pwshProcess(
          dir,
          `
foreach ($i in 1..${each}) {
    Add-ExchCertSimulatorFault -Command ('Nothing-${index}-' + $i) -Action throw
    $null = Get-ExchangeServer -ErrorAction Stop
}
Out-Result 'done'`,
        ),
      ),
    );
    for (const result of runs) expect(result.result, result.stderr).toBe('done');
    const state = readState(dir);
    expect(state.faults).toHaveLength(processes * each);
    expect(state.calls.filter((c) => c.command === 'Get-ExchangeServer')).toHaveLength(processes * each);
  });

  it('makes a command wait for a lock another process holds, and fail clearly when it is not released in time', async () => {
    const dir = folders.copy(organisation);
    const holder = spawnPwsh(dir, `$lock = [System.IO.File]::Open(${psQuote(join(dir, 'state.json.lock'))}, 'OpenOrCreate', 'ReadWrite', 'None')\n[Console]::Out.WriteLine('locked')\n$null = [Console]::In.ReadLine()\n$lock.Dispose()`);
    await new Promise<void>((resolve, reject) => {
      holder.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('locked') && resolve());
      holder.on('exit', (code) => reject(new Error(`the lock holder exited (${code})`)));
    });
    try {
      const result = await host.ok<{ text: string; ms: number }>(dir, '$watch = [Diagnostics.Stopwatch]::StartNew()\n$text = Get-ErrorText { Get-Service -Name W3SVC }\nOut-Result @{ text = $text; ms = $watch.ElapsedMilliseconds }', { EXCH_CERT_SIMULATOR_LOCK_TIMEOUT: '0.6' });
      expect(result.text).toMatch(/^ExchCertSimulator: the state file .*state\.json stayed locked by another simulator command for 0\.6 s \(lock file .*state\.json\.lock\)\. A simulator command in another process may be stuck/);
      expect(result.ms).toBeGreaterThanOrEqual(550);
      const waiting = host.ok<{ status: string; ms: number }>(dir, '$watch = [Diagnostics.Stopwatch]::StartNew()\nOut-Result @{ status = [string](Get-Service -Name W3SVC).Status; ms = $watch.ElapsedMilliseconds }');
      await new Promise((resolve) => setTimeout(resolve, 800));
      holder.stdin.end('\n');
      const waited = await waiting;
      expect(waited.status).toBe('Running');
      expect(waited.ms).toBeGreaterThanOrEqual(700);
    } finally {
      holder.kill();
    }
  });
});
