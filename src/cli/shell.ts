import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { packageRoot } from './package-root.js';

/**
 * The shell to run: --shell, else Windows PowerShell 5.1 on Windows (Exchange
 * needs it) and pwsh elsewhere; off Windows, a pwsh installed as a .NET tool in
 * exch-cert's own .tools/ folder is used when none is on PATH.
 */
export function resolveShell(shell: string | undefined, env: Readonly<Record<string, string | undefined>>): string {
  if (shell !== undefined) return shell;
  if (process.platform === 'win32') return 'powershell';
  if (findOnPath('pwsh', env['PATH'] ?? '')) return 'pwsh';
  const local = join(packageRoot(), '.tools', 'pwsh');
  return existsSync(local) ? local : 'pwsh';
}

/**
 * A PowerShell 7 to parse scripts with, for lint: --shell, else exch-cert's
 * own .tools/pwsh, else pwsh on PATH; undefined when there is none. Never
 * Windows PowerShell by default: lint's verdicts are PowerShell 7's.
 */
export function findPwsh(shell: string | undefined, env: Readonly<Record<string, string | undefined>>): string | undefined {
  if (shell !== undefined) return shell;
  const local = join(packageRoot(), '.tools', process.platform === 'win32' ? 'pwsh.exe' : 'pwsh');
  if (existsSync(local)) return local;
  const name = process.platform === 'win32' ? 'pwsh.exe' : 'pwsh';
  return findOnPath(name, env['PATH'] ?? env['Path'] ?? '') ? name : undefined;
}

function findOnPath(name: string, path: string): boolean {
  return path.split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
