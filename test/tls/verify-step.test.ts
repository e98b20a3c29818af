import { describe, expect, it } from 'vitest';
import { tlsEndpointsOf } from '../../src/actions/catalog/tls-endpoints.js';
import { UnreachableError, type Connect, type Handshake, type ServedCertificate } from '../../src/tls/connect.js';
import type { Endpoint } from '../../src/tls/endpoint.js';
import { runProbeStep, runVerifyStep } from '../../src/tls/verify-step.js';

const NOW = new Date('2026-12-01T12:00:00Z');
const clock = { now: () => NOW };
const OLD = 'A'.repeat(40);
const NEW = 'B'.repeat(40);
const SELF_SIGNED = 'C'.repeat(40);

function certificate(thumbprint: string): ServedCertificate {
  const names = thumbprint === SELF_SIGNED ? ['EXCH01', 'EXCH01.contoso.com'] : ['mail.contoso.com', 'autodiscover.contoso.com'];
  return {
    thumbprint,
    subject: `CN=${names[0] ?? ''}`,
    issuer: 'CN=R11, O=Let\'s Encrypt, C=US',
    names,
    notBefore: new Date('2026-11-01T00:00:00Z'),
    notAfter: new Date('2027-05-20T00:00:00Z'),
    identity: { commonNames: [names[0] ?? ''], subjectaltname: names.map((name) => `DNS:${name}`).join(', ') },
  };
}

/** A server that serves, per `host:port`, a thumbprint, or cannot be reached (undefined). */
function serving(table: Record<string, string | undefined>): Connect & { calls: Array<{ endpoint: Endpoint; servername: string }> } {
  const calls: Array<{ endpoint: Endpoint; servername: string }> = [];
  const connect = (endpoint: Endpoint, options: { servername: string }): Promise<Handshake> => {
    calls.push({ endpoint, servername: options.servername });
    const thumbprint = table[`${endpoint.host}:${endpoint.port}`];
    if (thumbprint === undefined) return Promise.reject(new UnreachableError('connection refused'));
    return Promise.resolve({ certificate: certificate(thumbprint), issuers: [], intermediatesSent: true, trustError: undefined, tlsVersion: 'TLSv1.3' });
  };
  return Object.assign(connect, { calls });
}

const ENDPOINTS = tlsEndpointsOf('EXCH01', 'mail.contoso.com', ['IIS', 'SMTP', 'POP', 'IMAP']);
const inputs = (extra: Record<string, unknown>) => ({ endpoints: ENDPOINTS, servername: 'mail.contoso.com', timeoutSeconds: 5, ...extra });

describe('the TLS endpoints of a renewal', () => {
  it('are Default Web Site through the FQDN and the server, and the ports of the services', () => {
    expect(ENDPOINTS).toEqual(['mail.contoso.com|443|tls|primary', 'EXCH01|443|tls|', 'EXCH01|993|tls|', 'EXCH01|995|tls|', 'EXCH01|25|smtp|', 'EXCH01|587|smtp|']);
    expect(tlsEndpointsOf('EXCH01', 'mail.contoso.com', ['IIS'])).toEqual(['mail.contoso.com|443|tls|primary', 'EXCH01|443|tls|']);
  });
});

describe('runProbeStep', () => {
  it('records what each endpoint serves, with SNI for the FQDN everywhere', async () => {
    const connect = serving({ 'mail.contoso.com:443': OLD, 'EXCH01:443': OLD, 'EXCH01:993': OLD, 'EXCH01:25': SELF_SIGNED, 'EXCH01:587': SELF_SIGNED });
    const outcome = await runProbeStep(inputs({}), { connect, clock });
    expect(outcome).toMatchObject({ status: 'ok', outputs: { served: [`mail.contoso.com:443=${OLD}`, `EXCH01:443=${OLD}`, `EXCH01:993=${OLD}`, 'EXCH01:995=', `EXCH01:25=${SELF_SIGNED}`, `EXCH01:587=${SELF_SIGNED}`] } });
    expect(new Set(connect.calls.map((call) => call.servername))).toEqual(new Set(['mail.contoso.com']));
    expect(outcome.log).toContain('EXCH01:995/tls: cannot be reached (connection refused)');
  });

  it('fails before any change when the name clients use cannot be reached from here', async () => {
    const outcome = await runProbeStep(inputs({}), { connect: serving({ 'EXCH01:443': OLD }), clock });
    expect(outcome.status).toBe('failed');
    expect(outcome.error).toBe(
      'mail.contoso.com:443 cannot be reached from here (connection refused), so the renewal could not prove that clients get the new certificate; nothing was changed. Run exch-cert where clients connect from, or turn the check off (--var verifyTls=false)',
    );
  });
});

describe('runProbeStep, the emergency', () => {
  it('carries on when the name clients use answers but completes no handshake (its certificate is gone), and records nothing served', async () => {
    const connect = (endpoint: Endpoint): Promise<Handshake> =>
      endpoint.host === 'mail.contoso.com' ? Promise.reject(new UnreachableError('connection reset by the server', true)) : Promise.reject(new UnreachableError('connection refused'));
    const outcome = await runProbeStep(inputs({}), { connect, clock });
    expect(outcome.status).toBe('ok');
    expect(outcome.outputs['served']).toContain('mail.contoso.com:443=');
    expect(outcome.log).toContain('mail.contoso.com:443/tls: answers, but completes no TLS handshake (connection reset by the server)');
  });
});

describe('runVerifyStep', () => {
  const before = [`mail.contoso.com:443=${OLD}`, `EXCH01:443=${OLD}`, `EXCH01:993=${OLD}`, 'EXCH01:995=', `EXCH01:25=${SELF_SIGNED}`, `EXCH01:587=${OLD}`];

  it('passes when every endpoint that served the old certificate serves the new one, and SMTP by connector FQDN serves what it did', async () => {
    const connect = serving({ 'mail.contoso.com:443': NEW, 'EXCH01:443': NEW, 'EXCH01:993': NEW, 'EXCH01:25': SELF_SIGNED, 'EXCH01:587': NEW });
    const outcome = await runVerifyStep(inputs({ thumbprint: NEW.toLowerCase(), oldThumbprint: OLD, before }), { connect, clock });
    expect(outcome).toMatchObject({ status: 'ok', outputs: { checked: [`mail.contoso.com:443=${NEW}`, `EXCH01:443=${NEW}`, `EXCH01:993=${NEW}`, `EXCH01:25=${SELF_SIGNED}`, `EXCH01:587=${NEW}`] } });
    // 995 did not answer before the change: it is not checked now.
    expect(connect.calls.map((call) => `${call.endpoint.host}:${call.endpoint.port}`)).not.toContain('EXCH01:995');
    expect(outcome.log).toContain('EXCH01:995: skipped (it could not be reached before the change either)');
  });

  it('fails, naming the endpoint and what it serves, where the old certificate is still served (POP/IMAP not restarted)', async () => {
    const connect = serving({ 'mail.contoso.com:443': NEW, 'EXCH01:443': NEW, 'EXCH01:993': OLD, 'EXCH01:25': SELF_SIGNED, 'EXCH01:587': NEW });
    const outcome = await runVerifyStep(inputs({ thumbprint: NEW, oldThumbprint: OLD, before }), { connect, clock });
    expect(outcome.status).toBe('failed');
    expect(outcome.error).toBe(`1 of 5 endpoint(s) do not serve certificate ${NEW} as clients need it: EXCH01:993: serves ${OLD} (CN=mail.contoso.com) instead of ${NEW}`);
  });

  it('fails where a port that served a certificate before cannot be reached now, with what to do', async () => {
    const connect = serving({ 'mail.contoso.com:443': NEW, 'EXCH01:443': NEW, 'EXCH01:993': NEW, 'EXCH01:25': SELF_SIGNED });
    const outcome = await runVerifyStep(inputs({ thumbprint: NEW, oldThumbprint: OLD, before }), { connect, clock });
    expect(outcome.error).toContain('EXCH01:587: cannot be checked: connection refused');
    expect(outcome.error).toContain('turn the check off (--var verifyTls=false)');
  });

  it('holds the name clients use to the new certificate whatever it served before', async () => {
    const connect = serving({ 'mail.contoso.com:443': SELF_SIGNED, 'EXCH01:443': SELF_SIGNED });
    const outcome = await runVerifyStep(inputs({ endpoints: ENDPOINTS.slice(0, 2), thumbprint: NEW, oldThumbprint: OLD, before: [`mail.contoso.com:443=${SELF_SIGNED}`, `EXCH01:443=${SELF_SIGNED}`] }), { connect, clock });
    // The server's own name may go on serving its third certificate; the FQDN may not.
    expect(outcome.error).toBe(`1 of 2 endpoint(s) do not serve certificate ${NEW} as clients need it: mail.contoso.com:443: serves ${SELF_SIGNED} (CN=EXCH01) instead of ${NEW}; the certificate is not valid for mail.contoso.com: it names EXCH01, EXCH01.contoso.com`);
  });

  it('without a record of before, holds every endpoint to the new certificate', async () => {
    const connect = serving({ 'mail.contoso.com:443': NEW, 'EXCH01:443': NEW, 'EXCH01:993': NEW, 'EXCH01:995': NEW, 'EXCH01:25': SELF_SIGNED, 'EXCH01:587': NEW });
    const outcome = await runVerifyStep(inputs({ thumbprint: NEW }), { connect, clock });
    expect(outcome.error).toContain(`EXCH01:25: serves ${SELF_SIGNED}`);
  });

  it('refuses to check for nothing: an empty thumbprint fails', async () => {
    const outcome = await runVerifyStep(inputs({ thumbprint: '' }), { connect: serving({}), clock });
    expect(outcome).toEqual({ status: 'failed', outputs: {}, error: 'there is no certificate to check for: the thumbprint is empty' });
  });

  it('reports under the real endpoint where the rehearsal reached another port', async () => {
    const connect = serving({ '127.0.0.1:40443': NEW });
    const reach = (endpoint: Endpoint): Endpoint | undefined => (endpoint.port === 443 ? { ...endpoint, host: '127.0.0.1', port: 40443 } : undefined);
    const outcome = await runVerifyStep(inputs({ endpoints: ENDPOINTS.slice(0, 3), thumbprint: NEW }), { connect, clock, reach });
    expect(outcome.error).toMatch(new RegExp(`^1 of 3 endpoint\\(s\\) do not serve certificate ${NEW} as clients need it: EXCH01:993: cannot be checked: nothing listens there\\.`));
  });
});
