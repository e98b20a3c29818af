import { commentText, lines } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { field } from '../fields.js';
import { describeTlsEndpoints, TLS_ENDPOINT_FIELDS, tlsEndpointsOf } from './tls-endpoints.js';

/**
 * Proof that clients get the new certificate: enabled is not served (P15: IIS until it resets,
 * POP and IMAP until their services restart, SMTP by connector FQDN). exch-cert makes real TLS
 * handshakes from the machine it runs on, where clients connect from, with the same judgement as
 * `exch-cert verify-tls`. Default Web Site through the name clients use must serve the new
 * certificate, valid for that name. With `before` (the probe-tls step's record), every other
 * endpoint that served the old certificate must now serve the new one, one that served another
 * certificate must serve that one or the new one, and one that could not be reached is skipped;
 * without it, every endpoint must serve the new certificate.
 */
export const verifyTls = defineAction({
  name: 'verify-tls',
  summary: 'Check from this machine, with real TLS handshakes, that every endpoint that served the old certificate serves the new one.',
  runsOn: 'local',
  exchangeCmdlets: [],
  changes: false,
  destructive: false,
  fields: {
    ...TLS_ENDPOINT_FIELDS,
    thumbprint: field.thumbprint('The new certificate.'),
    oldThumbprint: field.string('The certificate being replaced (with `before`: endpoints that served it must serve the new one).', {}),
    before: field.list("What each endpoint served before the change: the probe-tls step's `served` output.", { minItems: 0 }),
  },
  outputs: {
    checked: { type: 'list', description: "Each endpoint checked and what it serves now, as 'host:port=THUMBPRINT'." },
  },
  title: (input) => `Check from here that ${input.describe('fqdn')} serves certificate ${input.describe('thumbprint')}`,
  compile: (input) =>
    lines(
      '#   exch-cert runs this check itself, from the machine it runs on (where clients connect from), not in PowerShell:',
      `#   a TLS handshake with each endpoint, SNI ${commentText(input.string('fqdn'))}, must get certificate ${commentText(input.describe('thumbprint'))} valid for that name`,
      input.has('before') ? `#   where it served ${commentText(input.describe('oldThumbprint'))} before (${commentText(input.describe('before'))}):` : '#   on every endpoint:',
      ...describeTlsEndpoints(tlsEndpointsOf(input.string('server'), input.string('fqdn'), input.list('services'))),
      `#   by hand: exch-cert verify-tls ${commentText(input.string('server'))} --servername ${commentText(input.string('fqdn'))} --port 443,993,995,25/smtp,587/smtp --expect THUMBPRINT`,
    ),
  local: (input) => ({
    kind: 'verify-tls',
    inputs: {
      endpoints: { kind: 'literal', value: tlsEndpointsOf(input.string('server'), input.string('fqdn'), input.list('services')) },
      servername: input.get('fqdn'),
      thumbprint: input.get('thumbprint'),
      ...(input.has('oldThumbprint') ? { oldThumbprint: input.get('oldThumbprint') } : {}),
      ...(input.has('before') ? { before: input.get('before') } : {}),
      timeoutSeconds: input.get('timeoutSeconds'),
    },
  }),
});
