import { join } from 'node:path';
import { packageRoot } from './package-root.js';

/** The simulated Exchange server module shipped with exch-cert. */
export function simulatorModulePath(): string {
  return join(packageRoot(), 'src', 'simulator', 'ExchCertSimulator.psm1');
}

/** Where rehearsals keep their state, PFX and backups unless told otherwise. */
export function defaultSimulatorDir(cwd: string): string {
  return join(cwd, '.exch-cert', 'simulator');
}
