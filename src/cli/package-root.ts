import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/** The folder of exch-cert's own package.json, wherever the code runs from (dist/, src/ in tests, an install). */
export function packageRoot(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate) && (JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string }).name === 'exch-cert') {
      cached = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the exch-cert package folder');
    dir = parent;
  }
}

/** A runbook shipped with exch-cert, e.g. renew-certificate. */
export function shippedRunbook(name: string): string {
  return join(packageRoot(), 'runbooks', `${name}.yaml`);
}
