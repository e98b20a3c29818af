/**
 * README offers two set-ups for PowerShell 7: `pwsh` on PATH, or `.tools/pwsh` in the clone. One
 * place decides which the tests use (test/helpers/pwsh.ts). This runs a simulator test file in a
 * copy of the clone that has no .tools/, once with pwsh on PATH (the tests run and pass) and once
 * with no PowerShell at all (they are skipped, and nothing breaks on the way out).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/plan.js';
import { pwshPath } from '../helpers/pwsh.js';

/** The clone's files (tracked and new, not ignored) in a new folder, without .tools/; node_modules linked. */
function copyOfClone(): string {
  const copy = mkdtempSync(join(tmpdir(), 'exch-cert-clone-'));
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: repoRoot, encoding: 'utf8' }).split('\0').filter((file) => file !== '' && !file.startsWith('.tools'));
  for (const file of files) {
    mkdirSync(dirname(join(copy, file)), { recursive: true });
    try {
      cpSync(join(repoRoot, file), join(copy, file));
    } catch {
      // A file deleted in the work tree but still in the index.
    }
  }
  symlinkSync(join(repoRoot, 'node_modules'), join(copy, 'node_modules'));
  return copy;
}

function vitest(copy: string, path: string, env: Record<string, string>): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, [join(copy, 'node_modules', 'vitest', 'vitest.mjs'), 'run', 'test/simulator/services.test.ts'], {
    cwd: copy,
    env: { PATH: path, HOME: process.env['HOME'] ?? '/root', ...env },
    encoding: 'utf8',
    timeout: 300_000,
  });
  // Without colour codes, so the summary line reads as text.
  return { status: result.status, output: `${result.stdout}\n${result.stderr}`.replace(/\u001b\[[0-9;]*m/g, '') };
}

describe.skipIf(!pwshPath)('where the tests find PowerShell 7', { timeout: 320_000 }, () => {
  const nodeDir = dirname(process.execPath);
  const gitDir = dirname(execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim());

  it('pwsh on PATH and no .tools/pwsh: the simulator tests run and pass', () => {
    const copy = copyOfClone();
    const bin = mkdtempSync(join(tmpdir(), 'exch-cert-path-'));
    symlinkSync(pwshPath ?? 'pwsh', join(bin, 'pwsh'));
    const result = vitest(copy, [bin, nodeDir, gitDir, '/usr/bin', '/bin'].join(':'), { EXCH_CERT_REQUIRE_PWSH: '1' });
    expect(result.status, result.output).toBe(0);
    expect(result.output).toMatch(/Tests\s+3 passed \(3\)/);
    expect(result.output).not.toContain('SKIPPED');
  });

  it('no PowerShell at all: the tests say they are skipped, and nothing fails on the way out', () => {
    const copy = copyOfClone();
    const path = [nodeDir, gitDir, '/usr/bin', '/bin'].join(':');
    expect(spawnSync('sh', ['-c', 'command -v pwsh'], { env: { PATH: path } }).status).not.toBe(0);
    const result = vitest(copy, path, {});
    expect(result.status, result.output).toBe(0);
    expect(result.output).toContain('SKIPPED: tests that need PowerShell 7 (no .tools/pwsh and no pwsh on PATH)');
    expect(result.output).not.toContain("Cannot read properties of undefined (reading 'close')");
    // The one place that decides is test/helpers/pwsh.ts; no test asks existsSync of a bare command name.
    for (const file of execFileSync('git', ['ls-files', 'test'], { cwd: repoRoot, encoding: 'utf8' }).trim().split('\n')) {
      if (!file.endsWith('.ts')) continue;
      expect(readFileSync(join(repoRoot, file), 'utf8'), file).not.toMatch(/existsSync\(\s*'pwsh'\s*\)/);
    }
  });
});
