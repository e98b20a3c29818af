/**
 * "Never worse than it started": for each layout real servers have and each case the safety issue
 * names, the renewal either refuses before it changes anything, or leaves the new certificate in
 * every use of the old one with the old one kept or in a verified backup. Each scenario asserts the
 * end state (bindings, services, internal transport, Require SSL, connectors, backup file) and the
 * exit code. Run in-process and through real PowerShell remoting (safety.*.test.ts).
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { readPfx } from '../helpers/pfx.js';
import { pwshPath } from '../helpers/pwsh.js';
import { binding, certificate, editSimState, readServer, readSimState, serverOf, type SimServer } from '../helpers/sim-state.js';
import type { SimulatorMode, Workspace } from '../helpers/simulator-modes.js';

const PFX_PASSWORD = 'safety-pfx-password';
const BACKUP_PASSWORD = 'safety-backup-password';
const FQDN = 'mail.contoso.com';

interface Scene extends Workspace {
  readonly old: string;
  readonly selfSigned: string;
  readonly renewed: string;
  readonly backup: string;
}

/** Defines the safety scenarios for one way of reaching the simulator. */
export function describeSafetyScenarios(mode: SimulatorMode): void {
  describe.skipIf(!mode.available)(`a renewal is never worse than it started, ${mode.name}`, { timeout: 240_000 }, () => {
    const fixtures = new Map<string, string>();

    beforeAll(() => mode.setUp());
    afterAll(() => mode.tearDown());

    const env = (extra: Record<string, string> = {}): Record<string, string> => ({ EXCH_CERT_PFX_PASSWORD: PFX_PASSWORD, EXCH_CERT_BACKUP_PASSWORD: BACKUP_PASSWORD, ...extra });

    /** A fresh copy of a simulated server with these layouts (made once per layout set). */
    function scene(layouts: string[] = [], init: string[] = []): Scene {
      const key = [...layouts, ...init].join(',');
      let fixture = fixtures.get(key);
      if (fixture === undefined) {
        fixture = mkdtempSync(join(tmpdir(), 'exch-cert-safety-fixture-'));
        const result = runCli(['simulator', 'init', '--dir', fixture, '--fqdn', FQDN, ...(layouts.length > 0 ? ['--layout', layouts.join(',')] : []), ...init, '--shell', pwshPath ?? 'pwsh'], { env: env() });
        expect(result.status, result.stderr).toBe(0);
        fixtures.set(key, fixture);
      }
      const dir = mkdtempSync(join(tmpdir(), 'exch-cert-safety-'));
      cpSync(fixture, join(dir, 'sim'), { recursive: true });
      const state = join(dir, 'sim', 'state.json');
      const pfx = join(dir, 'sim', readdirSync(join(dir, 'sim')).find((name) => name.startsWith('renewed-')) ?? 'missing.pfx');
      const server = readServer(state);
      const old = binding(server, 'Default Web Site', '*:443:') ?? '';
      return { dir, state, pfx, old, selfSigned: certificate(server, /^CN=EXCH01$/)?.thumbprint ?? '', renewed: readPfx(readFileSync(pfx), PFX_PASSWORD).thumbprint, backup: join(dir, 'sim', 'backup', `${old}.pfx`) };
    }

    const renew = (sc: Scene, ...extra: string[]) =>
      runCli(['renew', '--server', 'EXCH01', '--pfx', sc.pfx, '--fqdn', FQDN, ...mode.target(sc), '--yes', '--shell', pwshPath ?? 'pwsh', ...extra], { env: env(), cwd: sc.dir });

    const journal = (sc: Scene): Array<Record<string, unknown>> => {
      const runs = join(sc.dir, '.exch-cert', 'runs');
      const last = readdirSync(runs).filter((name) => name.endsWith('.jsonl')).sort().at(-1) ?? '';
      return readFileSync(join(runs, last), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    };
    const decisions = (sc: Scene): string[] => (journal(sc).find((event) => event['stepId'] === 'preflight' && event['type'] === 'step-finished')?.['outputs'] as { decisions?: string[] } | undefined)?.decisions ?? [];
    const inStore = (server: SimServer, thumbprint: string): boolean => server.certificates.some((entry) => entry.thumbprint === thumbprint);
    const unchanged = (sc: Scene, before: string): void => {
      const after = readSimState(sc.state);
      const was = serverOf(JSON.parse(before) as ReturnType<typeof readSimState>);
      expect(serverOf(after).certificates.map((entry) => [entry.thumbprint, entry.services])).toEqual(was.certificates.map((entry) => [entry.thumbprint, entry.services]));
      expect(serverOf(after).iis).toEqual(was.iis);
    };

    it('moves every binding the old certificate served (127.0.0.1:443 as in the field notes, an SNI binding), and removes it from its verified backup', () => {
      const sc = scene(['loopback-public', 'sni']);
      const result = renew(sc);
      expect(result.status, result.stderr).toBe(0);
      const after = readServer(sc.state);
      expect(binding(after, 'Default Web Site', '*:443:')).toBe(sc.renewed);
      expect(binding(after, 'Default Web Site', '127.0.0.1:443:')).toBe(sc.renewed);
      expect(binding(after, 'Default Web Site', `*:443:${FQDN}`)).toBe(sc.renewed);
      expect(binding(after, 'Exchange Back End', '*:444:')).toBe(sc.selfSigned);
      expect(inStore(after, sc.old)).toBe(false);
      expect(readPfx(readFileSync(sc.backup), BACKUP_PASSWORD)).toMatchObject({ thumbprint: sc.old, hasPrivateKey: true });
      expect(decisions(sc)).toEqual(expect.arrayContaining([`binding Default Web Site 127.0.0.1:443: moves from ${sc.old} to ${sc.renewed}`, `binding Default Web Site *:443:${FQDN} moves from ${sc.old} to ${sc.renewed}`]));
    });

    it('moves the internal transport certificate to the Exchange self-signed one when it was the old certificate', () => {
      const sc = scene(['public-internal-transport']);
      expect(readServer(sc.state).transport.internalTransportCertificateThumbprint).toBe(sc.old);
      const result = renew(sc);
      expect(result.status, result.stderr).toBe(0);
      const after = readServer(sc.state);
      expect(after.transport.internalTransportCertificateThumbprint).toBe(sc.selfSigned);
      expect(inStore(after, sc.old)).toBe(false);
    });

    it('keeps an old certificate whose key cannot be exported, says why, and exits 0', () => {
      const sc = scene(['non-exportable']);
      const result = renew(sc);
      expect(result.status, result.stderr).toBe(0);
      const after = readServer(sc.state);
      expect(binding(after, 'Default Web Site', '*:443:')).toBe(sc.renewed);
      expect(inStore(after, sc.old)).toBe(true);
      expect(existsSync(sc.backup)).toBe(false);
      expect(decisions(sc)).toContain(`the old certificate ${sc.old} stays in the store: its private key is not exportable, so it cannot be backed up`);
    });

    it('leaves Require SSL off where it was off (an HTTP-to-HTTPS redirect set-up)', () => {
      const sc = scene(['require-ssl-off']);
      const result = renew(sc);
      expect(result.status, result.stderr).toBe(0);
      expect(readServer(sc.state).iis.sites.find((site) => site.name === 'Default Web Site')?.requireSsl).toBe(false);
    });

    it('points connectors that named the old certificate at the new one, and says to run the Hybrid Configuration Wizard', () => {
      const sc = scene(['hybrid-connectors']);
      const result = renew(sc);
      expect(result.status, result.stderr).toBe(0);
      const state = readSimState(sc.state);
      const server = serverOf(state);
      const fresh = server.certificates.find((entry) => entry.thumbprint === sc.renewed);
      expect(fresh).toBeTruthy();
      const wanted = `<I>CN=R11, O=Let's Encrypt, C=US<S>CN=${FQDN}`;
      expect(state.organization.sendConnectors.filter((connector) => connector.tlsCertificateName).map((connector) => connector.tlsCertificateName)).toEqual(expect.arrayContaining([wanted]));
      expect(server.receiveConnectors.filter((connector) => connector.tlsCertificateName).map((connector) => connector.tlsCertificateName)).toEqual(expect.arrayContaining([wanted]));
      expect(result.stderr).toContain('run the Hybrid Configuration Wizard again');
    });

    it('refuses before any change when the new certificate would not get services the old one has; keeps the old one when told to', () => {
      const sc = scene();
      const before = readFileSync(sc.state, 'utf8');
      const refused = renew(sc, '--services', 'IIS');
      expect(refused.status).toBe(1);
      expect(refused.stderr).toContain('the old certificate also serves IMAP, POP, SMTP, which the new one would not get');
      expect(refused.stderr).toContain('Nothing on the server was changed');
      unchanged(sc, before);
      const allowed = renew(sc, '--services', 'IIS', '--var', 'allowDroppedServices=true');
      expect(allowed.status, allowed.stderr).toBe(0);
      const after = readServer(sc.state);
      expect(binding(after, 'Default Web Site', '*:443:')).toBe(sc.renewed);
      expect(inStore(after, sc.old)).toBe(true);
    });

    it('refuses a file at the backup path that is not a backup of the old certificate, removes it, and changes nothing', () => {
      const sc = scene();
      const before = readFileSync(sc.state, 'utf8');
      // A certificate without its key, or anything else that is not a backup this password opens.
      mkdirSync(join(sc.dir, 'sim', 'backup'));
      writeFileSync(sc.backup, 'not a pfx');
      const result = renew(sc);
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('was already there but is not a backup');
      expect(existsSync(sc.backup)).toBe(false);
      unchanged(sc, before);
      const again = renew(sc);
      expect(again.status, again.stderr).toBe(0);
      expect(readPfx(readFileSync(sc.backup), BACKUP_PASSWORD)).toMatchObject({ thumbprint: sc.old, hasPrivateKey: true });
    });

    it('is safe to run twice: the second run changes nothing and says it is already renewed', () => {
      const sc = scene();
      expect(renew(sc).status).toBe(0);
      const calls = readSimState(sc.state).calls.length;
      const again = renew(sc);
      expect(again.status, again.stderr).toBe(0);
      expect(decisions(sc)).toContain(`Default Web Site *:443 already serves the new certificate ${sc.renewed}: already renewed, nothing to change`);
      const changing = readSimState(sc.state)
        .calls.slice(calls)
        .map((call) => call.command)
        .filter((command) => /^(Import|Enable|Remove|Export|New)-ExchangeCertificate$|^(Set-|Restart-Service|Start-Service|Stop-Service|iisreset|netsh)/.test(command));
      expect(changing).toEqual([]);
      expect(again.stderr).not.toContain('confirmed by --yes');
    });

    it('installs the new certificate when the old one is already gone from the store (the emergency), and says so', () => {
      const sc = scene();
      editSimState(sc.state, (state) => {
        const server = serverOf(state);
        server.certificates.splice(server.certificates.findIndex((entry) => entry.thumbprint === sc.old), 1);
      });
      const result = renew(sc);
      expect(result.status, result.stderr).toBe(0);
      expect(binding(readServer(sc.state), 'Default Web Site', '*:443:')).toBe(sc.renewed);
      expect(decisions(sc).join('\n')).toContain('is no longer in the store');
      expect(existsSync(sc.backup)).toBe(false);
    });

    it('changes a binding in place: when netsh fails, the binding still has the old certificate, and the rollback restores the rest', () => {
      const sc = scene(['loopback-public']);
      // Twice: the bind step asks netsh for the binding's application id, then updates it. The rollback's netsh works.
      editSimState(sc.state, (state) => (state.faults = [{ command: 'netsh', action: 'exit', code: 1, message: 'SSL Certificate update failed, Error: 1312', times: 2 }]));
      const result = renew(sc);
      expect(result.status).toBe(1);
      const after = readServer(sc.state);
      expect(binding(after, 'Default Web Site', '127.0.0.1:443:')).toBe(sc.old);
      expect(binding(after, 'Default Web Site', '*:443:')).toBe(sc.old);
      expect(inStore(after, sc.old)).toBe(true);
    });

    it('starts a service again that a failed restart left stopped, on the retry', () => {
      const sc = scene(['seed']);
      editSimState(sc.state, (state) => (state.faults = [{ service: 'MSExchangeTransport', action: 'wont-start', times: 1 }]));
      const result = renew(sc);
      expect(result.status, result.stderr).toBe(0);
      expect(readServer(sc.state).services.find((service) => service.name === 'MSExchangeTransport')?.status).toBe('Running');
      expect(journal(sc).find((event) => event['stepId'] === 'restart-transport' && event['type'] === 'step-finished')).toMatchObject({ status: 'changed', attempts: 2 });
    });

    it('once the new certificate serves and health passed, a failed removal keeps the old certificate and does not roll back (exit 0, a warning)', () => {
      const sc = scene();
      editSimState(sc.state, (state) => (state.faults = [{ command: 'Remove-ExchangeCertificate', action: 'throw', message: 'The certificate store is busy' }]));
      const result = renew(sc);
      expect(result.status, result.stderr).toBe(0);
      expect(result.stderr).toContain('warning: step remove-old failed after step health committed the change; not rolled back');
      const after = readServer(sc.state);
      expect(binding(after, 'Default Web Site', '*:443:')).toBe(sc.renewed);
      expect(inStore(after, sc.old)).toBe(true);
    });

    it('refuses before any change when the old certificate is the Auth certificate', () => {
      const sc = scene();
      editSimState(sc.state, (state) => {
        (state.organization.authConfig as { currentCertificateThumbprint: string }).currentCertificateThumbprint = sc.old;
      });
      const before = readFileSync(sc.state, 'utf8');
      const result = renew(sc);
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('is the Auth certificate');
      unchanged(sc, before);
    });

    it('renews with a wildcard certificate: POP and IMAP get their certificate name, not the certificate', () => {
      const sc = scene(['seed'], ['--wildcard']);
      const result = renew(sc);
      expect(result.status, result.stderr).toBe(0);
      const after = readServer(sc.state);
      expect(binding(after, 'Default Web Site', '*:443:')).toBe(sc.renewed);
      expect(after.certificates.find((entry) => entry.thumbprint === sc.renewed)?.services).not.toContain('POP');
      expect(after.pop.x509CertificateName).toBe(FQDN);
    });
  });
}
