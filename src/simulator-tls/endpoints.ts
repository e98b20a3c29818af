import { createServer, isIP, type Server } from 'node:net';
import type { Duplex } from 'node:stream';
import { EnvironmentError } from '../errors.js';
import type { Endpoint } from '../tls/endpoint.js';
import type { Clock } from '../tls/verify.js';
import { serveConnection, type ConnectionEnvironment } from './connection.js';
import { parseBindingInformation, planEndpoints, type EndpointPlan } from './rules.js';
import { SecureContexts } from './secure-context.js';
import { readSimulatedServer } from './state.js';

/** Where the listeners listen: loopback only. */
export const SIMULATED_HOST = '127.0.0.1';

/** One real endpoint of the simulated server and the loopback port that stands for it. */
export interface SimulatedEndpoint extends EndpointPlan {
  readonly host: typeof SIMULATED_HOST;
  /** The ephemeral port on 127.0.0.1. */
  readonly port: number;
}

export interface SimulatedEndpoints {
  readonly endpoints: readonly SimulatedEndpoint[];
  /** Stops listening and ends every open connection. */
  close(): Promise<void>;
}

export interface StartOptions {
  /** The simulator's state file (format version 2). */
  readonly statePath: string;
  /** The server whose endpoints to serve. */
  readonly server: string;
  /** The time the SMTP greeting and HTTP answers show (default: this machine's). */
  readonly clock?: Clock;
}

/**
 * Serves on 127.0.0.1 ephemeral ports what a simulated server serves on its real ones: one
 * listener per https binding of each IIS site, POP3 on 995 and 110 (STLS), IMAP4 on 993 and 143
 * (STARTTLS), SMTP on 25 and 587 (STARTTLS). The set of endpoints is read once, here; at every
 * handshake the state file is read again and the certificate is the one the rules give now:
 * - IIS as http.sys chooses: an SNI binding for the name the client sends, else the binding of the
 *   listener's address (127.0.0.1:443 wins over *:443 for its own address), else the wildcard one;
 *   a binding change is served at once;
 * - POP3 and IMAP4: what they loaded when both of their services last started;
 * - SMTP: what the connector's transport service picked when it last started;
 * with the chain the certificate's record holds. An endpoint whose service is stopped resets
 * connections; one with nothing to serve fails the handshake (SMTP then offers no STARTTLS).
 * @throws InputError when the state cannot be read or has no such server
 * @throws EnvironmentError when a listener cannot be opened
 */
export async function startSimulatedEndpoints(options: StartOptions): Promise<SimulatedEndpoints> {
  const server = await readSimulatedServer(options.statePath, options.server);
  const clock = options.clock ?? { now: () => new Date() };
  const sockets = new Set<Duplex>();
  const env: ConnectionEnvironment = {
    statePath: options.statePath,
    serverName: server.name,
    contexts: new SecureContexts(),
    now: () => clock.now(),
    track: (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    },
  };
  const listeners: Server[] = [];
  const close = async (): Promise<void> => {
    const closed = listeners.map((listener) => new Promise<void>((done) => listener.close(() => done())));
    // Newest first: a TLS socket owns the handle of the plain one it wraps, which must not go first (Node 20 crashes).
    for (const socket of [...sockets].reverse()) socket.destroy();
    await Promise.all(closed);
  };
  const endpoints: SimulatedEndpoint[] = [];
  try {
    for (const plan of planEndpoints(server)) {
      const listener = createServer({ pauseOnConnect: true }, (socket) => {
        serveConnection(socket, plan, env).catch(() => socket.destroy());
      });
      listeners.push(listener);
      endpoints.push({ ...plan, host: SIMULATED_HOST, port: await listen(listener) });
    }
  } catch (error) {
    await close();
    throw new EnvironmentError(`cannot open a loopback listener for the simulated server ${server.name}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { endpoints, close };
}

function listen(listener: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(0, SIMULATED_HOST, () => {
      listener.off('error', reject);
      const address = listener.address();
      if (typeof address === 'object' && address) resolve(address.port);
      else reject(new Error('no port'));
    });
  });
}

/**
 * The listener that stands for a real endpoint of the simulated server, as an endpoint to verify:
 * 127.0.0.1 and its port, the same protocol, and the real host (or the given servername) as SNI
 * and the name to check. For a port IIS serves, a real IP address that an https binding names
 * finds that binding's listener (127.0.0.1:443 is the server itself); any other host finds the
 * wildcard binding's, where http.sys chooses by SNI. Undefined when nothing listens on that port.
 */
export function simulatedEndpointFor(endpoints: readonly SimulatedEndpoint[], real: Endpoint): Endpoint | undefined {
  const onPort = endpoints.filter((endpoint) => endpoint.realPort === real.port);
  const address = isIP(real.host) !== 0 ? real.host : real.host.toLowerCase() === 'localhost' ? SIMULATED_HOST : '*';
  const bound = (ip: string): SimulatedEndpoint | undefined =>
    onPort.find((endpoint) => {
      const binding = parseBindingInformation(endpoint.bindingInformation ?? '');
      return binding !== undefined && binding.host === '' && (binding.ip === ip || (ip === '*' && binding.ip === '0.0.0.0'));
    });
  const listener = onPort.find((endpoint) => endpoint.service !== 'iis') ?? bound(address) ?? bound('*') ?? onPort[0];
  if (!listener) return undefined;
  return { host: SIMULATED_HOST, port: listener.port, protocol: real.protocol, servername: real.servername ?? real.host };
}
