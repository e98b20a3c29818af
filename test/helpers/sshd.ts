/**
 * A real OpenSSH server on a free loopback port, with PowerShell's SSH subsystem: the tests reach
 * the simulated Exchange server through real PowerShell remoting, as production reaches Exchange.
 * Keys and configuration live in a temporary folder; the server is stopped by its pid (and every
 * process below it, found by pid), never by name.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pwshPath } from './pwsh.js';

/** The sshd binary from Debian's openssh-server. */
export const SSHD = '/usr/sbin/sshd';

/**
 * Whether these tests can run here; with EXCH_CERT_REQUIRE_REMOTING=1 (set by .ci/run) a missing
 * OpenSSH server fails the run instead of skipping it.
 */
export const remotingAvailable: boolean = pwshPath !== undefined && existsSync(SSHD) && existsSync('/usr/bin/ssh') && existsSync('/usr/bin/ssh-keygen');

if (!remotingAvailable) {
  if (process.env['EXCH_CERT_REQUIRE_REMOTING'] === '1') {
    throw new Error('EXCH_CERT_REQUIRE_REMOTING=1 but PowerShell remoting over SSH cannot run here: install openssh-server and openssh-client (apt-get install openssh-server)');
  }
  // eslint-disable-next-line no-console -- a skip must be visible in the test output
  console.warn('SKIPPED: tests through PowerShell remoting (needs /usr/sbin/sshd, ssh, ssh-keygen and PowerShell 7)');
}

export interface SshServer {
  readonly port: number;
  readonly user: string;
  /** The private key that logs in. */
  readonly keyFile: string;
  readonly dir: string;
  stop(): Promise<void>;
}

/** A TCP port nobody listens on right now. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Starts sshd; retries on another port if the one picked was taken in the meantime. */
export async function startSshServer(): Promise<SshServer> {
  if (!pwshPath) throw new Error('no PowerShell: guard the test with describe.skipIf(!remotingAvailable)');
  const dir = mkdtempSync(join(tmpdir(), 'exch-cert-sshd-'));
  const keygen = (file: string): void => {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file], { stdio: 'ignore' });
  };
  keygen(join(dir, 'host_key'));
  keygen(join(dir, 'user_key'));
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'user_key.pub')), { mode: 0o600 });
  // sshd insists on its privilege-separation folder, even when it runs unprivileged.
  if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  let lastError = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const config = join(dir, 'sshd_config');
    writeFileSync(
      config,
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${join(dir, 'host_key')}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin prohibit-password',
        'StrictModes no',
        'UsePAM no',
        'MaxSessions 50',
        'MaxStartups 50',
        // A cache of its own: PowerShell's startup profile in ~/.cache/powershell, written by every
        // pwsh on the machine at once, was once left corrupt, and every remoting session then died.
        `Subsystem powershell /usr/bin/env XDG_CACHE_HOME=${join(dir, 'cache')} ${pwshPath} -sshs -NoLogo -NoProfile`,
        '',
      ].join('\n'),
    );
    const child = spawn(SSHD, ['-D', '-f', config, '-E', join(dir, 'sshd.log')], { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (await listening(port, exited)) {
      return { port, user: userInfo().username, keyFile: join(dir, 'user_key'), dir, stop: () => stopServer(dir, child, exited) };
    }
    lastError = existsSync(join(dir, 'sshd.log')) ? readFileSync(join(dir, 'sshd.log'), 'utf8') : '';
    await stopServer(dir, child, exited, false);
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`sshd did not start: ${lastError}`);
}

/** Waits until sshd has written its pid file and accepts connections, or has exited. */
async function listening(port: number, exited: Promise<void>): Promise<boolean> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && !gone) {
    if (await accepts(port)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

async function accepts(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Stops sshd by the pid in its pid file, then every process it left below it (sessions), by pid. */
async function stopServer(dir: string, child: ChildProcess, exited: Promise<void>, remove = true): Promise<void> {
  const pidFile = join(dir, 'sshd.pid');
  const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : child.pid;
  if (pid !== undefined && Number.isInteger(pid)) {
    const below = await descendants(pid);
    signal(pid, 'SIGTERM');
    for (const victim of below) signal(victim, 'SIGKILL');
  }
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) signal(child.pid, 'SIGKILL');
  if (remove) rmSync(dir, { recursive: true, force: true });
}

async function descendants(root: number): Promise<number[]> {
  const { stdout } = await promisify(execFile)('ps', ['-A', '-o', 'pid=,ppid=']);
  const table = stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number))
    .filter((pair): pair is [number, number] => pair.length === 2 && pair.every(Number.isInteger));
  const found: number[] = [];
  const queue = [root];
  for (let parent = queue.shift(); parent !== undefined; parent = queue.shift()) {
    for (const [pid, ppid] of table) {
      if (ppid === parent && !found.includes(pid)) {
        found.push(pid);
        queue.push(pid);
      }
    }
  }
  return found;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}
