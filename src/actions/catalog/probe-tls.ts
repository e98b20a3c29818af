import { commentText, lines } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { describeTlsEndpoints, TLS_ENDPOINT_FIELDS, tlsEndpointsOf } from './tls-endpoints.js';

/**
 * What clients get before anything changes, recorded so the check after the change can tell
 * "worse than it started" from "as it was": SMTP serves by connector FQDN (P15), so a port that
 * served another certificate than the old one before need not serve the new one after. Fails,
 * before the first change, when Default Web Site cannot be reached through the name clients use.
 */
export const probeTls = defineAction({
  name: 'probe-tls',
  summary: 'Record from this machine, with real TLS handshakes, which certificate each endpoint serves before the change (changes nothing).',
  runsOn: 'local',
  exchangeCmdlets: [],
  changes: false,
  destructive: false,
  fields: TLS_ENDPOINT_FIELDS,
  outputs: {
    served: { type: 'list', description: "What each endpoint served, as 'host:port=THUMBPRINT' (nothing after = when it could not be reached)." },
  },
  title: (input) => `Record which certificate each endpoint of ${input.describe('server')} serves now, from here`,
  compile: (input) =>
    lines(
      '#   exch-cert runs this itself, from the machine it runs on (where clients connect from), not in PowerShell:',
      `#   a TLS handshake with each endpoint, SNI ${commentText(input.string('fqdn'))}, records the certificate it serves:`,
      ...describeTlsEndpoints(tlsEndpointsOf(input.string('server'), input.string('fqdn'), input.list('services'))),
    ),
  local: (input) => ({
    kind: 'probe-tls',
    inputs: {
      endpoints: { kind: 'literal', value: tlsEndpointsOf(input.string('server'), input.string('fqdn'), input.list('services')) },
      servername: input.get('fqdn'),
      timeoutSeconds: input.get('timeoutSeconds'),
    },
  }),
});
