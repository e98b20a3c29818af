import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { pwshPath } from '../helpers/pwsh.js';

/** A runbook whose script PowerShell parses and the built-in grammar does not (a native tool's arguments). */
const RUNBOOK = `version: 1
name: parser-choice
steps:
  - id: tag
    action: powershell
    with:
      script: |
        $x = $a ?? 1
        git log --format="%H" --date=short
  - id: health
    action: test-service-health
    with: { server: EXCH01 }
`;

function workspace(): string {
  const dir = mkdtempSync(join(tmpdir(), 'exch-cert-parser-'));
  writeFileSync(join(dir, 'runbook.yaml'), RUNBOOK);
  return dir;
}

const json = (stdout: string): { parser: { name: string; version?: string; reason?: string } | null; diagnostics: Array<{ ruleId: string; severity: string; line: number; column: number }> } =>
  JSON.parse(stdout) as never;

describe('exch-cert lint --parser', () => {
  it('builtin: the grammar-only finding is a warning, the 7-only one an error, and the report says who judged', () => {
    const result = runCli(['lint', 'runbook.yaml', '--parser', 'builtin', '--format', 'json'], { cwd: workspace() });
    expect(result.status).toBe(1);
    const report = json(result.stdout);
    expect(report.parser).toEqual({ name: 'builtin' });
    expect(report.diagnostics.filter((d) => d.ruleId.startsWith('powershell-')).map((d) => `${d.line}:${d.column} ${d.severity} ${d.ruleId}`)).toEqual([
      '5:13 warning powershell-step',
      '8:17 error powershell-7-only',
      '9:43 warning powershell-syntax',
    ]);
    expect(result.stderr).toContain('scripts judged by the built-in checker');
  });

  it('auto falls back to the built-in checker when the PowerShell does not start, and says why', () => {
    const result = runCli(['lint', 'runbook.yaml', '--shell', '/nonexistent/pwsh'], { cwd: workspace() });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/scripts judged by the built-in checker \(\/nonexistent\/pwsh could not be started: .*ENOENT\)/);
  });

  it('pwsh without a PowerShell exits 3 with a hint', () => {
    const result = runCli(['lint', 'runbook.yaml', '--parser', 'pwsh', '--shell', '/nonexistent/pwsh'], { cwd: workspace() });
    expect(result.status).toBe(3);
    expect(result.stderr).toContain("exch-cert: error: PowerShell's parser could not start");
    expect(result.stderr).toContain('--parser builtin');
  });

  it('says nothing about a parser when no script was judged', () => {
    const result = runCli(['lint', '--format', 'json']);
    expect(result.status).toBe(0);
    expect(json(result.stdout).parser).toBeNull();
    expect(result.stderr).toBe('exch-cert lint: no problems in 7 files\n');
  });

  it.skipIf(!pwshPath)("pwsh: PowerShell's parser judges, with its version in the report", () => {
    const result = runCli(['lint', 'runbook.yaml', '--parser', 'pwsh', '--shell', pwshPath!, '--format', 'json'], { cwd: workspace() });
    expect(result.status).toBe(1);
    const report = json(result.stdout);
    expect(report.parser).toMatchObject({ name: 'pwsh', version: expect.stringMatching(/^7\./) as string });
    // PowerShell parses the native arguments: only the 7-only operator is left.
    expect(report.diagnostics.filter((d) => d.ruleId.startsWith('powershell-')).map((d) => `${d.line}:${d.column} ${d.severity} ${d.ruleId}`)).toEqual([
      '5:13 warning powershell-step',
      '8:17 error powershell-7-only',
    ]);
    const text = runCli(['lint', 'runbook.yaml', '--shell', pwshPath!], { cwd: workspace() });
    expect(text.stderr).toMatch(/scripts judged by PowerShell 7\.\d+\.\d+'s parser \(/);
  });
});

describe('exch-cert lint --format sarif', () => {
  it('writes a SARIF 2.1.0 log with rules, levels and regions', () => {
    const result = runCli(['lint', 'runbook.yaml', '--parser', 'builtin', '--format', 'sarif'], { cwd: workspace() });
    expect(result.status).toBe(1);
    const log = JSON.parse(result.stdout) as {
      version: string;
      $schema: string;
      runs: Array<{
        tool: { driver: { name: string; rules: Array<{ id: string; shortDescription: { text: string } }> } };
        results: Array<{ ruleId: string; ruleIndex: number; level: string; message: { text: string }; locations: Array<{ physicalLocation: { artifactLocation: { uri: string; uriBaseId: string }; region: Record<string, number> } }> }>;
        properties: { scriptParser: { name: string } };
      }>;
    };
    expect(log.version).toBe('2.1.0');
    expect(log.$schema).toMatch(/sarif-2\.1\.0/);
    const [run] = log.runs;
    expect(run!.tool.driver.name).toBe('exch-cert');
    expect(run!.properties.scriptParser).toEqual({ name: 'builtin' });
    for (const sarifResult of run!.results) {
      expect(run!.tool.driver.rules[sarifResult.ruleIndex]?.id).toBe(sarifResult.ruleId);
      expect(['error', 'warning']).toContain(sarifResult.level);
    }
    expect(run!.results.find((r) => r.ruleId === 'powershell-7-only')).toMatchObject({
      level: 'error',
      locations: [{ physicalLocation: { artifactLocation: { uri: 'runbook.yaml', uriBaseId: '%SRCROOT%' }, region: { startLine: 8, startColumn: 17 } } }],
    });
    expect(run!.tool.driver.rules.find((rule) => rule.id === 'remove-without-backup')?.shortDescription.text).toMatch(/backup/);
  });
});
