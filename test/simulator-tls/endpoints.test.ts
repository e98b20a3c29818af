/**
 * The simulated server's TLS endpoints on loopback, checked with exch-cert's own client
 * (verifyEndpoints and connectTls: real handshakes, STARTTLS and STLS included), while the real
 * simulator (PowerShell 7 importing the module) changes the state: an IIS binding is served at
 * once, POP3/IMAP4 only after both of their services restart, SMTP only after the connector's
 * transport service restarts, and http.sys's choice by SNI and by address.
 */
import { request } from 'node:https';
import { connect as connectTcp } from 'node:net';
import { join } from 'node:path';
import { connect as connectSecure } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatedEndpointFor, startSimulatedEndpoints, type SimulatedEndpoint, type SimulatedEndpoints } from '../../src/simulator-tls/endpoints.js';
import { connectTls } from '../../src/tls/connect.js';
import type { Endpoint } from '../../src/tls/endpoint.js';
import { verifyEndpoints, type EndpointResult } from '../../src/tls/verify.js';
import { pwshPath } from '../helpers/pwsh.js';
import { Folders, PwshHost } from '../simulator/helpers.js';

const folders = new Folders();
let host: PwshHost;
let seed: string;
let fresh: string;
let made: { public: string; selfSigned: string; renewed: string };

const clock = { now: () => new Date() };
const opened: SimulatedEndpoints[] = [];

async function start(dir: string): Promise<SimulatedEndpoints> {
  const endpoints = await startSimulatedEndpoints({ statePath: join(dir, 'state.json'), server: 'EXCH01' });
  opened.push(endpoints);
  return endpoints;
}

/** The listener of a real port (and, for IIS, binding). */
function listener(set: SimulatedEndpoints, realPort: number, bindingInformation?: string): SimulatedEndpoint {
  const found = set.endpoints.find((endpoint) => endpoint.realPort === realPort && (bindingInformation === undefined || endpoint.bindingInformation === bindingInformation));
  if (!found) throw new Error(`no listener for ${realPort} ${bindingInformation ?? ''}`);
  return found;
}

const target = (endpoint: SimulatedEndpoint, servername = 'mail.contoso.com'): Endpoint => ({ host: endpoint.host, port: endpoint.port, protocol: endpoint.protocol, servername });

/** What each endpoint serves: its thumbprint, or why it could not be checked. */
async function served(endpoints: readonly Endpoint[]): Promise<string[]> {
  const results = await verifyEndpoints(endpoints, undefined, { connect: connectTls, clock, timeoutMs: 10_000 });
  return results.map((result: EndpointResult) => result.handshake?.certificate.thumbprint ?? `unreachable: ${result.error ?? ''}`);
}

const importPfx = (file: string): string => `(Import-ExchangeCertificate -FileData ([System.IO.File]::ReadAllBytes((Join-Path $PWD '${file}'))) -Password $pfxPassword -ErrorAction Stop).Thumbprint`;

beforeAll(async () => {
  seed = folders.make();
  fresh = folders.make();
  host = new PwshHost(seed);
  made = await host.ok(
    seed,
    `$s = New-ExchCertSimulatorState -Path ./state.json -Layout seed,sni,smtp-namespace
$renewed = New-ExchCertSimulatorPfx -Path ./renewed.pfx -Password $pfxPassword -DnsName mail.contoso.com, autodiscover.contoso.com -ValidDays 200 -IncludeChain
Out-Result @{ public = $s.PublicThumbprint; selfSigned = $s.SelfSignedThumbprint; renewed = $renewed.Thumbprint }`,
  );
  await host.ok(fresh, "$null = New-ExchCertSimulatorState -Path ./state.json -Edge EDGE01\nOut-Result 'ok'");
}, 120_000);

afterAll(async () => {
  await Promise.all(opened.map((set) => set.close()));
  host.close();
  folders.removeAll();
});

describe.skipIf(!pwshPath).concurrent('the simulated server on loopback', { timeout: 120_000 }, () => {
  it('serves every endpoint what the state says, with the chain its record holds', async () => {
    const set = await start(seed);
    expect(set.endpoints.map((e) => `${e.service} ${e.name} ${e.realPort}/${e.protocol} ${e.bindingInformation ?? ''}`.trim())).toEqual([
      'iis Default Web Site 443/tls *:443:',
      'iis Default Web Site 443/tls 127.0.0.1:443:',
      'iis Default Web Site 443/tls *:443:mail.contoso.com',
      'iis Exchange Back End 444/tls *:444:',
      'pop POP3 995/tls',
      'pop POP3 110/pop3',
      'imap IMAP4 993/tls',
      'imap IMAP4 143/imap',
      'smtp Default Frontend EXCH01 25/smtp',
      'smtp Client Frontend EXCH01 587/smtp',
    ]);
    expect(new Set(set.endpoints.map((e) => e.port)).size).toBe(set.endpoints.length);
    expect(set.endpoints.every((e) => e.host === '127.0.0.1' && e.port > 0)).toBe(true);
    // The server's own name where clients of the server itself connect (127.0.0.1:443, and 444).
    const all = set.endpoints.map((e) => target(e, e.bindingInformation === '127.0.0.1:443:' || e.realPort === 444 ? 'exch01.contoso.com' : 'mail.contoso.com'));
    expect(await served(all)).toEqual([made.public, made.selfSigned, made.public, made.selfSigned, made.public, made.public, made.public, made.public, made.public, made.public]);
    const [front] = await verifyEndpoints([target(listener(set, 443, '*:443:'))], undefined, { connect: connectTls, clock });
    expect(front?.handshake?.issuers.map((issuer) => issuer.subject)).toEqual(['CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1, O=DigiCert Inc, C=US']);
    expect(front?.handshake?.intermediatesSent).toBe(true);
  });

  it('serves a changed IIS binding at once', async () => {
    const dir = folders.copy(seed);
    const set = await start(dir);
    const front = target(listener(set, 443, '*:443:'));
    const loopback = target(listener(set, 443, '127.0.0.1:443:'), 'exch01.contoso.com');
    await host.ok(dir, `$t = ${importPfx('renewed.pfx')}\nEnable-ExchangeCertificate -Thumbprint $t -Services IIS -Force\nOut-Result 'ok'`);
    // *:443 now serves the renewed certificate; the SNI binding and 127.0.0.1:443 keep theirs (P7).
    expect(await served([front, { ...front, servername: 'autodiscover.contoso.com' }, loopback])).toEqual([made.public, made.renewed, made.selfSigned]);
    const [renewed] = await verifyEndpoints([{ ...front, servername: 'autodiscover.contoso.com' }], { thumbprint: made.renewed }, { connect: connectTls, clock });
    expect(renewed?.handshake?.issuers.map((issuer) => issuer.subject)).toEqual(["CN=R11, O=Let's Encrypt, C=US"]);
  });

  it('serves a new POP3/IMAP4 certificate only after both services of each protocol restarted', async () => {
    const dir = folders.copy(seed);
    const set = await start(dir);
    const mail = [995, 110, 993, 143].map((port) => target(listener(set, port)));
    await host.ok(
      dir,
      `$t = ${importPfx('renewed.pfx')}
Enable-ExchangeCertificate -Thumbprint $t -Services POP,IMAP
$null = Set-PopSettings -X509CertificateName mail.contoso.com 3>&1
$null = Set-ImapSettings -X509CertificateName mail.contoso.com 3>&1
Out-Result 'ok'`,
    );
    expect(await served(mail)).toEqual([made.public, made.public, made.public, made.public]);
    await host.ok(dir, "Restart-Service MSExchangePop3, MSExchangeImap4\nOut-Result 'ok'");
    expect(await served(mail)).toEqual([made.public, made.public, made.public, made.public]);
    await host.ok(dir, "Restart-Service MSExchangePOP3BE\nOut-Result 'ok'");
    expect(await served(mail)).toEqual([made.renewed, made.renewed, made.public, made.public]);
    await host.ok(dir, "Restart-Service MSExchangeIMAP4BE\nOut-Result 'ok'");
    expect(await served(mail)).toEqual([made.renewed, made.renewed, made.renewed, made.renewed]);
  });

  it('serves a new SMTP certificate on 25 and 587 only after the Front End Transport service restarted', async () => {
    const dir = folders.copy(seed);
    const set = await start(dir);
    const smtp = [25, 587].map((port) => target(listener(set, port)));
    await host.ok(dir, `$t = ${importPfx('renewed.pfx')}\nEnable-ExchangeCertificate -Thumbprint $t -Services SMTP -Force\nOut-Result 'ok'`);
    expect(await served(smtp)).toEqual([made.public, made.public]);
    await host.ok(dir, "Restart-Service MSExchangeTransport\nOut-Result 'ok'");
    expect(await served(smtp)).toEqual([made.public, made.public]);
    await host.ok(dir, "Restart-Service MSExchangeFrontEndTransport\nOut-Result 'ok'");
    expect(await served(smtp)).toEqual([made.renewed, made.renewed]);
  });

  it('chooses as http.sys does: an SNI binding for its name first, then the IP-specific binding, then *:443', async () => {
    const dir = folders.copy(seed);
    const set = await start(dir);
    await host.ok(
      dir,
      `$t = ${importPfx('renewed.pfx')}
$null = netsh http update sslcert hostnameport=mail.contoso.com:443 certhash=$t appid='{4dc3e181-e14b-4a21-b022-59fc669b0914}' certstorename=MY
Out-Result 'ok'`,
    );
    const wildcard = listener(set, 443, '*:443:');
    const loopback = listener(set, 443, '127.0.0.1:443:');
    expect(
      await served([
        target(wildcard, 'mail.contoso.com'),
        target(wildcard, 'autodiscover.contoso.com'),
        // An IP address as the name: no SNI is sent, the address alone decides.
        target(wildcard, '127.0.0.1'),
        target(loopback, 'mail.contoso.com'),
        target(loopback, 'exch01.contoso.com'),
        target(loopback, '127.0.0.1'),
        target(listener(set, 443, '*:443:mail.contoso.com'), 'mail.contoso.com'),
      ]),
    ).toEqual([made.renewed, made.public, made.public, made.renewed, made.selfSigned, made.selfSigned, made.renewed]);
  });

  it('resets connections while the service behind an endpoint is stopped, and fails the handshake when there is nothing to serve', async () => {
    const dir = folders.copy(fresh);
    const set = await start(dir);
    // A fresh install: POP3 and IMAP4 are Manual and stopped.
    const [pop, popStls] = await served([target(listener(set, 995)), target(listener(set, 110))]);
    expect(pop).toMatch(/^unreachable: /);
    expect(popStls).toMatch(/^unreachable: /);
    await host.ok(dir, "Stop-Service W3SVC\nOut-Result 'ok'");
    expect((await served([target(listener(set, 443, '*:443:'))]))[0]).toMatch(/^unreachable: connection reset/);
    await host.ok(dir, "Start-Service W3SVC\n$b = Get-WebBinding -Name 'Default Web Site' -Protocol https | Where-Object { $_.bindingInformation -eq '*:443:' }\n$b.RemoveSslCertificate()\nOut-Result 'ok'");
    // 127.0.0.1 still has its binding; *:443 has no certificate any more: the handshake ends (http.sys resets it).
    const [front, loopback] = await served([target(listener(set, 443, '*:443:')), target(listener(set, 443, '127.0.0.1:443:'))]);
    expect(front).toMatch(/^unreachable: (connection reset|TLS handshake failed)/);
    expect(loopback).toMatch(/^[0-9A-F]{40}$/);
  });

  it('offers no STARTTLS without a certificate, refuses bytes sent before the go-ahead, and answers HTTP on IIS', async () => {
    const dir = folders.copy(seed);
    const set = await start(dir);
    await host.ok(dir, "Set-ReceiveConnector 'Client Frontend EXCH01' -TlsCertificateName '<I>CN=Nobody<S>CN=nothing'\nRestart-Service MSExchangeFrontEndTransport\nOut-Result 'ok'");
    expect(await served([target(listener(set, 587))])).toEqual(['unreachable: protocol error: the SMTP server does not offer STARTTLS (it is not in its EHLO answer)']);
    const dialog = await new Promise<string>((resolve) => {
      let seen = '';
      const socket = connectTcp({ host: '127.0.0.1', port: listener(set, 25).port });
      socket.on('data', (chunk) => {
        seen += chunk.toString('latin1');
        if (seen.includes('250 SMTPUTF8')) socket.write('STARTTLS\r\nEHLO injected\r\n');
      });
      socket.once('connect', () => socket.write('EHLO client.test\r\n'));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(seen));
    });
    expect(dialog).toMatch(/^220 mail\.contoso\.com Microsoft ESMTP MAIL Service ready at /);
    expect(dialog).toContain('250-mail.contoso.com Hello [127.0.0.1]\r\n250-SIZE 37748736\r\n250-PIPELINING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n');
    // The go-ahead, then the connection ends: the injected command never reaches TLS.
    expect(dialog.endsWith('220 2.0.0 SMTP server ready\r\n')).toBe(true);
    const page = await new Promise<string>((resolve, reject) => {
      const call = request({ host: '127.0.0.1', port: listener(set, 444).port, path: '/owa/', rejectUnauthorized: false, servername: 'exch01.contoso.com' }, (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
        response.on('end', () => resolve(`${response.statusCode} ${body}`));
      });
      call.on('error', reject);
      call.end();
    });
    expect(page).toBe('200 ExchCertSimulator: EXCH01 Exchange Back End *:444:\n');
  });

  it('serves an Edge Transport server: SMTP only, run by its Transport service', async () => {
    const dir = folders.copy(fresh);
    const set = await startSimulatedEndpoints({ statePath: join(dir, 'state.json'), server: 'EDGE01' });
    opened.push(set);
    expect(set.endpoints.map((e) => `${e.service} ${e.name} ${e.realPort}/${e.protocol}`)).toEqual(['smtp Default internal receive connector EDGE01 25/smtp']);
    const [thumbprint] = await served([target(listener(set, 25), 'edge01.contoso.com')]);
    expect(thumbprint).toMatch(/^[0-9A-F]{40}$/);
    await host.ok(dir, "Stop-Service MSExchangeTransport\nOut-Result 'ok'", { EXCH_CERT_SIMULATOR_HOST: 'EDGE01' });
    expect((await served([target(listener(set, 25))]))[0]).toMatch(/^unreachable: connection reset/);
  });

  it('maps a real endpoint to the listener that stands for it', async () => {
    const set = await start(seed);
    const port = (realPort: number, binding?: string): number => listener(set, realPort, binding).port;
    expect(simulatedEndpointFor(set.endpoints, { host: 'mail.contoso.com', port: 443, protocol: 'tls' })).toEqual({ host: '127.0.0.1', port: port(443, '*:443:'), protocol: 'tls', servername: 'mail.contoso.com' });
    expect(simulatedEndpointFor(set.endpoints, { host: '127.0.0.1', port: 443, protocol: 'tls' })).toEqual({ host: '127.0.0.1', port: port(443, '127.0.0.1:443:'), protocol: 'tls', servername: '127.0.0.1' });
    expect(simulatedEndpointFor(set.endpoints, { host: 'EXCH01', port: 444, protocol: 'tls', servername: 'exch01.contoso.com' })).toEqual({ host: '127.0.0.1', port: port(444), protocol: 'tls', servername: 'exch01.contoso.com' });
    expect(simulatedEndpointFor(set.endpoints, { host: 'mail.contoso.com', port: 25, protocol: 'smtp' })?.port).toBe(port(25));
    expect(simulatedEndpointFor(set.endpoints, { host: 'mail.contoso.com', port: 8443, protocol: 'tls' })).toBeUndefined();
  });

  it('finds the server by name or FQDN, refuses a state without it, and stops listening on close', async () => {
    await expect(startSimulatedEndpoints({ statePath: join(seed, 'state.json'), server: 'EXCH09' })).rejects.toThrow('the simulator state has no server "EXCH09"; it has EXCH01');
    await expect(startSimulatedEndpoints({ statePath: join(seed, 'missing.json'), server: 'EXCH01' })).rejects.toThrow('no such file');
    const set = await startSimulatedEndpoints({ statePath: join(seed, 'state.json'), server: 'exch01.contoso.com' });
    const endpoint = target(listener(set, 993));
    expect((await served([endpoint]))[0]).toBe(made.public);
    // A client still connected when the listeners close is disconnected.
    const open = connectSecure({ host: '127.0.0.1', port: endpoint.port, servername: 'mail.contoso.com', rejectUnauthorized: false });
    open.on('error', () => undefined);
    const greeting = await new Promise<string>((resolve) => open.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1'))));
    expect(greeting).toBe('* OK The Microsoft Exchange IMAP4 service is ready.\r\n');
    const disconnected = new Promise<void>((resolve) => open.once('close', () => resolve()));
    await set.close();
    await disconnected;
    expect((await served([endpoint]))[0]).toBe('unreachable: connection refused');
  });
});
