import type { LocalStepRunners } from '../engine/local-step.js';
import { connectTls, type Connect } from '../tls/connect.js';
import { runProbeStep, runVerifyStep, type TlsStepEnvironment } from '../tls/verify-step.js';

/** With --simulate: the simulator's state and server, whose TLS endpoints are served on loopback for the check. */
export interface SimulatedTarget {
  readonly statePath: string;
  readonly server: string;
}

/**
 * The steps exch-cert runs itself. The TLS check connects to the real server from this machine;
 * in a rehearsal it connects to the simulated server's loopback listeners instead (started for
 * the check, from the state as it is then), whose CAs are the simulator's own: a chain that ends
 * in the self-signed CA the simulated server sent is taken as trusted there, and only there.
 */
export function createLocalSteps(simulated: SimulatedTarget | undefined): LocalStepRunners {
  const withEnvironment = async <T>(use: (environment: TlsStepEnvironment) => Promise<T>): Promise<T> => {
    const clock = { now: () => new Date() };
    if (!simulated) return use({ connect: connectTls, clock });
    const { startSimulatedEndpoints, simulatedEndpointFor } = await import('../simulator-tls/endpoints.js');
    const served = await startSimulatedEndpoints({ statePath: simulated.statePath, server: simulated.server });
    try {
      return await use({ connect: trustingServedRoots(connectTls), clock, reach: (endpoint) => simulatedEndpointFor(served.endpoints, endpoint) });
    } finally {
      await served.close();
    }
  };
  return {
    'probe-tls': (inputs) => withEnvironment((environment) => runProbeStep(inputs, environment)),
    'verify-tls': (inputs) => withEnvironment((environment) => runVerifyStep(inputs, environment)),
  };
}

function trustingServedRoots(connect: Connect): Connect {
  return async (endpoint, options) => {
    const handshake = await connect(endpoint, options);
    return handshake.trustError === 'SELF_SIGNED_CERT_IN_CHAIN' ? { ...handshake, trustError: undefined } : handshake;
  };
}
