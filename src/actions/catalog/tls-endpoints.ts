import { commentText } from '../../powershell/script.js';
import { field, FQDN_PATTERN } from '../fields.js';
import { EXCHANGE_SERVICES } from './enable-certificate.js';

/** The ports an Exchange service serves TLS on, and how clients start it. */
const SERVICE_PORTS: ReadonlyArray<{ readonly service: string; readonly port: number; readonly protocol: 'tls' | 'smtp' }> = [
  { service: 'IMAP', port: 993, protocol: 'tls' },
  { service: 'POP', port: 995, protocol: 'tls' },
  { service: 'SMTP', port: 25, protocol: 'smtp' },
  { service: 'SMTP', port: 587, protocol: 'smtp' },
];

/**
 * The endpoints the renewal checks, as the local runner takes them: `host|port|protocol|primary`.
 * The primary one, Default Web Site through the name clients use, must serve the new certificate
 * whatever it served before; the others (443 through the server's own name, 993 and 995 for IMAP
 * and POP, SMTP on 25 and 587) must serve it where they served the old one.
 */
export function tlsEndpointsOf(server: string, fqdn: string, services: readonly string[]): string[] {
  const others = SERVICE_PORTS.filter((entry) => services.includes(entry.service)).map((entry) => `${server}|${entry.port}|${entry.protocol}|`);
  return [`${fqdn}|443|tls|primary`, `${server}|443|tls|`, ...others];
}

/** The endpoints as the dry run lists them, one comment line each. */
export function describeTlsEndpoints(endpoints: readonly string[]): string[] {
  return endpoints.map((entry) => {
    const [host = '', port = '', protocol = '', primary = ''] = entry.split('|');
    return `#     ${commentText(`${host}:${port}/${protocol}`)}${primary ? ' (must serve the new certificate whatever it served before)' : ''}`;
  });
}

/** The fields both TLS steps take: which server, the name clients use, and the services to check. */
export const TLS_ENDPOINT_FIELDS = {
  server: field.server(),
  fqdn: field.string('The name clients use: sent as SNI, and every endpoint serving the new certificate must be valid for it.', {
    required: true,
    pattern: FQDN_PATTERN,
    patternMessage: 'expected an FQDN such as mail.contoso.com',
    planTime: true,
  }),
  services: field.list('The services the certificate is for: 993 with IMAP, 995 with POP, 25 and 587 with SMTP (443 always).', { required: true, enum: EXCHANGE_SERVICES, planTime: true }),
  timeoutSeconds: field.number('How long each handshake may take.', { default: 10, integer: true, min: 1, max: 120 }),
};
