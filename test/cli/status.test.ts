/**
 * `exch-cert status` as Nagios or Icinga runs it, against real servers on
 * loopback serving 47-, 100- and 398-day certificates one day either side of
 * each threshold (half a day more than the whole days, so the test's own
 * running time cannot move a certificate across one).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusCommand } from '../../src/cli/commands/status.js';
import { UnreachableError } from '../../src/tls/connect.js';
import { runCli, STACK_LINE } from '../helpers/cli.js';
import { createTestPki, DAY_MS, issueLeaf, type TestPki } from '../helpers/tls-certificates.js';
import { freePort, haveTlsServers, startOpenSslServer, startSmtpServer, type TestServer } from '../helpers/tls-servers.js';

// [lifetime days, whole days left, state]
const CASES = [
  [47, 16, 'OK'],
  [47, 15, 'WARNING'],
  [47, 8, 'WARNING'],
  [47, 7, 'CRITICAL'],
  [100, 30, 'OK'],
  [100, 29, 'WARNING'],
  [100, 14, 'WARNING'],
  [100, 13, 'CRITICAL'],
  [398, 30, 'OK'],
  [398, 29, 'WARNING'],
  [398, 14, 'WARNING'],
  [398, 13, 'CRITICAL'],
] as const;

interface StatusJson {
  state: string;
  exitCode: number;
  endpoints: Array<{ label: string; state: string; daysLeft?: number; warningDays?: number; criticalDays?: number; lifetimeDays?: number; reason?: string }>;
}

describe.skipIf(!haveTlsServers)('exch-cert status against real servers', () => {
  let dir: string;
  let pki: TestPki;
  const servers: TestServer[] = [];
  /** `127.0.0.1:PORT` per case, in CASES order. */
  let targets: string[] = [];
  let expiredTarget: string;
  let smtpTarget: string;
  let closedTarget: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'exch-cert-status-'));
    pki = createTestPki(join(dir, 'pki'));
    const now = Date.now();
    const leaves = CASES.map(([lifetime, left]) => {
      const notAfter = new Date(now + (left + 0.5) * DAY_MS);
      return issueLeaf(pki, { names: ['mail.contoso.test'], notBefore: new Date(notAfter.getTime() - lifetime * DAY_MS), notAfter });
    });
    const expired = issueLeaf(pki, { names: ['mail.contoso.test'], notBefore: new Date(now - 100.5 * DAY_MS), notAfter: new Date(now - 2.5 * DAY_MS) });
    const started = await Promise.all([...leaves, expired].map((leaf) => startOpenSslServer({ cert: leaf.cert, key: leaf.key, chain: pki.intermediateCert })));
    servers.push(...started);
    targets = started.slice(0, CASES.length).map((server) => `127.0.0.1:${server.port}`);
    expiredTarget = `127.0.0.1:${started[CASES.length]!.port}`;
    const smtp = await startSmtpServer(join(dir, 'smtp'), { certChain: leaves[0]!.chain, key: leaves[0]!.key });
    servers.push(smtp);
    smtpTarget = `127.0.0.1:${smtp.port}/smtp`;
    closedTarget = `127.0.0.1:${await freePort()}`;
  });

  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  const status = (...args: string[]) => runCli(['status', ...args], { env: { NODE_EXTRA_CA_CERTS: pki.rootCert } });

  it('judges 47-, 100- and 398-day certificates at each threshold of their lifetime', () => {
    const result = status(...targets, '--json');
    expect(result.status).toBe(2);
    const json = JSON.parse(result.stdout) as StatusJson;
    expect(json).toMatchObject({ state: 'CRITICAL', exitCode: 2 });
    expect(json.endpoints.map((e) => [e.lifetimeDays, e.daysLeft, e.state])).toEqual(CASES.map((c) => [...c]));
    expect(json.endpoints[0]).toMatchObject({ warningDays: 47 / 3, criticalDays: 47 / 6 });
    expect(json.endpoints[11]).toMatchObject({ warningDays: 30, criticalDays: 14 });
  });

  it.each([
    ['OK', 0, [0, 4, 8]],
    ['WARNING', 1, [0, 1, 2, 5, 6, 9, 10]],
    ['CRITICAL', 2, [1, 3, 9]],
  ] as const)('exits %s (%i) when the worst endpoint is', (state, code, picks) => {
    const result = status(...picks.map((i) => targets[i]!));
    expect(result.status).toBe(code);
    expect(result.stdout.startsWith(`EXCH-CERT ${state} - `)).toBe(true);
  });

  it('prints one status line and performance data in the plugin format', () => {
    const result = status(targets[0]!, targets[9]!);
    expect(result.status).toBe(1);
    const date = (i: number) => new Date(Date.now() + (CASES[i]![1] + 0.5) * DAY_MS).toISOString().slice(0, 10);
    expect(result.stdout).toBe(
      `EXCH-CERT WARNING - ${targets[9]} expires ${date(9)} (29 days: WARNING); ${targets[0]} expires ${date(0)} (16 days) | '${targets[0]}'=16d;15.67;7.83;0;47 '${targets[9]}'=29d;30;14;0;398\n`,
    );
    expect(result.stderr).toBe('');
  });

  it('reads SMTP STARTTLS targets', () => {
    const result = status(smtpTarget);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^EXCH-CERT OK - 127\.0\.0\.1:\d+ expires \d{4}-\d\d-\d\d \(16 days\) \| '127\.0\.0\.1:\d+'=16d;15\.67;7\.83;0;47\n$/);
  });

  it('is CRITICAL for an expired certificate', () => {
    const result = status(expiredTarget);
    expect(result.status).toBe(2);
    expect(result.stdout).toMatch(/^EXCH-CERT CRITICAL - 127\.0\.0\.1:\d+ expired \d{4}-\d\d-\d\d \(3 days ago: CRITICAL\) \| '127\.0\.0\.1:\d+'=-3d;30;14;0;98\n$/);
  });

  it('takes fixed --warning and --critical days instead of the lifetime', () => {
    // 16 days left of 47: OK by lifetime, WARNING below 20, CRITICAL below 17.
    expect(status(targets[0]!, '--warning', '20').status).toBe(1);
    const critical = status(targets[0]!, '--warning', '20', '--critical', '17');
    expect(critical.status).toBe(2);
    expect(critical.stdout).toContain(`'${targets[0]}'=16d;20;17;0;47`);
  });

  it('is UNKNOWN (3) when an endpoint cannot be reached, unless another is worse', () => {
    const unknown = status(targets[0]!, closedTarget);
    expect(unknown.status).toBe(3);
    expect(unknown.stdout).toMatch(new RegExp(`^EXCH-CERT UNKNOWN - ${closedTarget} unreachable: connection refused; ${targets[0]} expires .* \\| '${targets[0]}'=16d;15\\.67;7\\.83;0;47\\n$`));
    expect(status(targets[3]!, closedTarget).status).toBe(2);
  });
});

describe('exch-cert status: every failure is UNKNOWN, without a stack trace', () => {
  it.each([
    [['status'], 'EXCH-CERT UNKNOWN - give at least one TARGET (HOST[:PORT[/PROTO]]) or --server NAME\n'],
    [['status', 'mail.contoso.test', '--bogus'], "EXCH-CERT UNKNOWN - unknown option '--bogus'\n"],
    [['status', 'mail contoso:443'], 'EXCH-CERT UNKNOWN - TARGET "mail contoso" is not a host name or IP address\n'],
    [['status', 'mail.contoso.test:'], 'EXCH-CERT UNKNOWN - TARGET "mail.contoso.test:" is not HOST[:PORT[/PROTO]] (IPv6 addresses in brackets: [::1]:443)\n'],
    [['status', 'mail.contoso.test:443/ftp'], 'EXCH-CERT UNKNOWN - TARGET "ftp" in "443/ftp" is not a protocol: use tls, smtp, imap, pop3\n'],
    [['status', 'mail.contoso.test', '--warning', 'soon'], 'EXCH-CERT UNKNOWN - --warning: "soon" is not a number of days\n'],
    [['status', 'mail.contoso.test', '--warning', '5', '--critical', '10'], 'EXCH-CERT UNKNOWN - --warning (5) must not be below --critical (10)\n'],
    [['status', 'x|y\u001b'], 'EXCH-CERT UNKNOWN - TARGET "x\\u007cy\\e" is not a host name or IP address\n'],
  ])('%j', (args, line) => {
    const result = runCli(args);
    expect(result.status).toBe(3);
    expect(result.stdout).toBe(line);
    expect(result.stderr).not.toMatch(STACK_LINE);
  });

  it('reports a bug as UNKNOWN too, with its message and no stack', async () => {
    let stdout = '';
    const io = { stdout: { write: (text: string) => (stdout += text) }, stderr: { write: () => true }, env: {}, cwd: '/' };
    const code = await statusCommand(['mail.contoso.test'], { timeout: '10' }, io, () => Promise.reject(new TypeError("Cannot read properties of undefined (reading 'raw')")));
    expect(code).toBe(3);
    expect(stdout).toBe("EXCH-CERT UNKNOWN - internal error: Cannot read properties of undefined (reading 'raw')\n");
  });

  it('reports a bug while reading the store as UNKNOWN for the store, and still judges the endpoints', async () => {
    let stdout = '';
    const io = { stdout: { write: (text: string) => (stdout += text) }, stderr: { write: () => true }, env: {}, cwd: '/' };
    const refused = () => Promise.reject(new UnreachableError('connection refused'));
    const code = await statusCommand(['mail.contoso.test'], { timeout: '10', server: 'EXCH01' }, io, refused, () => Promise.reject(new TypeError('x is not a function')));
    expect(code).toBe(3);
    expect(stdout).toBe('EXCH-CERT UNKNOWN - mail.contoso.test:443 unreachable: connection refused; EXCH01 certificate store: cannot be read: internal error: x is not a function\n');
  });

  it('--help still exits 0', () => {
    expect(runCli(['status', '--help']).status).toBe(0);
  });
});
