/**
 * Real TLS servers on loopback for the tests: `openssl s_server` (implicit
 * TLS), dovecot (IMAP and POP3, STARTTLS/STLS and implicit TLS) and aiosmtpd
 * (SMTP with STARTTLS). Each is started on free ports of 127.0.0.1 with a
 * configuration written into a temporary folder, and stopped by its pid.
 *
 * Without the server programs the tests say they are skipped; with
 * EXCH_CERT_REQUIRE_TLS_SERVERS=1 (set by .ci/run, which installs them) a
 * missing one fails the run instead.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';

const PYTHON = '/usr/bin/python3';
const DOVECOT = '/usr/sbin/dovecot';

function missingPrograms(): string[] {
  const missing: string[] = [];
  if (spawnSync('openssl', ['version'], { stdio: 'ignore' }).status !== 0) missing.push('openssl');
  if (spawnSync(DOVECOT, ['--version'], { stdio: 'ignore' }).status !== 0) missing.push('dovecot (Debian packages dovecot-imapd, dovecot-pop3d)');
  if (spawnSync(PYTHON, ['-c', 'import aiosmtpd'], { stdio: 'ignore' }).status !== 0) missing.push('aiosmtpd for /usr/bin/python3 (Debian package python3-aiosmtpd)');
  return missing;
}

const missing = missingPrograms();

/** True when every server program is installed. */
export const haveTlsServers = missing.length === 0;

if (!haveTlsServers) {
  if (process.env['EXCH_CERT_REQUIRE_TLS_SERVERS'] === '1') {
    throw new Error(`EXCH_CERT_REQUIRE_TLS_SERVERS=1 but these are missing: ${missing.join(', ')}; install them with apt-get (see .ci/run)`);
  }
  // eslint-disable-next-line no-console -- a skip must be visible in the test output
  console.warn(`SKIPPED: tests against real TLS servers (missing: ${missing.join(', ')})`);
}

/** A server the test started; `stop()` ends it by its pid. */
export interface TestServer {
  readonly pid: number;
  stop(): Promise<void>;
}

/** A port of 127.0.0.1 that was free a moment ago (for servers that cannot choose their own). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Servers still running: killed by pid if the test process exits without stopping them (a failed beforeAll, an uncaught error). */
const running = new Set<number>();
process.once('exit', () => {
  for (const pid of running) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
});

/** A child process with its output kept for error messages, and a stop by pid. */
class ServerProcess implements TestServer {
  output = '';
  readonly pid: number;
  private readonly exited: Promise<void>;

  constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    if (child.pid === undefined) throw new Error(`${name} did not start`);
    this.pid = child.pid;
    running.add(this.pid);
    child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString('utf8')));
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        running.delete(this.pid);
        resolve();
      }),
    );
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async waitForOutput(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.output);
      if (match) return match;
      if (!this.running || Date.now() > deadline) {
        await this.stop();
        throw new Error(`${this.name} did not get ready (${this.running ? 'timed out' : 'exited'}); its output:\n${this.output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    process.kill(this.pid, 'SIGTERM');
    const killer = setTimeout(() => this.running && process.kill(this.pid, 'SIGKILL'), 5000);
    await this.exited;
    clearTimeout(killer);
  }
}

/** A server that listens on `port`, accepting connections. */
async function waitForPort(server: ServerProcess, port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (!server.running || Date.now() > deadline) {
      await server.stop();
      throw new Error(`${server.name} does not listen on ${port}; its output:\n${server.output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** `openssl s_server` with implicit TLS; `chain` (the intermediate) is sent after the leaf when given. */
export async function startOpenSslServer(options: { cert: string; key: string; chain?: string; extraArgs?: readonly string[] }): Promise<TestServer & { port: number }> {
  const args = ['s_server', '-accept', '127.0.0.1:0', '-cert', options.cert, '-key', options.key, '-www', '-naccept', '100000', ...(options.extraArgs ?? [])];
  if (options.chain) args.push('-cert_chain', options.chain);
  const server = new ServerProcess('openssl s_server', spawn('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  const match = await server.waitForOutput(/^ACCEPT 127\.0\.0\.1:(\d+)$/m);
  return Object.assign(server, { port: Number(match[1]) });
}

export interface DovecotPorts {
  /** IMAP with STARTTLS (like 143). */
  readonly imap: number;
  /** IMAP over implicit TLS (like 993); absent without TLS. */
  readonly imaps?: number;
  /** POP3 with STLS (like 110). */
  readonly pop3: number;
  /** POP3 over implicit TLS (like 995); absent without TLS. */
  readonly pop3s?: number;
}

/**
 * Dovecot in the foreground (`dovecot -F -c FILE`), with its own base and state
 * folders under `dir`, on free ports. `certChain` is what it sends (leaf, then
 * intermediates); without it, TLS is off and STARTTLS is not offered.
 */
export async function startDovecot(dir: string, options: { certChain: string; key: string } | { tls: false }): Promise<TestServer & { ports: DovecotPorts }> {
  for (const sub of ['run', 'state', 'home', 'mail']) mkdirSync(join(dir, sub), { recursive: true });
  const tls = 'certChain' in options;
  const ports = { imap: await freePort(), pop3: await freePort(), ...(tls ? { imaps: await freePort(), pop3s: await freePort() } : {}) };
  const listener = (name: string, port: number | undefined, ssl: boolean): string => (port === undefined ? '' : `  inet_listener ${name} {\n    address = 127.0.0.1\n    port = ${port}\n${ssl ? '    ssl = yes\n' : ''}  }\n`);
  const config = [
    `base_dir = ${join(dir, 'run')}`,
    `state_dir = ${join(dir, 'state')}`,
    'log_path = /dev/stderr',
    'protocols = imap pop3',
    'listen = 127.0.0.1',
    tls ? `ssl = yes\nssl_cert = <${options.certChain}\nssl_key = <${options.key}\nssl_min_protocol = TLSv1.2` : 'ssl = no',
    'auth_mechanisms = plain',
    'passdb {\n  driver = static\n  args = nopassword=y\n}',
    `userdb {\n  driver = static\n  args = uid=nobody gid=nogroup home=${join(dir, 'home')}\n}`,
    `mail_location = maildir:${join(dir, 'mail')}`,
    `service imap-login {\n${listener('imap', ports.imap, false)}${listener('imaps', ports.imaps, true)}}`,
    `service pop3-login {\n${listener('pop3', ports.pop3, false)}${listener('pop3s', ports.pop3s, true)}}`,
    '',
  ].join('\n');
  const file = join(dir, 'dovecot.conf');
  writeFileSync(file, config);
  const server = new ServerProcess('dovecot', spawn(DOVECOT, ['-F', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] }));
  for (const port of Object.values(ports)) await waitForPort(server, port);
  return Object.assign(server, { ports });
}

const SMTP_SERVER = String.raw`
import asyncio, os, ssl, sys
from aiosmtpd.smtp import SMTP

class Handler:
    async def handle_DATA(self, server, session, envelope):
        return '250 OK'

async def main():
    chain, key = sys.argv[1], sys.argv[2]
    context = None
    if chain:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(chain, key)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Handler(), hostname='smtp.exch-cert.test', tls_context=context, require_starttls=False), host='127.0.0.1', port=0)
    # Exits when the test process goes away, even if it could not stop this one.
    loop.add_reader(0, lambda: os.read(0, 1024) or os._exit(0))
    print('LISTENING', server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
`;

/** aiosmtpd on a free port, offering STARTTLS with `certChain` (leaf, then intermediates), or no STARTTLS without it. */
export async function startSmtpServer(dir: string, options: { certChain: string; key: string } | { tls: false }): Promise<TestServer & { port: number }> {
  mkdirSync(dir, { recursive: true });
  const script = join(dir, 'smtp-server.py');
  writeFileSync(script, SMTP_SERVER);
  const args = 'certChain' in options ? [options.certChain, options.key] : ['', ''];
  const server = new ServerProcess('aiosmtpd', spawn(PYTHON, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] }));
  const match = await server.waitForOutput(/^LISTENING (\d+)$/m);
  return Object.assign(server, { port: Number(match[1]) });
}
