import type { Socket } from 'node:net';
import type { Protocol } from './endpoint.js';
import { escapeUntrusted } from '../text/untrusted.js';

/** The server speaks, but not the way the protocol says: no STARTTLS offered, refused, or garbage. */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

// Limits against a server that never ends a line or a reply.
const MAX_LINE = 8 * 1024;
const MAX_LINES = 500;

/**
 * Reads CRLF-terminated lines from a plain-text socket. The bytes are kept
 * as latin1 so nothing the server sends can break decoding; what is shown of
 * them is escaped.
 */
class LineReader {
  private buffer = '';
  private lines = 0;
  private waiting: { resolve: (line: string) => void; reject: (error: Error) => void } | undefined;
  private failure: Error | undefined;

  constructor(private readonly socket: Socket) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
  }

  /** The next line, without its line break; lines that arrived before the connection failed are still read. */
  next(): Promise<string> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.deliver();
    });
  }

  /**
   * Stops reading so that TLS can take over the socket. Bytes the server sent
   * after its last answer, before our handshake, are an injection attempt or a
   * confused server; either way the handshake would not be what we think.
   */
  release(): void {
    this.socket.pause();
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('error', this.onError);
    if (this.buffer !== '') throw new ProtocolError('the server sent data after agreeing to start TLS');
  }

  private readonly onData = (chunk: Buffer): void => {
    this.buffer += chunk.toString('latin1');
    if (this.buffer.length > MAX_LINE && !this.buffer.slice(0, MAX_LINE).includes('\n')) this.failure ??= new ProtocolError(`the server sent a line longer than ${MAX_LINE} bytes`);
    this.deliver();
  };

  private readonly onEnd = (): void => {
    this.failure ??= new ProtocolError('the server closed the connection before TLS started');
    this.deliver();
  };

  private readonly onError = (error: Error): void => {
    this.failure ??= error;
    this.deliver();
  };

  private deliver(): void {
    const waiting = this.waiting;
    if (!waiting) return;
    const end = this.buffer.indexOf('\n');
    if (end !== -1 && ++this.lines <= MAX_LINES) {
      this.waiting = undefined;
      waiting.resolve(this.buffer.slice(0, end).replace(/\r$/, ''));
      this.buffer = this.buffer.slice(end + 1);
    } else if (end !== -1 || this.failure) {
      this.waiting = undefined;
      waiting.reject(this.failure ?? new ProtocolError(`the server sent more than ${MAX_LINES} lines before TLS`));
    }
  }
}

/** Part of a server's line, safe to show in a message. */
function shown(line: string): string {
  const text = escapeUntrusted(line);
  return text.length > 120 ? `${text.slice(0, 120)}...` : text;
}

interface SmtpReply {
  readonly code: number;
  readonly lines: readonly string[];
}

/** One SMTP reply: `250-first`, `250-...`, `250 last`. */
async function readSmtpReply(reader: LineReader): Promise<SmtpReply> {
  const lines: string[] = [];
  for (;;) {
    const line = await reader.next();
    const match = /^(\d{3})([ -]|$)(.*)$/.exec(line);
    if (!match) throw new ProtocolError(`the server's answer is not SMTP: "${shown(line)}"`);
    lines.push(match[3] ?? '');
    if (match[2] !== '-') return { code: Number(match[1]), lines };
  }
}

async function startSmtp(reader: LineReader, socket: Socket, clientName: string): Promise<void> {
  const greeting = await readSmtpReply(reader);
  if (greeting.code !== 220) throw new ProtocolError(`the SMTP server greeted with ${greeting.code} "${shown(greeting.lines.join(' '))}" instead of 220`);
  socket.write(`EHLO ${clientName}\r\n`);
  const ehlo = await readSmtpReply(reader);
  if (ehlo.code !== 250) throw new ProtocolError(`the SMTP server answered EHLO with ${ehlo.code} "${shown(ehlo.lines.join(' '))}"`);
  if (!ehlo.lines.some((line) => /^STARTTLS\b/i.test(line))) throw new ProtocolError('the SMTP server does not offer STARTTLS (it is not in its EHLO answer)');
  socket.write('STARTTLS\r\n');
  const answer = await readSmtpReply(reader);
  if (answer.code !== 220) throw new ProtocolError(`the SMTP server answered STARTTLS with ${answer.code} "${shown(answer.lines.join(' '))}"`);
}

async function startImap(reader: LineReader, socket: Socket): Promise<void> {
  const greeting = await reader.next();
  if (/^\* PREAUTH\b/i.test(greeting)) throw new ProtocolError('the IMAP server greeted with PREAUTH, after which STARTTLS is not allowed');
  if (!/^\* OK\b/i.test(greeting)) throw new ProtocolError(`the IMAP server greeted with "${shown(greeting)}" instead of "* OK"`);
  socket.write('X1 STARTTLS\r\n');
  for (;;) {
    const line = await reader.next();
    // Untagged lines (capabilities, alerts) may come before the tagged answer.
    if (line.startsWith('* ')) continue;
    if (/^X1 OK\b/i.test(line)) return;
    if (/^X1 (NO|BAD)\b/i.test(line)) throw new ProtocolError(`the IMAP server does not offer STARTTLS: "${shown(line)}"`);
    throw new ProtocolError(`the IMAP server's answer to STARTTLS is not IMAP: "${shown(line)}"`);
  }
}

async function startPop3(reader: LineReader, socket: Socket): Promise<void> {
  const greeting = await reader.next();
  if (!/^\+OK\b/i.test(greeting)) throw new ProtocolError(`the POP3 server greeted with "${shown(greeting)}" instead of "+OK"`);
  socket.write('STLS\r\n');
  const answer = await reader.next();
  if (/^-ERR\b/i.test(answer)) throw new ProtocolError(`the POP3 server does not offer STLS: "${shown(answer)}"`);
  if (!/^\+OK\b/i.test(answer)) throw new ProtocolError(`the POP3 server's answer to STLS is not POP3: "${shown(answer)}"`);
}

/**
 * The plain-text part of a STARTTLS protocol on a connected socket: greeting,
 * (EHLO,) STARTTLS or STLS, and the server's go-ahead. Afterwards the socket
 * is paused and ready for the TLS handshake. Nothing is authenticated and no
 * mail is sent. `clientName` is what EHLO announces.
 */
export async function negotiateStartTls(socket: Socket, protocol: Exclude<Protocol, 'tls'>, clientName: string): Promise<void> {
  const reader = new LineReader(socket);
  switch (protocol) {
    case 'smtp':
      await startSmtp(reader, socket, clientName);
      break;
    case 'imap':
      await startImap(reader, socket);
      break;
    case 'pop3':
      await startPop3(reader, socket);
      break;
  }
  reader.release();
}
