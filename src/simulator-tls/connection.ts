import type { Socket } from 'node:net';
import { createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import type { Duplex } from 'node:stream';
import { imapDialog, pop3Dialog, smtpDialog, type Dialog } from './dialogs.js';
import { certificateIn, iisThumbprint, isListening, parseBindingInformation, servedThumbprint, smtpFqdn, type EndpointPlan } from './rules.js';
import type { SecureContexts } from './secure-context.js';
import { readSimulatedServer, type SimulatedServer } from './state.js';

/** What every connection of one set of listeners shares. */
export interface ConnectionEnvironment {
  readonly statePath: string;
  readonly serverName: string;
  readonly contexts: SecureContexts;
  readonly now: () => Date;
  /** Every socket made, so that closing the listeners ends them. */
  track(socket: Duplex): void;
}

/** How TLS starts on one connection: the certificate (by SNI for IIS) as the state says now. */
interface TlsOptions {
  readonly secureContext: SecureContext;
  readonly SNICallback?: (servername: string, done: (error: Error | null, context?: SecureContext) => void) => void;
}

// A client that never ends a line gets no more than this before it is cut off.
const MAX_LINE = 8 * 1024;

/**
 * Serves one accepted connection (paused until now): reads the state, refuses at once (a reset)
 * when the endpoint's service is not running, then speaks the endpoint's protocol. The certificate
 * is chosen from the state read at the handshake: at once on implicit-TLS ports, at STARTTLS on
 * the others.
 */
export async function serveConnection(socket: Socket, plan: EndpointPlan, env: ConnectionEnvironment): Promise<void> {
  env.track(socket);
  socket.on('error', () => socket.destroy());
  const server = await readSimulatedServer(env.statePath, env.serverName).catch(() => undefined);
  if (socket.destroyed) return;
  if (!server || !isListening(server, plan)) {
    socket.resetAndDestroy();
    return;
  }
  if (plan.protocol === 'tls') {
    const options = tlsOptions(server, plan, env);
    if (!options) {
      socket.resetAndDestroy();
      return;
    }
    startTls(socket, options, env, (secure) => (plan.service === 'iis' ? answerHttp(secure, server, plan, env) : greetAndConverse(secure, dialogFor(server, plan, env), true, undefined, env)));
    return;
  }
  const starter: TlsStarter = {
    available: tlsOptions(server, plan, env) !== undefined,
    prepare: async () => {
      const now = await readSimulatedServer(env.statePath, env.serverName).catch(() => undefined);
      return now ? tlsOptions(now, plan, env) : undefined;
    },
  };
  greetAndConverse(socket, dialogFor(server, plan, env), false, starter, env);
}

/** The plain-text protocol of a mail endpoint (IIS speaks HTTP, and only after the handshake). */
function dialogFor(server: SimulatedServer, plan: EndpointPlan, env: ConnectionEnvironment): Dialog {
  if (plan.service === 'smtp') return smtpDialog(smtpFqdn(server, plan), env.now);
  return plan.service === 'imap' ? imapDialog() : pop3Dialog();
}

/** The TLS options the endpoint would serve with now; undefined when it has nothing to serve. */
function tlsOptions(server: SimulatedServer, plan: EndpointPlan, env: ConnectionEnvironment): TlsOptions | undefined {
  const contextOf = (thumbprint: string | undefined): SecureContext | undefined => {
    const record = thumbprint === undefined ? undefined : certificateIn(server, thumbprint);
    if (!record) return undefined;
    try {
      return env.contexts.contextFor(record);
    } catch {
      return undefined;
    }
  };
  if (plan.service !== 'iis') {
    const secureContext = contextOf(servedThumbprint(server, plan));
    return secureContext ? { secureContext } : undefined;
  }
  const binding = parseBindingInformation(plan.bindingInformation ?? '');
  if (!binding) return undefined;
  const choose = (servername: string | undefined): SecureContext | undefined => contextOf(iisThumbprint(server, binding.ip, binding.port, servername));
  // Without SNI http.sys goes by the address alone; a client that sends a name may still find an SNI binding.
  return {
    secureContext: choose(undefined) ?? createSecureContext(),
    SNICallback: (servername, done) => {
      const context = choose(servername);
      if (context) done(null, context);
      else done(new Error(`no certificate for ${servername}`));
    },
  };
}

function startTls(socket: Duplex, options: TlsOptions, env: ConnectionEnvironment, then: (secure: TLSSocket) => void): void {
  const secure = new TLSSocket(socket, { isServer: true, ...options });
  env.track(secure);
  // A failed handshake (no certificate, the client gave up) just ends the connection.
  secure.on('error', () => secure.destroy());
  secure.once('secure', () => then(secure));
}

interface TlsStarter {
  /** Whether a certificate could be offered when the connection began (SMTP advertises STARTTLS by it). */
  readonly available: boolean;
  /** The options for the handshake, read from the state now. */
  prepare(): Promise<TlsOptions | undefined>;
}

/** Greets (unless TLS just started on a STARTTLS port) and answers line by line. */
function greetAndConverse(socket: Duplex, dialog: Dialog, secure: boolean, starter: TlsStarter | undefined, env: ConnectionEnvironment): void {
  socket.write(dialog.greeting());
  converse(socket, dialog, secure, starter, env);
}

function converse(socket: Duplex, dialog: Dialog, secure: boolean, starter: TlsStarter | undefined, env: ConnectionEnvironment): void {
  let buffer = '';
  let busy = false;
  let done = false;
  const pump = async (): Promise<void> => {
    if (busy || done) return;
    busy = true;
    try {
      for (let end = buffer.indexOf('\n'); end !== -1 && !done; end = buffer.indexOf('\n')) {
        const line = buffer.slice(0, end).replace(/\r$/, '');
        buffer = buffer.slice(end + 1);
        const asksTls = !secure && starter !== undefined && dialog.startsTls(line);
        const prepared = asksTls ? await starter.prepare() : undefined;
        if (socket.destroyed) return;
        const answer = dialog.answer(line, { secure, tlsAvailable: asksTls ? prepared !== undefined : !secure && starter?.available === true });
        if (answer.next === 'start-tls' && prepared) {
          done = true;
          socket.pause();
          socket.off('data', onData);
          socket.write(answer.text);
          // Bytes sent before the go-ahead would be read as part of the handshake (a STARTTLS injection).
          if (buffer !== '') socket.destroy();
          else startTls(socket, prepared, env, (tls) => converse(tls, dialog, true, undefined, env));
          return;
        }
        socket.write(answer.text);
        if (answer.next === 'close') {
          done = true;
          socket.end();
        }
      }
    } finally {
      busy = false;
    }
    // A line may have arrived while the last one was answered.
    if (!done && buffer.includes('\n')) await pump();
  };
  const onData = (chunk: Buffer): void => {
    buffer += chunk.toString('latin1');
    if (buffer.length > MAX_LINE && !buffer.includes('\n')) {
      socket.destroy();
      return;
    }
    void pump();
  };
  socket.on('data', onData);
  socket.resume();
}

/** IIS answers any request with a short page naming the binding, then closes. */
function answerHttp(socket: TLSSocket, server: SimulatedServer, plan: EndpointPlan, env: ConnectionEnvironment): void {
  socket.once('data', () => {
    const body = `ExchCertSimulator: ${server.name} ${plan.name} ${plan.bindingInformation ?? ''}\n`;
    socket.end(`HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nDate: ${env.now().toUTCString()}\r\nConnection: close\r\n\r\n${body}`);
  });
}
