/**
 * The two ways the integration tests reach the simulated Exchange server: in-process (--simulate:
 * the simulator module is imported into exch-cert's own shell) and through real PowerShell remoting
 * (an sshd on loopback; --connect remote with the test-only session module).
 */
import { join } from 'node:path';
import { pwshPath } from './pwsh.js';
import { writeRemoteSessionModule, type RemoteSessionOptions } from './remote-session.js';
import { remotingAvailable, startSshServer, type SshServer } from './sshd.js';

/** A test's own copy of the simulator fixture. */
export interface Workspace {
  readonly dir: string;
  readonly state: string;
  readonly pfx: string;
}

/** How a mode points exch-cert at the simulator of a workspace. */
export interface SimulatorMode {
  readonly name: string;
  readonly available: boolean;
  setUp(): Promise<void>;
  tearDown(): Promise<void>;
  /**
   * The flags that point exch-cert at the workspace's simulated server (with --simulate, which also
   * sets the backup folder). Through remoting, `session` adds to what the session module demands
   * (accounts of single servers).
   */
  target(ws: Workspace, session?: Pick<RemoteSessionOptions, 'accounts'>): string[];
}

/** The simulator imported into exch-cert's shell. */
export const inProcessMode: SimulatorMode = {
  name: 'in-process (--simulate)',
  available: pwshPath !== undefined,
  setUp: () => Promise.resolve(),
  tearDown: () => Promise.resolve(),
  target: (ws) => ['--simulate', ws.state],
};

/** The simulator on the far side of real PowerShell remoting sessions over SSH. */
export function remotingMode(): SimulatorMode {
  let sshd: SshServer | undefined;
  return {
    name: 'through PowerShell remoting (SSH)',
    available: remotingAvailable,
    setUp: async () => {
      sshd = await startSshServer();
    },
    tearDown: async () => {
      await sshd?.stop();
      sshd = undefined;
    },
    target: (ws, session) => {
      if (!sshd) throw new Error('sshd is not running');
      const module = writeRemoteSessionModule(sshd, { statePath: ws.state, ...session }, join(ws.dir, 'ExchCertSshSession.psm1'));
      // --simulate too: the TLS checks from here reach the simulated server's loopback listeners, and its backup folder is the rehearsal's.
      return ['--simulate', ws.state, '--connect', 'remote', '--remote-session-module', module];
    },
  };
}
