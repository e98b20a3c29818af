/**
 * The real connector against real servers on loopback (openssl s_server,
 * dovecot, aiosmtpd) and against small hand-written misbehaving ones.
 * Trust is not tested here (NODE_EXTRA_CA_CERTS only counts at process start;
 * the CLI tests cover it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { altNames, connectTls, UnreachableError } from '../../src/tls/connect.js';
import type { Endpoint } from '../../src/tls/endpoint.js';
import { createTestPki, issueLeaf, type TestLeaf } from '../helpers/tls-certificates.js';
import { freePort, haveTlsServers, startDovecot, startOpenSslServer, startSmtpServer, type DovecotPorts, type TestServer } from '../helpers/tls-servers.js';

const OPTIONS = { servername: 'mail.contoso.test', timeoutMs: 5000 };
const at = (port: number, protocol: Endpoint['protocol']): Endpoint => ({ host: '127.0.0.1', port, protocol });

describe.skipIf(!haveTlsServers)('connectTls against real servers', () => {
  let dir: string;
  let leaf: TestLeaf;
  const servers: TestServer[] = [];
  let withChain: number;
  let leafOnly: number;
  let dovecot: DovecotPorts;
  let dovecotPlain: DovecotPorts;
  let smtp: number;
  let smtpPlain: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'exch-cert-connect-'));
    const pki = createTestPki(join(dir, 'pki'));
    leaf = issueLeaf(pki, { names: ['mail.contoso.test', 'autodiscover.contoso.test'] });
    const started = await Promise.all([
      startOpenSslServer({ cert: leaf.cert, key: leaf.key, chain: pki.intermediateCert }),
      startOpenSslServer({ cert: leaf.cert, key: leaf.key }),
      startDovecot(join(dir, 'dovecot'), { certChain: leaf.chain, key: leaf.key }),
      startDovecot(join(dir, 'dovecot-plain'), { tls: false }),
      startSmtpServer(join(dir, 'smtp'), { certChain: leaf.chain, key: leaf.key }),
      startSmtpServer(join(dir, 'smtp-plain'), { tls: false }),
    ]);
    servers.push(...started);
    [withChain, leafOnly] = [started[0].port, started[1].port];
    [dovecot, dovecotPlain] = [started[2].ports, started[3].ports];
    [smtp, smtpPlain] = [started[4].port, started[5].port];
  });

  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the served leaf over every protocol: implicit TLS, IMAP STARTTLS, POP3 STLS, SMTP STARTTLS', async () => {
    const endpoints = [at(withChain, 'tls'), at(dovecot.imap, 'imap'), at(dovecot.imaps!, 'tls'), at(dovecot.pop3, 'pop3'), at(dovecot.pop3s!, 'tls'), at(smtp, 'smtp')];
    for (const endpoint of endpoints) {
      const handshake = await connectTls(endpoint, OPTIONS);
      expect(handshake.certificate.thumbprint, `${endpoint.port}/${endpoint.protocol}`).toBe(leaf.thumbprint);
      expect(handshake.certificate).toMatchObject({ subject: 'CN=mail.contoso.test', names: ['mail.contoso.test', 'autodiscover.contoso.test'], notAfter: leaf.notAfter, notBefore: leaf.notBefore });
      expect(handshake.certificate.issuer).toBe('CN=exch-cert Test Issuing CA, O=exch-cert tests');
      expect(handshake.tlsVersion).toMatch(/^TLSv1\.[23]$/);
      expect(handshake.intermediatesSent).toBe(true);
      expect(handshake.issuers.map((issuer) => issuer.subject)).toEqual(['CN=exch-cert Test Issuing CA, O=exch-cert tests']);
      // The test root is not in this process's trust store.
      expect(handshake.trustError).toBe('UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
    }
  });

  it('sees when the server sends the leaf alone', async () => {
    const handshake = await connectTls(at(leafOnly, 'tls'), OPTIONS);
    expect(handshake).toMatchObject({ intermediatesSent: false, issuers: [], trustError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  });

  it('calls a server that offers no STARTTLS unreachable, saying so', async () => {
    await expect(connectTls(at(smtpPlain, 'smtp'), OPTIONS)).rejects.toThrow(new UnreachableError('protocol error: the SMTP server does not offer STARTTLS (it is not in its EHLO answer)', true));
    await expect(connectTls(at(dovecotPlain.imap, 'imap'), OPTIONS)).rejects.toThrow(/^protocol error: the IMAP server does not offer STARTTLS: "X1 BAD/);
    await expect(connectTls(at(dovecotPlain.pop3, 'pop3'), OPTIONS)).rejects.toThrow(/^protocol error: the POP3 server does not offer STLS: "-ERR/);
  });

  it('hints at STARTTLS when implicit TLS meets a plain-text port', async () => {
    await expect(connectTls(at(dovecot.imap, 'tls'), OPTIONS)).rejects.toThrow(/^TLS handshake failed: .*try PORT\/smtp, PORT\/imap or PORT\/pop3/);
  });

  it('says when a server offers only TLS older than 1.2', async () => {
    const old = await startOpenSslServer({ cert: leaf.cert, key: leaf.key, extraArgs: ['-tls1_1', '-cipher', 'DEFAULT:@SECLEVEL=0'] });
    servers.push(old);
    await expect(connectTls(at(old.port, 'tls'), OPTIONS)).rejects.toThrow(/^TLS handshake failed: .* \(the server offers neither TLS 1\.2 nor 1\.3, which clients need\)$/);
  });

  it('calls a closed port refused', async () => {
    await expect(connectTls(at(await freePort(), 'tls'), OPTIONS)).rejects.toThrow(new UnreachableError('connection refused'));
  });
});

describe('connectTls against misbehaving servers', () => {
  const servers: Server[] = [];
  afterAll(() => servers.forEach((server) => server.close()));

  /** A server that runs `script` for each connection. */
  async function serve(script: (socket: Socket) => void): Promise<number> {
    const server = createServer((socket) => {
      socket.on('error', () => undefined);
      script(socket);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as { port: number }).port;
  }

  it('gives up after the timeout on a server that never speaks', async () => {
    const port = await serve(() => undefined);
    await expect(connectTls(at(port, 'smtp'), { ...OPTIONS, timeoutMs: 300 })).rejects.toThrow(new UnreachableError('no TLS handshake within 0.3 s'));
    await expect(connectTls(at(port, 'tls'), { ...OPTIONS, timeoutMs: 300 })).rejects.toThrow(new UnreachableError('no TLS handshake within 0.3 s'));
  });

  it('refuses bytes sent after the go-ahead, before the handshake (STARTTLS injection)', async () => {
    const port = await serve((socket) => {
      socket.write('+OK ready\r\n');
      socket.once('data', () => socket.write('+OK begin TLS\r\n+OK injected\r\n'));
    });
    await expect(connectTls(at(port, 'pop3'), OPTIONS)).rejects.toThrow(new UnreachableError('protocol error: the server sent data after agreeing to start TLS', true));
  });

  it('shows what a wrong greeting said, escaped and cut short', async () => {
    const port = await serve((socket) => socket.end(`HTTP/1.1 400 Bad \u001b[31mRequest${'x'.repeat(300)}\r\n`));
    const error = (await connectTls(at(port, 'smtp'), OPTIONS).catch((caught: unknown) => caught)) as Error;
    expect(error).toBeInstanceOf(UnreachableError);
    expect(error.message).toMatch(/^protocol error: the server's answer is not SMTP: "HTTP\/1\.1 400 Bad \\e\[31mRequestx+\.\.\."$/);
  });

  it('reads multi-line SMTP replies and refuses a server that says goodbye', async () => {
    const port = await serve((socket) => {
      socket.write('220-mail.contoso.test ESMTP\r\n220 welcome\r\n');
      socket.once('data', () => socket.end('250-mail.contoso.test\r\n250-SIZE 1000\r\n250 STARTTLS\r\n'));
    });
    // STARTTLS is offered (on the last line), then the server closes instead of answering it.
    await expect(connectTls(at(port, 'smtp'), OPTIONS)).rejects.toThrow(new UnreachableError('protocol error: the server closed the connection before TLS started', true));
    const busy = await serve((socket) => socket.end('421 4.3.2 Service not available\r\n'));
    await expect(connectTls(at(busy, 'smtp'), OPTIONS)).rejects.toThrow(new UnreachableError('protocol error: the SMTP server greeted with 421 "4.3.2 Service not available" instead of 220', true));
  });

  it('refuses an IMAP server that greets with PREAUTH or BYE', async () => {
    const preauth = await serve((socket) => socket.write('* PREAUTH logged in\r\n'));
    await expect(connectTls(at(preauth, 'imap'), OPTIONS)).rejects.toThrow(/PREAUTH, after which STARTTLS is not allowed/);
    const bye = await serve((socket) => socket.end('* BYE too many connections\r\n'));
    await expect(connectTls(at(bye, 'imap'), OPTIONS)).rejects.toThrow('the IMAP server greeted with "* BYE too many connections" instead of "* OK"');
  });

  it('stops reading a server that never ends its line', async () => {
    const port = await serve((socket) => socket.write('+OK '.padEnd(20_000, 'x')));
    await expect(connectTls(at(port, 'pop3'), OPTIONS)).rejects.toThrow('protocol error: the server sent a line longer than 8192 bytes');
  });
});

describe('altNames', () => {
  it("reads Node's subjectaltname, quoted entries included", () => {
    expect(altNames('DNS:mail.contoso.com, DNS:*.contoso.com, IP Address:192.0.2.7, email:a@b.c, DNS:"we, ird\\u001b"')).toEqual(['mail.contoso.com', '*.contoso.com', '192.0.2.7', 'we, ird\u001b']);
    expect(altNames(undefined)).toEqual([]);
  });
});
