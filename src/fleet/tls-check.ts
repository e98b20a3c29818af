import type { Connect } from '../tls/connect.js';
import { endpointLabel, type Endpoint, type Protocol } from '../tls/endpoint.js';
import { verifyEndpoints, type Clock } from '../tls/verify.js';
import type { VerifyResult } from './events.js';
import type { FleetServer } from './run-fleet.js';

export interface TlsCheckOptions {
  readonly connect: Connect;
  readonly clock: Clock;
  /** The new certificate's thumbprint (from the PFX). */
  readonly thumbprint: string;
  /** The name clients use (the namespace): sent as SNI and checked against the certificate. */
  readonly servername: string;
  readonly ports: ReadonlyArray<{ readonly port: number; readonly protocol: Protocol }>;
  readonly timeoutMs?: number;
  /** Test-only: where a server's port 443 is really reached (a rehearsal's endpoints are loopback listeners). */
  readonly addresses?: ReadonlyMap<string, { readonly host: string; readonly port: number }>;
}

/**
 * The fleet's check of one server, as `verify-tls` makes it: real handshakes with the server's own
 * FQDN (not the load-balanced name, which could answer from any server), SNI and name check for the
 * namespace, and the new certificate's thumbprint expected on every port.
 */
export function createTlsCheck(options: TlsCheckOptions): (server: FleetServer) => Promise<VerifyResult> {
  return async (server) => {
    const override = options.addresses?.get(server.name.toLowerCase());
    const endpoints: Endpoint[] = options.ports.map(({ port, protocol }) =>
      override && port === 443 ? { host: override.host, port: override.port, protocol, servername: options.servername } : { host: server.fqdn, port, protocol, servername: options.servername },
    );
    const results = await verifyEndpoints(endpoints, { thumbprint: options.thumbprint }, { connect: options.connect, clock: options.clock, ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}) });
    const bad = results.filter((result) => result.verdict !== 'ok');
    if (bad.length === 0) return { ok: true, skipped: false, summary: `${results.map((result) => endpointLabel(result.endpoint)).join(', ')} serve the new certificate ${options.thumbprint}` };
    return { ok: false, skipped: false, summary: bad.map((result) => `${endpointLabel(result.endpoint)} ${result.problems.join('; ')}`).join('; ') };
  };
}

/** The check where no TLS can be reached: said so, never passed off as proof. */
export function skippedTlsCheck(reason: string): () => Promise<VerifyResult> {
  return () => Promise.resolve({ ok: true, skipped: true, summary: `not checked: ${reason}` });
}
