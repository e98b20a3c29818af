/**
 * `exch-cert status --server`: the server's store read through PowerShell by the runbook
 * server-certificates, on the plan and engine that run renewals, against the simulated Exchange
 * server, in-process (--simulate) and through real PowerShell remoting (status-store.*.test.ts).
 */
import { cpSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulatedEndpoints } from '../../src/simulator-tls/endpoints.js';
import { runCli, STACK_LINE } from '../helpers/cli.js';
import { CliProcess } from '../helpers/cli-process.js';
import { pwshPath } from '../helpers/pwsh.js';
import { editSimState, readServer } from '../helpers/sim-state.js';
import type { SimulatorMode, Workspace } from '../helpers/simulator-modes.js';

const FQDN = 'mail.contoso.com';
const DAY_MS = 24 * 60 * 60 * 1000;
let fixture: string;

function workspace(): Workspace {
  const dir = mkdtempSync(join(tmpdir(), 'exch-cert-status-'));
  cpSync(fixture, join(dir, 'sim'), { recursive: true });
  return { dir, state: join(dir, 'sim', 'state.json'), pfx: join(dir, 'sim', `renewed-${FQDN}.pfx`) };
}

interface StoreJson {
  state: string;
  exitCode: number;
  endpoints: Array<{ label: string; state: string }>;
  store: { server: string; error?: string; certificates: Array<{ label: string; state: string; thumbprint: string; subject: string; uses: string[]; inStore: boolean; daysLeft?: number; reason?: string }> };
}

/** Defines the scenarios for one way of reaching the simulator. */
export function describeStatusStoreScenarios(mode: SimulatorMode): void {
  describe(`exch-cert status --server, ${mode.name}`, () => {
    describe.skipIf(!mode.available)(mode.name, { timeout: 120_000 }, () => {
      const status = (ws: Workspace, ...args: string[]) => runCli(['status', ...args, '--server', 'EXCH01', ...mode.target(ws), '--shell', pwshPath ?? 'pwsh'], { cwd: ws.dir });

      beforeAll(async () => {
        await mode.setUp();
        fixture = mkdtempSync(join(tmpdir(), 'exch-cert-status-fixture-'));
        const result = runCli(['simulator', 'init', '--dir', fixture, '--fqdn', FQDN, '--layout', 'seed,loopback-public', '--shell', pwshPath ?? 'pwsh'], { env: { EXCH_CERT_PFX_PASSWORD: 'status-test-pfx' } });
        expect(result.status, result.stderr).toBe(0);
      });
      afterAll(async () => mode.tearDown());

      it('judges every certificate the server uses, with what uses it, as one plugin line and performance data', () => {
        const ws = workspace();
        const server = readServer(ws.state);
        const thumbprintOf = (subject: string): string => server.certificates.find((c) => c.subject === subject)?.thumbprint ?? '';
        const result = status(ws, '--json');
        expect(result.status, result.stderr).toBe(1);
        const json = JSON.parse(result.stdout) as StoreJson;
        expect(json).toMatchObject({ state: 'WARNING', exitCode: 1, endpoints: [], store: { server: 'EXCH01' } });
        expect(json.store.certificates.map((c) => [c.label, c.state, c.thumbprint, c.uses])).toEqual([
          [`EXCH01 ${FQDN}`, 'WARNING', thumbprintOf(`CN=${FQDN}`), ['IMAP', 'POP', 'SMTP', 'IIS Default Web Site *:443:', 'IIS Default Web Site 127.0.0.1:443:']],
          ['EXCH01 EXCH01', 'OK', thumbprintOf('CN=EXCH01'), ['SMTP', 'internal transport', 'IIS Exchange Back End *:444:']],
          ['EXCH01 Microsoft Exchange Server Auth Certificate', 'OK', thumbprintOf('CN=Microsoft Exchange Server Auth Certificate'), ['SMTP', 'Auth']],
        ]);
        // The simulator's public certificate has 20 days left: WARNING below 30.
        expect(json.store.certificates[0]?.daysLeft).toBe(19);

        const line = status(ws);
        expect(line.status).toBe(1);
        expect(line.stdout).toMatch(
          new RegExp(`^EXCH-CERT WARNING - EXCH01 ${FQDN} expires \\d{4}-\\d\\d-\\d\\d \\(19 days: WARNING\\); EXCH01 EXCH01 expires .*; EXCH01 Microsoft Exchange Server Auth Certificate expires .* \\| 'EXCH01 ${FQDN}'=19d;30;14;0;365 'EXCH01 EXCH01'=\\d+d;30;14;0;\\d+ 'EXCH01 Microsoft Exchange Server Auth Certificate'=\\d+d;30;14;0;\\d+\\n$`),
        );
        expect(line.stderr).toBe('');
        // Read-only: no journal, and nothing of the server changed.
        const after = readServer(ws.state);
        expect([after.certificates, after.iis, after.services, after.transport]).toEqual([server.certificates, server.iis, server.services, server.transport]);
        expect(existsSync(join(ws.dir, '.exch-cert'))).toBe(false);
      });

      it('is CRITICAL when a certificate in use is about to expire, and UNKNOWN for one a use names but the store lacks', () => {
        const ws = workspace();
        const soon = new Date(Date.now() + 5.5 * DAY_MS).toISOString();
        editSimState(ws.state, (state) => {
          const server = state.servers[0] as unknown as { certificates: Array<{ subject: string; notAfter: string }>; iis: { sites: Array<{ name: string; bindings: Array<{ bindingInformation: string; certificateHash: string }> }> } };
          const auth = server.certificates.find((c) => c.subject.includes('Auth Certificate'));
          if (auth) auth.notAfter = soon;
          const backEnd = server.iis.sites.find((site) => site.name === 'Exchange Back End')?.bindings.find((b) => b.bindingInformation === '*:444:');
          if (backEnd) backEnd.certificateHash = 'AB'.repeat(20);
        });
        const result = status(ws, '--warning', '10', '--critical', '6');
        expect(result.status, result.stderr).toBe(2);
        expect(result.stdout).toContain('EXCH-CERT CRITICAL - EXCH01 Microsoft Exchange Server Auth Certificate expires ');
        expect(result.stdout).toContain(`(5 days: CRITICAL)`);
        expect(result.stdout).toContain(`EXCH01 ${'AB'.repeat(20)}: not in the certificate store of EXCH01, but used for IIS Exchange Back End *:444:`);
        const unknownOnly = status(ws, '--warning', '1', '--critical', '1');
        expect(unknownOnly.status).toBe(3);
      });

      it('is UNKNOWN for the store when reading it fails, still judges the endpoints, and never shows a stack trace', () => {
        const ws = workspace();
        editSimState(ws.state, (state) => (state.faults = [{ command: 'Get-ExchangeCertificate', action: 'throw', message: 'Active Directory is unreachable' }]));
        const result = status(ws, '127.0.0.1:1');
        expect(result.status).toBe(3);
        expect(result.stdout).toMatch(/^EXCH-CERT UNKNOWN - 127\.0\.0\.1:1 unreachable: connection refused; EXCH01 certificate store: cannot be read: step certificates failed: .*Active Directory is unreachable.*\n$/);
        expect(result.stdout + result.stderr).not.toMatch(STACK_LINE);
        const json = JSON.parse(status(ws, '--json').stdout) as StoreJson;
        expect(json.store).toMatchObject({ server: 'EXCH01', certificates: [], error: expect.stringContaining('Active Directory is unreachable') });
      });

      it('checks what the simulated server serves on loopback and what its store holds in one run', async () => {
        const ws = workspace();
        const listeners = await startSimulatedEndpoints({ statePath: ws.state, server: 'EXCH01' });
        try {
          const imap = listeners.endpoints.find((endpoint) => endpoint.realPort === 993);
          const run = new CliProcess(['status', `127.0.0.1:${imap?.port ?? 0}`, '--server', 'EXCH01', ...mode.target(ws), '--shell', pwshPath ?? 'pwsh', '--json'], { env: {}, cwd: ws.dir });
          expect(await run.exited, run.stderr).toBe(1);
          const json = JSON.parse(run.stdout) as StoreJson;
          expect(json.endpoints).toEqual([expect.objectContaining({ label: `127.0.0.1:${imap?.port ?? 0}`, state: 'WARNING', thumbprint: json.store.certificates[0]?.thumbprint })]);
        } finally {
          await listeners.close();
        }
      });

      it('names the flag that is wrong, as UNKNOWN', () => {
        const ws = workspace();
        expect(runCli(['status', '--server', 'EXCH 01'], { cwd: ws.dir }).stdout).toBe('EXCH-CERT UNKNOWN - --server "EXCH 01" is not a server name such as EXCH01 or exch01.contoso.com\n');
        const missing = runCli(['status', '--server', 'EXCH01', '--simulate', join(ws.dir, 'none.json')], { cwd: ws.dir });
        expect(missing.status).toBe(3);
        expect(missing.stdout).toBe(`EXCH-CERT UNKNOWN - EXCH01 certificate store: cannot be read: --simulate: there is no simulator state "${join(ws.dir, 'none.json')}" (create one with \`exch-cert simulator init\`)\n`);
        const shell = runCli(['status', '--server', 'EXCH01', ...mode.target(ws), '--shell', join(ws.dir, 'no-pwsh')], { cwd: ws.dir });
        expect(shell.status).toBe(3);
        expect(shell.stdout).toMatch(/^EXCH-CERT UNKNOWN - EXCH01 certificate store: cannot be read: PowerShell failed: .*no-pwsh[^;]*\n$/);
      });
    });
  });
}
