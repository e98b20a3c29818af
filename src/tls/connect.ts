import { readFileSync } from 'node:fs';
import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { connect as connectSecure, rootCertificates, type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import type { Endpoint } from './endpoint.js';
import { negotiateStartTls, ProtocolError } from './starttls.js';
import { thumbprintOf } from './thumbprint.js';

/** A certificate a server sent, as plain facts. Text fields are the server's, unescaped: escape before printing. */
export interface ServedCertificate {
  /** SHA-1 of the DER, upper-case hex, as Exchange shows it. */
  readonly thumbprint: string;
  /** Windows order, most specific first: `CN=mail.contoso.com, O=Contoso, C=US`. */
  readonly subject: string;
  readonly issuer: string;
  /** DNS names and IP addresses of the subject alternative name extension. */
  readonly names: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** What `tls.checkServerIdentity` reads: the subject's common names and Node's subjectaltname string. */
  readonly identity: { readonly commonNames: readonly string[]; readonly subjectaltname: string | undefined };
}

/** What one handshake showed. */
export interface Handshake {
  readonly certificate: ServedCertificate;
  /** The certificates above the leaf as far as a chain could be built: those the server sent, then this machine's trust store. */
  readonly issuers: readonly ServedCertificate[];
  /** The server sent every certificate between its leaf and a trust anchor (or the leaf needs none). */
  readonly intermediatesSent: boolean;
  /** OpenSSL's chain verification error (`UNABLE_TO_VERIFY_LEAF_SIGNATURE`, ...), undefined when the chain is trusted. The name is checked separately. */
  readonly trustError: string | undefined;
  /** `TLSv1.3`, `TLSv1.2`. */
  readonly tlsVersion: string;
}

/** The endpoint could not be checked: refused, timed out, not found, or the protocol failed before a certificate arrived. */
export class UnreachableError extends Error {
  override name = 'UnreachableError';
  /**
   * @param answered the server answered (the connection was made), and then the TLS handshake or
   * its dialog failed: a server that serves no usable certificate, rather than one this machine
   * cannot reach.
   */
  constructor(message: string, readonly answered = false) {
    super(message);
  }
}

/** Socket errors that come after the server accepted the connection. */
const ANSWERED_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE']);

export interface ConnectOptions {
  /** SNI and the name the certificate is checked against. */
  readonly servername: string;
  /** For the whole exchange: connection, STARTTLS dialog and handshake. */
  readonly timeoutMs: number;
}

/** Makes one handshake with an endpoint; rejects with UnreachableError when there is none. */
export type Connect = (endpoint: Endpoint, options: ConnectOptions) => Promise<Handshake>;

/**
 * A real handshake from this machine with Node's TLS (OpenSSL), verifying the
 * chain against Node's trust store plus NODE_EXTRA_CA_CERTS, as Node clients
 * do. Certificates are accepted whatever they are, so that what is served can
 * be reported; the connection is closed right after the handshake.
 */
export const connectTls: Connect = (endpoint, options) =>
  new Promise<Handshake>((resolve, reject) => {
    const sockets: Socket[] = [];
    let settled = false;
    const finish = (outcome: { handshake: Handshake } | { error: unknown }): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // Whatever the sockets say from now on (a reset after our goodbye) is of no interest.
      for (const socket of sockets) socket.on('error', () => undefined);
      if ('handshake' in outcome) {
        // A polite close (close_notify, then FIN) so that servers do not log a failed handshake.
        const secure = sockets[sockets.length - 1];
        secure?.end();
        setTimeout(() => secure?.destroy(), 1000).unref();
        resolve(outcome.handshake);
      } else {
        // The TLS socket owns the plain one's handle: destroying the plain one first crashes Node (SIGSEGV in 20.x).
        for (const socket of [...sockets].reverse()) socket.destroy();
        reject(toUnreachable(outcome.error));
      }
    };
    const timer = setTimeout(() => finish({ error: new UnreachableError(`no TLS handshake within ${options.timeoutMs / 1000} s`) }), options.timeoutMs);

    const plain = connectTcp({ host: endpoint.host, port: endpoint.port });
    sockets.push(plain);
    plain.once('error', (error) => finish({ error }));
    plain.once('connect', () => {
      const dialog = endpoint.protocol === 'tls' ? Promise.resolve() : negotiateStartTls(plain, endpoint.protocol, clientName());
      dialog.then(
        () => {
          if (settled) return;
          const secure: TLSSocket = connectSecure({
            socket: plain,
            // SNI takes names only (RFC 6066); an address is still checked against the certificate.
            ...(isIP(options.servername) === 0 ? { servername: options.servername } : {}),
            rejectUnauthorized: false,
            // The name is judged by the caller with tls.checkServerIdentity, so that trustError is about the chain alone.
            checkServerIdentity: () => undefined,
          });
          sockets.push(secure);
          secure.once('error', (error) => finish({ error }));
          secure.once('secureConnect', () => {
            try {
              finish({ handshake: describeHandshake(secure) });
            } catch (error) {
              finish({ error });
            }
          });
        },
        (error: unknown) => finish({ error }),
      );
    });
  });

function describeHandshake(socket: TLSSocket): Handshake {
  const leaf = socket.getPeerCertificate(true);
  if (!leaf.raw) throw new ProtocolError('the server sent no certificate');
  const chain = [leaf];
  for (let cert = leaf; cert.issuerCertificate && cert.issuerCertificate !== cert && chain.length < 16; cert = cert.issuerCertificate) chain.push(cert.issuerCertificate);
  return {
    certificate: describeCertificate(leaf),
    issuers: chain.slice(1).map(describeCertificate),
    intermediatesSent: intermediatesSent(chain),
    trustError: socket.authorized ? undefined : String(socket.authorizationError),
    tlsVersion: socket.getProtocol() ?? 'unknown',
  };
}

/*
 * Node builds the chain from what the server sent and, where that ends short
 * of a root, continues from the trust store. So the server sent every
 * certificate up to the first one that is a root or in the store. A chain
 * that ends below a root without reaching the store is missing an issuer:
 * when that is the leaf's, the server sent nothing above its leaf; above an
 * intermediate it sent, the missing one is most likely a root this machine
 * does not trust, which the trust error reports. An intermediate that this
 * machine's store holds counts as present.
 */
function intermediatesSent(chain: readonly DetailedPeerCertificate[]): boolean {
  for (let i = 0; i < chain.length; i++) {
    const cert = chain[i];
    if (cert?.issuerCertificate === cert) return true;
    const issuer = chain[i + 1];
    if (!issuer) return i > 0;
    if (trustAnchors().has(issuer.raw.toString('base64'))) return true;
  }
  return false;
}

let anchors: Set<string> | undefined;

/** The DER (base64) of every certificate Node trusts: its bundled roots and NODE_EXTRA_CA_CERTS. */
function trustAnchors(): Set<string> {
  if (anchors) return anchors;
  const pems = [...rootCertificates];
  const extra = process.env['NODE_EXTRA_CA_CERTS'];
  if (extra) {
    try {
      pems.push(readFileSync(extra, 'latin1'));
    } catch {
      // Node itself only warns about an unreadable file; then it adds nothing.
    }
  }
  anchors = new Set(pems.flatMap((pem) => [...pem.matchAll(/-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/g)].map((match) => (match[1] ?? '').replace(/\s+/g, ''))));
  return anchors;
}

function describeCertificate(cert: DetailedPeerCertificate): ServedCertificate {
  const commonNames = [cert.subject?.CN ?? []].flat();
  return {
    thumbprint: thumbprintOf(cert.raw),
    subject: windowsName(cert.subject),
    issuer: windowsName(cert.issuer),
    names: altNames(cert.subjectaltname),
    notBefore: certificateDate(cert.valid_from),
    notAfter: certificateDate(cert.valid_to),
    identity: { commonNames, subjectaltname: cert.subjectaltname },
  };
}

function certificateDate(text: string): Date {
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) throw new ProtocolError(`the certificate has a validity date that cannot be read`);
  return date;
}

// Windows' short names, where they differ from OpenSSL's.
const WINDOWS_ATTRIBUTE_NAMES: Record<string, string> = { ST: 'S', emailAddress: 'E' };

/** A distinguished name as Windows and Exchange show it: most specific first, values with separators quoted. */
function windowsName(name: Readonly<Record<string, string | string[] | undefined>> | undefined): string {
  if (!name) return '';
  const parts = Object.entries(name).flatMap(([key, value]) => [value ?? []].flat().map((item) => `${WINDOWS_ATTRIBUTE_NAMES[key] ?? key}=${/[,+="<>#;]|^\s|\s$/.test(item) ? `"${item.replace(/"/g, '""')}"` : item}`));
  return parts.reverse().join(', ');
}

/**
 * DNS names and IP addresses from Node's `subjectaltname` string
 * (`DNS:a, DNS:b, IP Address:1.2.3.4`), where entries with separators or
 * unusual characters come JSON-quoted (`DNS:"a,b"`).
 */
export function altNames(subjectaltname: string | undefined): string[] {
  const names: string[] = [];
  let rest = subjectaltname ?? '';
  while (rest !== '') {
    const colon = rest.indexOf(':');
    if (colon === -1) break;
    const kind = rest.slice(0, colon);
    rest = rest.slice(colon + 1);
    let value: string;
    const quoted = rest.startsWith('"') ? /^"(?:[^"\\]|\\.)*"/.exec(rest) : null;
    if (quoted) {
      value = JSON.parse(quoted[0]) as string;
      rest = rest.slice(quoted[0].length);
    } else {
      const end = rest.indexOf(', ');
      value = end === -1 ? rest : rest.slice(0, end);
      rest = end === -1 ? '' : rest.slice(end);
    }
    rest = rest.replace(/^, /, '');
    if (kind === 'DNS' || kind === 'IP Address') names.push(value);
  }
  return names;
}

function clientName(): string {
  // EHLO wants a domain; a host name that is not one would be refused by strict servers.
  const name = hostname();
  return /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(name) ? name : 'localhost';
}

const SOCKET_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by the server',
  EPIPE: 'connection closed by the server',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name could not be resolved (DNS did not answer)',
};

function toUnreachable(error: unknown): UnreachableError {
  if (error instanceof UnreachableError) return error;
  if (error instanceof ProtocolError) return new UnreachableError(`protocol error: ${error.message}`, true);
  const code = (error as { code?: unknown } | undefined)?.code;
  const known = typeof code === 'string' ? SOCKET_ERRORS[code] : undefined;
  if (known) return new UnreachableError(known, typeof code === 'string' && ANSWERED_CODES.has(code));
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === 'string' && code.startsWith('ERR_SSL_')) {
    const hint =
      code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG'
        ? ' (the port may speak plain text first: try PORT/smtp, PORT/imap or PORT/pop3)'
        : code === 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' || code === 'ERR_SSL_UNSUPPORTED_PROTOCOL'
          ? ' (the server offers neither TLS 1.2 nor 1.3, which clients need)'
          : '';
    return new UnreachableError(`TLS handshake failed: ${code.slice('ERR_SSL_'.length).toLowerCase().replace(/_/g, ' ')}${hint}`, true);
  }
  return new UnreachableError(`TLS handshake failed: ${message}`, true);
}
