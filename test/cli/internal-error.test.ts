/**
 * A bug in exch-cert (exit 70) prints a stack trace that points at src/, not at the minified
 * dist/chunks files: the reporter maps each frame through the source maps the build writes.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cliBin, runCli, STACK_LINE } from '../helpers/cli.js';
import { repoRoot } from '../helpers/plan.js';

/** The built chunk that holds `main`, as bin.js loads it. */
function mainChunk(): string {
  const name = /import\("\.\/(chunks\/main-[A-Za-z0-9]+\.js)"\)/.exec(readFileSync(cliBin, 'utf8'))?.[1];
  if (name === undefined) throw new Error('bin.js does not load a main chunk');
  return join(dirname(cliBin), name);
}

describe('an internal error', () => {
  it('is exit 70 with a stack trace whose frames point at the sources', () => {
    // A real bug inside the built code: a command writing to a stream that is not there.
    const script = `
      const { main } = await import(${JSON.stringify(pathToFileURL(mainChunk()).href)});
      let stderr = '';
      const code = await main(['schema'], { stdout: null, stderr: { write: (text) => (stderr += text) }, env: {}, cwd: process.cwd() });
      process.stdout.write(JSON.stringify({ code, stderr }));
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
    expect(child.status, child.stderr).toBe(0);
    const { code, stderr } = JSON.parse(child.stdout) as { code: number; stderr: string };
    expect(code).toBe(70);
    expect(stderr).toContain('exch-cert: internal error (this is a bug in exch-cert; please report it with this output)');
    expect(stderr).toMatch(STACK_LINE);
    // The frame where it broke is the line of src/cli/commands/schema.ts that writes to stdout.
    const sourceLine = readFileSync(join(repoRoot, 'src', 'cli', 'commands', 'schema.ts'), 'utf8').split('\n').findIndex((line) => line.includes('io.stdout.write')) + 1;
    expect(stderr).toMatch(new RegExp(`at .*src/cli/commands/schema\\.ts:${sourceLine}:\\d+`));
    expect(stderr).toMatch(/at .*src\/cli\/main\.ts:\d+:\d+/);
    // No frame of exch-cert's own code is left pointing into the bundle.
    expect(stderr).not.toMatch(/chunks\/[A-Za-z0-9-]+\.js:\d+/);
  });

  it('a user error never shows a stack (simulator init into a path under a file is exit 2)', () => {
    const result = runCli(['simulator', 'init', '--dir', '/dev/null/sim'], { env: { EXCH_CERT_PFX_PASSWORD: 'rehearsal-pfx' } });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--dir "/dev/null/sim": part of /dev/null/sim is a file, not a folder');
    expect(result.stderr).not.toMatch(STACK_LINE);
  });
});
