import { isIP } from 'node:net';
import { quoteUntrusted } from '../text/untrusted.js';

/** How a client reaches TLS on a port: implicit TLS, or a plain-text greeting and STARTTLS (STLS for POP3). */
export const PROTOCOLS = ['tls', 'smtp', 'imap', 'pop3'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** One place a client connects to. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
  readonly protocol: Protocol;
  /** The name sent as SNI and checked against the certificate; the host when not given. */
  readonly servername?: string;
}

/** What Exchange serves to clients: HTTPS, IMAPS, POP3S, SMTP submission and SMTP. */
export const DEFAULT_PORTS: readonly number[] = [443, 993, 995, 587, 25];

/** The protocol a port speaks when none is given: the well-known STARTTLS ports, else implicit TLS. */
export function defaultProtocol(port: number): Protocol {
  switch (port) {
    case 25:
    case 587:
      return 'smtp';
    case 143:
      return 'imap';
    case 110:
      return 'pop3';
    default:
      return 'tls';
  }
}

/** A port list as `--port` takes it: `443,993,25/smtp`. Throws a message for people on anything else. */
export function parsePortList(text: string): Array<{ port: number; protocol: Protocol }> {
  const items = text.split(',').map((item) => item.trim());
  if (items.some((item) => item === '')) throw new Error(`${quoteUntrusted(text)} has an empty entry: write ports as 443,993,25/smtp`);
  return items.map(parsePortAndProtocol);
}

/** `HOST[:PORT[/PROTO]]`, with IPv6 addresses in brackets (`[::1]:443`). The port defaults to 443. */
export function parseTarget(text: string): Endpoint {
  const match = /^(?:\[(?<v6>[^\]]+)\]|(?<name>[^:/[\]]+))(?::(?<rest>.+))?$/.exec(text);
  const host = match?.groups?.['v6'] ?? match?.groups?.['name'];
  if (!match || host === undefined) throw new Error(`${quoteUntrusted(text)} is not HOST[:PORT[/PROTO]] (IPv6 addresses in brackets: [::1]:443)`);
  if (match.groups?.['v6'] !== undefined && isIP(host) !== 6) throw new Error(`${quoteUntrusted(host)} in brackets is not an IPv6 address`);
  checkHost(host);
  const rest = match.groups?.['rest'];
  const { port, protocol } = rest === undefined ? { port: 443, protocol: defaultProtocol(443) } : parsePortAndProtocol(rest);
  return { host, port, protocol };
}

/** Checks a host name or address given on the command line; throws a message for people. */
export function checkHost(host: string): void {
  if (isIP(host) !== 0) return;
  // Letters, digits, hyphens, underscores and dots: what DNS names in certificates and connectors use.
  if (!/^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/.test(host) || host.length > 253) {
    throw new Error(`${quoteUntrusted(host)} is not a host name or IP address`);
  }
}

/** `mail.contoso.com:443`, `[::1]:993`: how results and performance data name an endpoint. */
export function endpointLabel(endpoint: Pick<Endpoint, 'host' | 'port'>): string {
  return `${isIP(endpoint.host) === 6 ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
}

function parsePortAndProtocol(text: string): { port: number; protocol: Protocol } {
  const [portText = '', protocolText, ...extra] = text.split('/');
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535) || extra.length > 0) throw new Error(`${quoteUntrusted(text)} is not PORT[/PROTO] with a port from 1 to 65535`);
  if (protocolText === undefined) return { port, protocol: defaultProtocol(port) };
  const protocol = PROTOCOLS.find((candidate) => candidate === protocolText.toLowerCase());
  if (!protocol) throw new Error(`${quoteUntrusted(protocolText)} in ${quoteUntrusted(text)} is not a protocol: use ${PROTOCOLS.join(', ')}`);
  return { port, protocol };
}
