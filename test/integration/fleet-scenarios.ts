/**
 * Every server behind the namespace in one run, maintenance mode, and the Edge Transport renewal:
 * exch-cert, node-powershell and a real PowerShell 7 against one simulated organisation (five
 * Mailbox servers and an Edge), in-process (fleet.in-process.test.ts) and through real PowerShell
 * remoting (fleet.remoting.test.ts, the scenarios marked for it: a fleet run takes a session per
 * server, so the remoting runs are the few that show what only remoting can).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, STACK_LINE } from '../helpers/cli.js';
import { CliProcess } from '../helpers/cli-process.js';
import { readPfx } from '../helpers/pfx.js';
import { pwshPath } from '../helpers/pwsh.js';
import { binding, editSimState, readSimState, serverOf, type SimServer } from '../helpers/sim-state.js';
import type { SimulatorMode, Workspace } from '../helpers/simulator-modes.js';
import { createTestPki, exportPfx, issueLeaf } from '../helpers/tls-certificates.js';
import { startOpenSslServer, type TestServer } from '../helpers/tls-servers.js';

const PFX_PASSWORD = 'Fleet pfx: ‘quoted’ $(x) `n';
const BACKUP_PASSWORD = 'Fleet-Backup-S3cret!"§';
const EDGE_ACCOUNT = { user: 'EDGE01\\Administrator', password: 'Edge acc0unt ‘pass’' };
const SECRETS = [PFX_PASSWORD, BACKUP_PASSWORD, EDGE_ACCOUNT.password];
const FQDN = 'mail.contoso.com';
const SERVERS = ['EXCH01', 'EXCH02', 'EXCH03', 'EXCH04', 'EXCH05'];
const haveOpenSsl = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;

let fixture: string;

/** Server records as the state file keeps them, with the parts these scenarios read. */
type OrgServer = SimServer & {
  readonly componentStates: Array<{ readonly component: string; readonly requesters: Array<{ readonly requester: string; readonly state: string }> }>;
  readonly queues: Array<{ readonly identity: string; readonly messageCount: number }>;
  readonly transport: { readonly internalTransportCertificateThumbprint: string; readonly redirectTarget: string };
  readonly edge?: { readonly bootstrap: unknown };
};
interface Org {
  readonly organization: { readonly edgeSubscriptions: Array<{ readonly name: string; readonly certificateThumbprint: string }>; readonly sendConnectors: Array<{ readonly name: string }> };
  readonly calls: Array<{ readonly command: string; readonly server?: string }>;
}
const org = (ws: Workspace): Org => readSimState(ws.state) as unknown as Org;
const server = (ws: Workspace, name: string): OrgServer => serverOf(readSimState(ws.state), name) as OrgServer;
const publicCertificate = (record: SimServer): string | undefined => record.certificates.find((c) => c.subject.startsWith(`CN=${FQDN}`))?.thumbprint;

function workspace(edit?: (state: ReturnType<typeof readSimState>) => void): Workspace {
  const dir = mkdtempSync(join(tmpdir(), 'exch-cert-fleet-'));
  cpSync(fixture, join(dir, 'sim'), { recursive: true });
  const state = join(dir, 'sim', 'state.json');
  if (edit) editSimState(state, edit);
  return { dir, state, pfx: join(dir, 'sim', `renewed-${FQDN}.pfx`) };
}

const newThumbprint = (ws: Workspace): string => readPfx(readFileSync(ws.pfx), PFX_PASSWORD).thumbprint;

/** Runs exch-cert to its end (a fleet run can outlast runCli's minute). */
async function cli(args: readonly string[], ws: Workspace, env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const run = new CliProcess([...args, '--shell', pwshPath ?? 'pwsh'], { env: { EXCH_CERT_PFX_PASSWORD: PFX_PASSWORD, EXCH_CERT_BACKUP_PASSWORD: BACKUP_PASSWORD, ...env }, cwd: ws.dir });
  const status = await run.exited;
  return { status, stdout: run.stdout, stderr: run.stderr };
}

/** The journals of the workspace: the fleet run's (its first line says so) and each server run's. */
function journals(ws: Workspace): { fleet: Array<Record<string, unknown>>; fleetId: string; servers: Map<string, Array<Record<string, unknown>>> } {
  const dir = join(ws.dir, '.exch-cert', 'runs');
  const read = (file: string): Array<Record<string, unknown>> => readFileSync(join(dir, file), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  const files = readdirSync(dir).filter((file) => file.endsWith('.jsonl')).sort();
  const fleets = files.filter((file) => read(file)[0]?.['type'] === 'fleet-started');
  const last = fleets.at(-1);
  if (!last) throw new Error('no fleet journal');
  const fleetId = last.replace(/\.jsonl$/, '');
  const servers = new Map(files.filter((file) => file.startsWith(`${fleetId}-`)).map((file) => [file.slice(fleetId.length + 1, -'.jsonl'.length), read(file)]));
  return { fleet: read(last), fleetId, servers };
}

const steps = (journal: Array<Record<string, unknown>> | undefined): string[] => (journal ?? []).filter((event) => event['type'] === 'step-finished').map((event) => `${String(event['stepId'])}:${String(event['status'])}`);
const outcomes = (fleet: Array<Record<string, unknown>>): unknown => (fleet.at(-1)?.['servers'] as Array<Record<string, unknown>> | undefined)?.map((entry) => `${String(entry['server'])}:${String(entry['outcome'])}`);

function expectNoSecrets(...texts: string[]): void {
  for (const text of texts) for (const secret of SECRETS) expect(text).not.toContain(secret);
}

/** The fleet and Edge scenarios for one way of reaching the simulator; `remoting` picks the few that also run through remoting. */
export function describeFleetScenarios(mode: SimulatorMode, remoting: boolean): void {
  const all = !remoting;
  // Through remoting the simulated servers' names are not in DNS, and they serve no TLS: no check.
  const tls = remoting ? ['--verify-ports', 'none'] : [];
  const renew = (ws: Workspace, servers: string, ...extra: string[]): string[] => ['renew', '--server', servers, '--pfx', ws.pfx, '--fqdn', FQDN, ...mode.target(ws), ...tls, '--yes', ...extra];

  describe.skipIf(!mode.available)(`several servers, maintenance mode and the Edge, ${mode.name}`, { timeout: 300_000 }, () => {
    beforeAll(async () => {
      await mode.setUp();
      fixture = mkdtempSync(join(tmpdir(), 'exch-cert-fleet-fixture-'));
      // Every command reads and writes the whole state file: through remoting, where the runs are slower, three servers will do.
      const init = runCli(['simulator', 'init', '--dir', fixture, '--servers', SERVERS.slice(0, remoting ? 3 : 5).join(','), '--edge', 'EDGE01', '--fqdn', FQDN, '--layout', 'seed', '--shell', pwshPath ?? 'pwsh'], { env: { EXCH_CERT_PFX_PASSWORD: PFX_PASSWORD } });
      expect(init.status, init.stderr).toBe(0);
    });
    afterAll(async () => mode.tearDown());

    it.runIf(all)('renews five servers, the canary alone first, then at most three at once, each with its own session and journal', async () => {
      const ws = workspace();
      const before = SERVERS.map((name) => publicCertificate(server(ws, name)));
      const result = await cli(renew(ws, SERVERS.join(','), '--max-parallel', '3'), ws);
      expect(result.status, result.stderr).toBe(0);
      expect(result.stderr).toContain('done: 5 of 5 server(s) renewed');
      const renewed = newThumbprint(ws);
      for (const [index, name] of SERVERS.entries()) {
        const after = server(ws, name);
        expect(binding(after, 'Default Web Site', '*:443:'), name).toBe(renewed);
        expect(after.certificates.some((c) => c.thumbprint === before[index]), name).toBe(false);
        expect(after.imap.activeCertificateName, name).toBe(FQDN);
      }
      const { fleet, servers } = journals(ws);
      expect(outcomes(fleet)).toEqual(SERVERS.map((name) => `${name}:renewed`));
      expect([...servers.keys()].sort()).toEqual(SERVERS.map((name) => name.toLowerCase()));
      // When each server's renewal ran, from its journal: the canary before all others, then three lanes.
      const spans = SERVERS.map((name) => {
        const events = servers.get(name.toLowerCase()) ?? [];
        return { name, from: Date.parse(String(events[0]?.['ts'])), to: Date.parse(String(events.at(-1)?.['ts'])) };
      });
      const [canary, ...rest] = spans;
      for (const span of rest) expect(span.from).toBeGreaterThan(canary?.to ?? Infinity);
      const overlap = Math.max(...rest.map((span) => rest.filter((other) => other.from <= span.from && other.to >= span.from).length));
      expect(overlap).toBeGreaterThanOrEqual(2);
      expect(overlap).toBeLessThanOrEqual(3);
      expectNoSecrets(result.stdout, result.stderr, JSON.stringify(fleet), JSON.stringify([...servers.values()]));
    });

    it('with --drain takes each server out of service around its renewal and brings it back: queues drained to another server, every component Active', async () => {
      const ws = workspace();
      const result = await cli(renew(ws, 'EXCH01,EXCH02', '--drain', '--var', 'queuePollSeconds=1'), ws);
      expect(result.status, result.stderr).toBe(0);
      expect(result.stderr).toContain('done: 2 of 2 server(s) renewed');
      if (remoting) expect(result.stderr).toContain('EXCH01  TLS (the canary): not checked: --verify-ports none');
      const renewed = newThumbprint(ws);
      for (const name of ['EXCH01', 'EXCH02']) {
        const after = server(ws, name);
        expect(binding(after, 'Default Web Site', '*:443:'), name).toBe(renewed);
        expect(after.componentStates.flatMap((entry) => entry.requesters.filter((requester) => requester.state !== 'Active').map((requester) => `${entry.component}:${requester.state}`)), name).toEqual([]);
        expect(after.transport.redirectTarget, name).toBe('');
        expect(after.queues.filter((queue) => !/\\(Poison|Submission)$/.test(queue.identity)).map((queue) => queue.messageCount), name).toEqual([0, 0, 0]);
      }
      // EXCH02 drained into the renewed canary, which has its messages to deliver.
      expect(server(ws, 'EXCH01').queues.find((queue) => queue.identity === 'EXCH01\\Submission')?.messageCount).toBeGreaterThan(0);
      expect(binding(server(ws, 'EXCH03'), 'Default Web Site', '*:443:')).not.toBe(renewed);
      const { servers } = journals(ws);
      expect(steps(servers.get('exch01')).slice(0, 8)).toEqual(['components-before:ok', 'preflight:ok', 'probe:ok', 'backup-old:ok', 'drain-transport:changed', 'redirect-messages:changed', 'wait-for-queues:ok', 'server-offline:changed']);
      expect(steps(servers.get('exch02'))).toContain('server-online:changed');
      // The canary's messages went to EXCH02, and EXCH02's back to the renewed canary.
      const redirects = org(ws).calls.filter((call) => call.command === 'Redirect-Message');
      expect(redirects.map((call) => `${call.server ?? ''}>${String((call as { parameters?: { Target?: unknown } }).parameters?.Target)}`)).toEqual(['EXCH01>EXCH02.contoso.com', 'EXCH02>EXCH01.contoso.com']);
    });

    it.runIf(all)('with --drain and queues that do not empty: stops at the timeout, brings the server back, changes nothing of the renewal, starts no other', async () => {
      const ws = workspace((state) => (state.faults = [{ command: 'Get-Queue', action: 'stuck', server: 'EXCH01' }]));
      const before = server(ws, 'EXCH01');
      const result = await cli(renew(ws, 'EXCH01,EXCH02', '--drain', '--queue-timeout', '3', '--var', 'queuePollSeconds=1'), ws);
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/the queues of EXCH01 did not empty within 3 s: EXCH01\\1 \(Active\): 8 message\(s\)/);
      const { fleet, servers } = journals(ws);
      expect(outcomes(fleet)).toEqual(['EXCH01:failed', 'EXCH02:not-started']);
      expect(steps(servers.get('exch01')).filter((step) => step.startsWith('rollback-'))).toEqual(['rollback-iis-reset:skipped', 'rollback-server-online:ok', 'rollback-transport-active:changed', 'rollback-components-active:ok']);
      const after = server(ws, 'EXCH01');
      expect(after.certificates).toEqual(before.certificates);
      expect(after.componentStates.flatMap((entry) => entry.requesters.filter((requester) => requester.state !== 'Active'))).toEqual([]);
      expect(result.stderr).not.toContain('still in maintenance');
      expect(servers.has('exch02')).toBe(false);
    });

    it.runIf(all)('refuses a server the organisation does not have before anything runs on any server', async () => {
      const ws = workspace();
      const before = SERVERS.map((name) => JSON.stringify(server(ws, name).certificates));
      const result = await cli(renew(ws, 'EXCH01,EXCH09,EXCH02'), ws);
      expect(result.status).toBe(2);
      expect(result.stderr).toContain('EXCH09 is not a Mailbox server of this organisation: Get-ExchangeServer on EXCH01 lists EXCH01, EXCH02, EXCH03, EXCH04, EXCH05 (Edge Transport: EDGE01); nothing was changed');
      expect(result.stderr).not.toMatch(STACK_LINE);
      expect(SERVERS.map((name) => JSON.stringify(server(ws, name).certificates))).toEqual(before);
      expect(org(ws).calls.map((call) => call.command)).toEqual(['Get-ExchangeServer']);
      const edge = await cli(renew(ws, 'EXCH01,EDGE01'), ws);
      expect(edge.status).toBe(2);
      expect(edge.stderr).toContain('EDGE01 is an Edge Transport server; a renewal of the Mailbox servers never includes it');
    });

    it.runIf(all)('after a failure on the second server: the first stays renewed, the rest never start, the summary and exit code say so; --resume finishes', async () => {
      const ws = workspace((state) => (state.faults = [{ command: 'Enable-ExchangeCertificate', action: 'throw', message: 'The certificate store of EXCH02 is busy', server: 'EXCH02', times: 1 }]));
      const renewed = newThumbprint(ws);
      const old = publicCertificate(server(ws, 'EXCH02'));
      const result = await cli(renew(ws, 'EXCH01,EXCH02,EXCH03'), ws);
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('The certificate store of EXCH02 is busy');
      expect(result.stderr).toMatch(/EXCH01 +renewed +0 +\.exch-cert\/runs\/\S+-exch01\.jsonl/);
      expect(result.stderr).toMatch(/EXCH02 +failed +1 +\.exch-cert\/runs\/\S+-exch02\.jsonl/);
      expect(result.stderr).toMatch(/EXCH03 +not-started +- *\n/);
      expect(result.stderr).toMatch(/failed: 1 of 3 server\(s\) renewed; EXCH02 was not renewed\. resume with --resume (\S+) \(/);
      expect(binding(server(ws, 'EXCH01'), 'Default Web Site', '*:443:')).toBe(renewed);
      expect(binding(server(ws, 'EXCH02'), 'Default Web Site', '*:443:')).toBe(old);
      expect(binding(server(ws, 'EXCH03'), 'Default Web Site', '*:443:')).toBe(old);
      const first = journals(ws);
      expect(outcomes(first.fleet)).toEqual(['EXCH01:renewed', 'EXCH02:failed', 'EXCH03:not-started']);

      const resumed = await cli(renew(ws, 'EXCH01,EXCH02,EXCH03', '--resume', first.fleetId), ws);
      expect(resumed.status, resumed.stderr).toBe(0);
      expect(resumed.stderr).toContain(`resuming fleet run ${first.fleetId} as fleet run`);
      const second = journals(ws);
      expect(outcomes(second.fleet)).toEqual(['EXCH01:done-before', 'EXCH02:renewed', 'EXCH03:renewed']);
      for (const name of ['EXCH01', 'EXCH02', 'EXCH03']) expect(binding(server(ws, name), 'Default Web Site', '*:443:'), name).toBe(renewed);
      // One import per server in all: EXCH01 was not renewed again, and EXCH02's certificate, imported by the first run, was not imported twice.
      expect(org(ws).calls.filter((call) => call.command === 'Import-ExchangeCertificate').map((call) => call.server)).toEqual(['EXCH01', 'EXCH02', 'EXCH03']);
      expectNoSecrets(result.stderr, resumed.stderr, JSON.stringify(second.fleet));
    });

    it('renews an Edge Transport server and re-creates its subscription: the file travels as data, EdgeSync Normal, then the old certificate goes', async () => {
      const ws = workspace();
      const edgeBefore = server(ws, 'EDGE01');
      const old = edgeBefore.transport.internalTransportCertificateThumbprint;
      const renewed = newThumbprint(ws);
      const account = mode.name.startsWith('in-process') ? [] : ['--credential-env', 'EDGE_USER,EDGE_PASS', '--var', `subscriptionFile=${join(ws.dir, 'edge', 'EdgeSubscription.xml')}`];
      const args = ['renew-edge', '--edge', 'EDGE01', '--mailbox', 'EXCH01', '--pfx', ws.pfx, '--fqdn', FQDN, ...mode.target(ws, { accounts: { EDGE01: EDGE_ACCOUNT } }), ...account, '--yes'];
      if (account.length > 0) {
        // Through remoting the Edge wants its own account, and nothing happens without it.
        const refused = await cli(args, ws, { EDGE_USER: EDGE_ACCOUNT.user, EDGE_PASS: 'not the password' });
        expect(refused.status).not.toBe(0);
        expect(refused.stderr).toContain('Access is denied');
        expect(server(ws, 'EDGE01').certificates).toEqual(edgeBefore.certificates);
      }
      const earlierCalls = org(ws).calls.length;
      const result = await cli(args, ws, { EDGE_USER: EDGE_ACCOUNT.user, EDGE_PASS: EDGE_ACCOUNT.password });
      expect(result.status, result.stderr).toBe(0);
      const edge = server(ws, 'EDGE01');
      expect(edge.transport.internalTransportCertificateThumbprint).toBe(renewed);
      expect(edge.certificates.map((c) => c.thumbprint)).not.toContain(old);
      expect(org(ws).organization.edgeSubscriptions).toMatchObject([{ name: 'EDGE01', certificateThumbprint: renewed }]);
      expect(org(ws).organization.sendConnectors.map((c) => c.name)).toEqual(['EdgeSync - Default-First-Site-Name to Internet', 'EdgeSync - Inbound to Default-First-Site-Name']);
      expect(readPfx(readFileSync(join(ws.dir, 'sim', 'backup', `${old}.pfx`)), BACKUP_PASSWORD)).toMatchObject({ thumbprint: old, hasPrivateKey: true });
      // The file, which holds the bootstrap account's password, is gone once it served.
      expect(existsSync(join(ws.dir, account.length > 0 ? 'edge' : 'sim/edge', 'EdgeSubscription.xml'))).toBe(false);
      const calls = org(ws).calls.slice(earlierCalls).filter((call) => ['New-EdgeSubscription', 'Remove-EdgeSubscription', 'Test-EdgeSynchronization', 'Remove-ExchangeCertificate'].includes(call.command));
      expect(calls.map((call) => `${call.command}@${call.server ?? ''}`)).toEqual([
        'Test-EdgeSynchronization@EXCH01',
        'New-EdgeSubscription@EDGE01',
        'Remove-EdgeSubscription@EXCH01',
        'New-EdgeSubscription@EXCH01',
        'Test-EdgeSynchronization@EXCH01',
        'Remove-ExchangeCertificate@EDGE01',
      ]);
      const runs = readdirSync(join(ws.dir, '.exch-cert', 'runs')).filter((file) => file.endsWith('.jsonl'));
      const journal = runs.map((file) => readFileSync(join(ws.dir, '.exch-cert', 'runs', file), 'utf8')).join('');
      expect(journal).not.toContain('ESRA');
      expect(journal).not.toContain('<EdgeSubscriptionData>');
      expectNoSecrets(result.stdout, result.stderr, journal);
    });

    it.runIf(all)('a subscription file that reaches the Mailbox side too late changes nothing there: the Edge gets its old certificate back, EdgeSync stays Normal', async () => {
      // The Edge is not in the domain and its clock is a day behind: its file's bootstrap account has expired when it arrives.
      const ws = workspace((state) => {
        (serverOf(state, 'EDGE01') as unknown as { clockOffsetSeconds: number }).clockOffsetSeconds = -25 * 3600;
      });
      const old = server(ws, 'EDGE01').transport.internalTransportCertificateThumbprint;
      const result = await cli(['renew-edge', '--edge', 'EDGE01', '--mailbox', 'EXCH01', '--pfx', ws.pfx, '--fqdn', FQDN, ...mode.target(ws), '--yes'], ws);
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/the subscription file of EDGE01 came too late: its bootstrap account expires at \S+\. Nothing was changed here; run the renewal again \(not --resume\)/);
      expect(org(ws).organization.edgeSubscriptions).toMatchObject([{ name: 'EDGE01', certificateThumbprint: old }]);
      expect(server(ws, 'EDGE01').transport.internalTransportCertificateThumbprint).toBe(old);
      expect(org(ws).calls.some((call) => call.command === 'Remove-EdgeSubscription')).toBe(false);
      expect(result.stderr).toMatch(/sync-after-rollback: .* ok in/);
    });

    describe.runIf(all && haveOpenSsl)('the TLS check, against real handshakes', () => {
      const servers: TestServer[] = [];
      afterAll(async () => {
        for (const each of servers) await each.stop();
      });

      it('passes the canary that serves the new certificate, and names the server that still serves another one', async () => {
        const ws = workspace();
        const pki = createTestPki(join(ws.dir, 'pki'));
        const fresh = issueLeaf(pki, { names: [FQDN, `autodiscover.${FQDN.slice(5)}`] });
        const stale = issueLeaf(pki, { names: [FQDN] });
        writeFileSync(ws.pfx, exportPfx(pki, fresh, PFX_PASSWORD, { legacy: true }));
        const good = await startOpenSslServer({ cert: fresh.cert, key: fresh.key, chain: pki.intermediateCert });
        const behind = await startOpenSslServer({ cert: stale.cert, key: stale.key, chain: pki.intermediateCert });
        servers.push(good, behind);
        // The simulated servers serve no TLS of their own: the check reaches these loopback servers in their
        // place; a short renewal (import and health) is enough to show the check at work.
        const runbook = join(ws.dir, 'short-renewal.yaml');
        writeFileSync(
          runbook,
          [
            'version: 1',
            'name: short-renewal',
            'params:',
            '  server: { type: string, required: true }',
            '  pfxPath: { type: string, required: true }',
            '  pfxPassword: { type: secret, env: EXCH_CERT_PFX_PASSWORD }',
            '  fqdn: { type: string, required: true }',
            '  backupDirectory: { type: string }',
            'steps:',
            '  - id: import',
            '    action: import-certificate',
            "    with: { server: '${{ params.server }}', path: '${{ params.pfxPath }}', password: '${{ params.pfxPassword }}' }",
            '  - id: health',
            '    action: test-service-health',
            "    with: { server: '${{ params.server }}' }",
            '',
          ].join('\n'),
        );
        const result = await cli(renew(ws, 'EXCH01,EXCH02', '--runbook', runbook, '--tls-address', `EXCH01=127.0.0.1:${good.port}`, '--tls-address', `EXCH02=127.0.0.1:${behind.port}`), ws, { NODE_EXTRA_CA_CERTS: pki.rootCert });
        expect(result.status).toBe(1);
        expect(result.stderr).toContain(`EXCH01  TLS (the canary): 127.0.0.1:${good.port} serve the new certificate ${fresh.thumbprint}`);
        expect(result.stderr).toContain(`EXCH02  TLS (every server): 127.0.0.1:${behind.port} serves ${stale.thumbprint} (CN=${FQDN}) instead of ${fresh.thumbprint}`);
        expect(outcomes(journals(ws).fleet)).toEqual(['EXCH01:renewed', 'EXCH02:not-verified']);
      });
    });
  });
}
