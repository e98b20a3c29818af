/**
 * How the connection refuses what would act on the wrong machine, on a real PowerShell: --connect
 * local runs the IIS and service steps in exch-cert's own shell, so that shell must be on the named
 * server, and Windows PowerShell 5.1 (PowerShell 7 reaches IIS only through its compatibility layer).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { repoRoot } from '../helpers/plan.js';
import { pwshPath } from '../helpers/pwsh.js';

const validate = (...extra: string[]): string[] => ['run', join(repoRoot, 'runbooks', 'validate-exchange.yaml'), '--server', 'EXCH02', '--connect', 'local', '--shell', pwshPath ?? 'pwsh', ...extra];

describe.skipIf(!pwshPath)('--connect local', { timeout: 60_000 }, () => {
  it('refuses to run host steps for EXCH02 on another computer, before any step', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'exch-cert-local-'));
    const result = runCli(validate(), { cwd, env: { COMPUTERNAME: 'ADMINPC' } });
    expect(result.status).toBe(3);
    expect(result.stderr).toContain('--connect local runs the IIS and service steps on this computer (ADMINPC), but the server is EXCH02');
    expect(result.stderr).not.toMatch(/\[1\/3\]/);
  });

  it('refuses PowerShell 7 on the server itself: IIS steps need Windows PowerShell 5.1', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'exch-cert-local-'));
    const result = runCli(validate(), { cwd, env: { COMPUTERNAME: 'EXCH02' } });
    expect(result.status).toBe(3);
    expect(result.stderr).toContain('--connect local needs Windows PowerShell 5.1 for the IIS steps');
    expect(result.stderr).toContain('--shell powershell');
  });
});
