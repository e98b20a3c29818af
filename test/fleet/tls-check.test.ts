import { describe, expect, it } from 'vitest';
import { runPool } from '../../src/fleet/pool.js';
import { createTlsCheck, skippedTlsCheck } from '../../src/fleet/tls-check.js';
import type { FleetServer } from '../../src/fleet/run-fleet.js';
import { UnreachableError, type Connect, type Handshake } from '../../src/tls/connect.js';
import type { Endpoint } from '../../src/tls/endpoint.js';

const NEW = 'B'.repeat(40);
const OLD = 'A'.repeat(40);
const server = { name: 'EXCH02', fqdn: 'EXCH02.contoso.com' } as FleetServer;

function handshake(thumbprint: string): Handshake {
  return {
    certificate: { thumbprint, subject: 'CN=mail.contoso.com', issuer: 'CN=CA', names: ['mail.contoso.com'], notBefore: new Date('2026-01-01'), notAfter: new Date('2027-01-01'), identity: { commonNames: ['mail.contoso.com'], subjectaltname: 'DNS:mail.contoso.com' } },
    issuers: [],
    intermediatesSent: true,
    trustError: undefined,
    tlsVersion: 'TLSv1.3',
  };
}

describe('the TLS check of a fleet server', () => {
  const seen: Array<Endpoint & { sni: string }> = [];
  const connect: Connect = (endpoint, options) => {
    seen.push({ ...endpoint, sni: options.servername });
    if (endpoint.port === 25) return Promise.reject(new UnreachableError('connection refused'));
    return Promise.resolve(handshake(endpoint.port === 993 ? OLD : NEW));
  };
  const options = { connect, clock: { now: () => new Date('2026-06-01') }, thumbprint: NEW, servername: 'mail.contoso.com' };

  it("connects to the server's own FQDN with the namespace as SNI, expecting the new thumbprint", async () => {
    const ok = await createTlsCheck({ ...options, ports: [{ port: 443, protocol: 'tls' }] })(server);
    expect(ok).toEqual({ ok: true, skipped: false, summary: `EXCH02.contoso.com:443 serve the new certificate ${NEW}` });
    expect(seen.at(-1)).toMatchObject({ host: 'EXCH02.contoso.com', port: 443, sni: 'mail.contoso.com' });
  });

  it('names each endpoint that serves another certificate or cannot be reached', async () => {
    const bad = await createTlsCheck({ ...options, ports: [{ port: 443, protocol: 'tls' }, { port: 993, protocol: 'tls' }, { port: 25, protocol: 'smtp' }] })(server);
    expect(bad.ok).toBe(false);
    expect(bad.summary).toBe(`EXCH02.contoso.com:993 serves ${OLD} (CN=mail.contoso.com) instead of ${NEW}; EXCH02.contoso.com:25 cannot be checked: connection refused`);
  });

  it('reaches 443 where the test map says, and says when nothing was checked', async () => {
    await createTlsCheck({ ...options, ports: [{ port: 443, protocol: 'tls' }], addresses: new Map([['exch02', { host: '127.0.0.1', port: 8443 }]]) })(server);
    expect(seen.at(-1)).toMatchObject({ host: '127.0.0.1', port: 8443, sni: 'mail.contoso.com' });
    expect(await skippedTlsCheck('the simulated organisation serves no TLS')()).toEqual({ ok: true, skipped: true, summary: 'not checked: the simulated organisation serves no TLS' });
  });
});

describe('runPool', () => {
  it('keeps at most the limit running and starts nothing once told to stop', async () => {
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const results = await runPool([1, 2, 3, 4, 5, 6], 2, () => !started.includes(4), async (item) => {
      started.push(item);
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running--;
      return item * 10;
    });
    expect(most).toBe(2);
    expect(started).toEqual([1, 2, 3, 4]);
    expect(results).toEqual([10, 20, 30, 40, undefined, undefined]);
  });
});
