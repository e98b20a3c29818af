/**
 * `exch-cert verify-tls` as users run it, against real servers on loopback:
 * openssl s_server (implicit TLS), dovecot (IMAP/POP3, STARTTLS/STLS and
 * implicit TLS), aiosmtpd (SMTP STARTTLS). The test CA is trusted the way an
 * administrator trusts a private CA: NODE_EXTRA_CA_CERTS.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasAnsi, runCli, STACK_LINE } from '../helpers/cli.js';
import { createTestPki, DAY_MS, exportPfx, issueLeaf, type TestLeaf, type TestPki } from '../helpers/tls-certificates.js';
import { freePort, haveTlsServers, startDovecot, startOpenSslServer, startSmtpServer, type TestServer } from '../helpers/tls-servers.js';

interface EndpointJson {
  endpoint: string;
  protocol: string;
  verdict: string;
  problems: string[];
  certificate?: { thumbprint: string; subject: string; names: string[]; notAfter: string };
  nameMatches?: boolean;
  intermediatesSent?: boolean;
  trusted?: boolean;
  tlsVersion?: string;
  error?: string;
}

describe.skipIf(!haveTlsServers)('exch-cert verify-tls against real servers', () => {
  let dir: string;
  let pki: TestPki;
  let current: TestLeaf;
  let old: TestLeaf;
  const servers: TestServer[] = [];
  const port: Record<string, number> = {};
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'exch-cert-verify-tls-'));
    pki = createTestPki(join(dir, 'pki'));
    current = issueLeaf(pki, { names: ['mail.contoso.test', 'autodiscover.contoso.test'] });
    old = issueLeaf(pki, { names: ['mail.contoso.test'], notBefore: new Date(Date.now() - 300 * DAY_MS), notAfter: new Date(Date.now() + 20 * DAY_MS) });
    const wrongName = issueLeaf(pki, { names: ['other.fabrikam.test'] });
    const expired = issueLeaf(pki, { names: ['mail.contoso.test'], notBefore: new Date(Date.now() - 100 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) });
    const hostile = issueLeaf(pki, { names: ['mail.contoso.test'], commonName: 'evil\u001b[31m\u009b2J\u202egnp.exe' });
    const [https, leafOnly, another, wrong, stale, evil, dovecot, dovecotPlain, smtp, smtpPlain] = await Promise.all([
      startOpenSslServer({ cert: current.cert, key: current.key, chain: pki.intermediateCert }),
      startOpenSslServer({ cert: current.cert, key: current.key }),
      startOpenSslServer({ cert: old.cert, key: old.key, chain: pki.intermediateCert }),
      startOpenSslServer({ cert: wrongName.cert, key: wrongName.key, chain: pki.intermediateCert }),
      startOpenSslServer({ cert: expired.cert, key: expired.key, chain: pki.intermediateCert }),
      startOpenSslServer({ cert: hostile.cert, key: hostile.key, chain: pki.intermediateCert }),
      startDovecot(join(dir, 'dovecot'), { certChain: current.chain, key: current.key }),
      startDovecot(join(dir, 'dovecot-plain'), { tls: false }),
      startSmtpServer(join(dir, 'smtp'), { certChain: current.chain, key: current.key }),
      startSmtpServer(join(dir, 'smtp-plain'), { tls: false }),
    ]);
    servers.push(https, leafOnly, another, wrong, stale, evil, dovecot, dovecotPlain, smtp, smtpPlain);
    Object.assign(port, {
      https: https.port,
      leafOnly: leafOnly.port,
      another: another.port,
      wrong: wrong.port,
      expired: stale.port,
      hostile: evil.port,
      imap: dovecot.ports.imap,
      imaps: dovecot.ports.imaps,
      pop3: dovecot.ports.pop3,
      pop3s: dovecot.ports.pop3s,
      smtp: smtp.port,
      imapPlain: dovecotPlain.ports.imap,
      pop3Plain: dovecotPlain.ports.pop3,
      smtpPlain: smtpPlain.port,
      closed: await freePort(),
    });
    env = { NODE_EXTRA_CA_CERTS: pki.rootCert };
  });

  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  const verify = (ports: string, ...args: string[]) => runCli(['verify-tls', '127.0.0.1', '--servername', 'mail.contoso.test', '--port', ports, ...args], { env });
  const endpointsOf = (stdout: string) => (JSON.parse(stdout) as { endpoints: EndpointJson[] }).endpoints;
  const all = () => `${port['https']},${port['imap']}/imap,${port['imaps']},${port['pop3']}/pop3,${port['pop3s']},${port['smtp']}/smtp`;

  it('exit 0: every protocol serves the expected certificate (thumbprint pasted with colons, lower case)', () => {
    const pasted = current.thumbprint.toLowerCase().replace(/(..)(?!$)/g, '$1:');
    const result = verify(all(), '--expect', pasted, '--json');
    expect(result.stderr).toContain('6 of 6 endpoint(s) serve the expected certificate');
    expect(result.status).toBe(0);
    const endpoints = endpointsOf(result.stdout);
    expect(endpoints.map((e) => e.protocol)).toEqual(['tls', 'imap', 'tls', 'pop3', 'tls', 'smtp']);
    for (const endpoint of endpoints) {
      expect(endpoint).toMatchObject({ verdict: 'ok', problems: [], nameMatches: true, intermediatesSent: true, trusted: true });
      expect(endpoint.certificate).toMatchObject({ thumbprint: current.thumbprint, subject: 'CN=mail.contoso.test', names: ['mail.contoso.test', 'autodiscover.contoso.test'], notAfter: current.notAfter.toISOString() });
      expect(endpoint.tlsVersion).toMatch(/^TLSv1\.[23]$/);
    }
  });

  it('exit 0 with --pfx: the expected certificate read from the PFX', () => {
    const pfx = join(dir, 'current.pfx');
    writeFileSync(pfx, exportPfx(pki, current, 'pfx secret', { legacy: true }));
    const result = runCli(['verify-tls', '127.0.0.1', '--servername', 'mail.contoso.test', '--port', all(), '--pfx', pfx, '--json'], { env: { ...env, EXCH_CERT_PFX_PASSWORD: 'pfx secret' } });
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout).expected).toEqual({ thumbprint: current.thumbprint, source: pfx });
    expect(result.stdout + result.stderr).not.toContain('pfx secret');
  });

  it('exit 1: names the endpoint that serves another certificate and what it serves', () => {
    const result = verify(`${port['https']},${port['another']}`, '--expect', current.thumbprint);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain(`127.0.0.1:${port['another']}/tls  ANOTHER CERTIFICATE`);
    expect(result.stdout).toContain(`problem     serves ${old.thumbprint} (CN=mail.contoso.test) instead of ${current.thumbprint}`);
    expect(result.stderr).toContain(`1 of 2 endpoint(s) serve the expected certificate; another certificate on 127.0.0.1:${port['another']}/tls`);
  });

  it('exit 1: a certificate that does not name the host', () => {
    const result = verify(String(port['wrong']), '--json');
    expect(result.status).toBe(1);
    expect(endpointsOf(result.stdout)[0]).toMatchObject({ verdict: 'invalid', nameMatches: false, problems: ['the certificate is not valid for mail.contoso.test: it names other.fabrikam.test'] });
    // The right certificate, checked against another name.
    const other = runCli(['verify-tls', '127.0.0.1', '--servername', 'owa.contoso.test', '--port', String(port['https'])], { env });
    expect(other.status).toBe(1);
    expect(other.stdout).toContain('does not match owa.contoso.test');
  });

  it('exit 1: the server does not send the intermediate', () => {
    const result = verify(String(port['leafOnly']), '--expect', current.thumbprint, '--json');
    expect(result.status).toBe(1);
    const [endpoint] = endpointsOf(result.stdout);
    expect(endpoint).toMatchObject({ verdict: 'invalid', intermediatesSent: false, trusted: false });
    expect(endpoint?.certificate?.thumbprint).toBe(current.thumbprint);
    expect(endpoint?.problems[0]).toMatch(/^the server does not send the intermediate certificate/);
  });

  it('counts an intermediate in this machine trust store as present', () => {
    const bundle = join(dir, 'root-and-intermediate.pem');
    writeFileSync(bundle, [pki.rootCert, pki.intermediateCert].map((file) => readFileSync(file, 'utf8')).join(''));
    const result = runCli(['verify-tls', '127.0.0.1', '--servername', 'mail.contoso.test', '--port', String(port['leafOnly']), '--json'], { env: { NODE_EXTRA_CA_CERTS: bundle } });
    expect(endpointsOf(result.stdout)[0]).toMatchObject({ verdict: 'ok', intermediatesSent: true, trusted: true });
    expect(result.status).toBe(0);
  });

  it('exit 1: an expired certificate; exit 1 without the test CA trusted', () => {
    const expired = verify(String(port['expired']), '--json');
    expect(expired.status).toBe(1);
    expect(endpointsOf(expired.stdout)[0]?.problems).toEqual([expect.stringMatching(/^the certificate expired on \d{4}-/)]);
    const untrusted = runCli(['verify-tls', '127.0.0.1', '--servername', 'mail.contoso.test', '--port', String(port['https'])], {});
    expect(untrusted.status).toBe(1);
    expect(untrusted.stdout).toContain('not trusted (UNABLE_TO_GET_ISSUER_CERT_LOCALLY)');
  });

  it('exit 3: a closed port, and servers that do not offer STARTTLS/STLS', () => {
    const result = verify(`${port['https']},${port['closed']},${port['smtpPlain']}/smtp,${port['imapPlain']}/imap,${port['pop3Plain']}/pop3`, '--json');
    expect(result.status).toBe(3);
    const endpoints = endpointsOf(result.stdout);
    expect(endpoints.map((e) => e.verdict)).toEqual(['ok', 'unreachable', 'unreachable', 'unreachable', 'unreachable']);
    expect(endpoints[1]?.error).toBe('connection refused');
    expect(endpoints[2]?.error).toBe('protocol error: the SMTP server does not offer STARTTLS (it is not in its EHLO answer)');
    expect(endpoints[3]?.error).toMatch(/^protocol error: the IMAP server does not offer STARTTLS/);
    expect(endpoints[4]?.error).toMatch(/^protocol error: the POP3 server does not offer STLS/);
    expect(result.stderr).toContain(`could not check 127.0.0.1:${port['closed']}/tls`);
  });

  it('exit 3 after the timeout when a server never answers', async () => {
    const silent: Server = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const result = verify(`${(silent.address() as { port: number }).port}/smtp`, '--timeout', '0.5');
      expect(result.status).toBe(3);
      expect(result.stdout).toContain('problem     cannot be checked: no TLS handshake within 0.5 s');
    } finally {
      silent.close();
    }
  });

  it('exit 1 wins over 3: a wrong certificate is a finding, an unreachable port is not', () => {
    expect(verify(`${port['another']},${port['closed']}`, '--expect', current.thumbprint).status).toBe(1);
  });

  it('prints a readable block per endpoint on stdout, no colours without a terminal', () => {
    const result = verify(`${port['https']},${port['smtp']}/smtp`);
    expect(result.status).toBe(0);
    expect(hasAnsi(result.stdout + result.stderr)).toBe(false);
    const days = Math.floor((current.notAfter.getTime() - Date.now()) / DAY_MS);
    expect(result.stdout).toContain(
      [
        `127.0.0.1:${port['smtp']}/smtp  OK`,
        `  thumbprint  ${current.thumbprint}`,
        '  subject     CN=mail.contoso.test',
        '  names       mail.contoso.test, autodiscover.contoso.test',
        '  issuer      CN=exch-cert Test Issuing CA, O=exch-cert tests',
        `  expires     ${current.notAfter.toISOString().slice(0, 19).replace('T', ' ')} UTC (${days} days)`,
        '  name        matches mail.contoso.test',
        '  chain       intermediates sent, trusted',
      ].join('\n'),
    );
    expect(result.stderr).toBe('exch-cert verify-tls: 2 of 2 endpoint(s) serve a valid certificate\n');
  });

  it('never lets control characters from a certificate reach the terminal', () => {
    for (const format of [[], ['--json']]) {
      const result = verify(String(port['hostile']), ...format);
      expect(result.status).toBe(0);
      expect(result.stdout).not.toMatch(/[\u001b\u009b\u202e]/);
      expect(result.stdout).toContain(format.length > 0 ? 'evil\\u001b[31m\\u009b2J\\u202egnp.exe' : 'CN=evil\\e[31m\\u009b2J\\u202egnp.exe');
    }
    const json = JSON.parse(verify(String(port['hostile']), '--json').stdout) as { endpoints: EndpointJson[] };
    expect(json.endpoints[0]?.certificate?.subject).toBe('CN=evil\u001b[31m\u009b2J\u202egnp.exe');
  });

  it('checks the default ports 443, 993, 995, 587, 25 with their protocols', () => {
    const result = runCli(['verify-tls', '127.0.0.1', '--timeout', '2', '--json'], { env });
    expect(endpointsOf(result.stdout).map((e) => `${e.endpoint.replace('127.0.0.1:', '')}/${e.protocol}`)).toEqual(['443/tls', '993/tls', '995/tls', '587/smtp', '25/smtp']);
  });
});

describe('exch-cert verify-tls usage errors (exit 2, no stack trace)', () => {
  it.each([
    [['verify-tls', 'mail.contoso.test', '--expect', 'A'.repeat(40), '--pfx', 'x.pfx'], /option '--expect <THUMBPRINT>' cannot be used with option '--pfx <FILE>'/],
    [['verify-tls', 'mail.contoso.test', '--expect', '12:34'], /--expect: "12:34" is not a SHA-1 thumbprint/],
    [['verify-tls', 'mail.contoso.test', '--port', '443/ftp'], /--port: "ftp" in "443\/ftp" is not a protocol: use tls, smtp, imap, pop3/],
    [['verify-tls', 'mail contoso', '--port', '443'], /HOST: "mail contoso" is not a host name/],
    [['verify-tls', 'mail.contoso.test', '--timeout', '0'], /--timeout: "0" is not a number of seconds/],
    [['verify-tls', 'mail.contoso.test', '--pfx', 'missing.pfx'], /--pfx: set EXCH_CERT_PFX_PASSWORD/],
  ])('%j', (args, message) => {
    const result = runCli(args);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(STACK_LINE);
    expect(result.stdout).toBe('');
  });

  it('says which PFX cannot be read, and why', () => {
    const dir = mkdtempSync(join(tmpdir(), 'exch-cert-verify-tls-pfx-'));
    try {
      writeFileSync(join(dir, 'bad.pfx'), 'not a pfx');
      const missing = runCli(['verify-tls', 'mail.contoso.test', '--pfx', 'nope.pfx'], { cwd: dir, env: { EXCH_CERT_PFX_PASSWORD: 'x' } });
      expect(missing).toMatchObject({ status: 2, stdout: '' });
      expect(missing.stderr).toContain('--pfx: cannot read "nope.pfx": no such file');
      const bad = runCli(['verify-tls', 'mail.contoso.test', '--pfx', 'bad.pfx'], { cwd: dir, env: { EXCH_CERT_PFX_PASSWORD: 'x' } });
      expect(bad.status).toBe(2);
      expect(bad.stderr).toContain('--pfx "bad.pfx": not a PKCS #12 (PFX) file');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
