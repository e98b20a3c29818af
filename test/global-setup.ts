import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Builds the CLI once per test run into a private folder (the tests run it as
 * users do), so a stale or concurrently rebuilt dist/ never affects them.
 */
export default function setup({ provide }: { provide: (key: 'cliDist', value: string) => void }): () => void {
  const outdir = join('.test-dist', String(process.pid));
  execFileSync(process.execPath, ['scripts/build.mjs', '--outdir', outdir], { stdio: 'inherit' });
  provide('cliDist', join(process.cwd(), outdir));
  return () => rmSync(outdir, { recursive: true, force: true });
}

declare module 'vitest' {
  export interface ProvidedContext {
    cliDist: string;
  }
}
