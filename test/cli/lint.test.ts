import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { repoRoot } from '../helpers/plan.js';

function workspace(): string {
  const dir = mkdtempSync(join(tmpdir(), 'exch-cert-lint-'));
  cpSync(join(repoRoot, 'test', 'golden', 'lint'), join(dir, 'runbooks'), { recursive: true });
  return dir;
}

describe('exch-cert lint', () => {
  it('passes the shipped runbooks (the default path is runbooks/)', () => {
    const result = runCli(['lint']);
    expect(result.status).toBe(0);
    expect(result.stderr).toContain('no problems in 7 files');
  });

  it('reports every problem in every file, in the text format with source and caret', () => {
    const dir = workspace();
    const result = runCli(['lint'], { cwd: dir });
    expect(result.status).toBe(1);
    for (const name of ['references.yaml', 'safety-rules.yaml', 'schema-errors.yaml', 'tabs.yaml', 'crlf.yaml']) expect(result.stdout).toContain(`runbooks/${name}:`);
    expect(result.stdout).toMatch(/^runbooks\/references\.yaml:11:15: error: unknown param 'servr' in params\.servr \[unknown-reference\]\n {2}11 \| {7}server: \$\{\{ params\.servr \}\}\n {5}\| {15}\^~+\n {6}hint: did you mean 'server'\?$/m);
    expect(result.stderr).toMatch(/\d+ errors and \d+ warnings in 12 files/);
  });

  it('takes globs and single files', () => {
    const dir = workspace();
    const result = runCli(['lint', 'runbooks/p*.yaml'], { cwd: dir });
    expect(result.stderr).toContain('in 3 files');
    expect(runCli(['lint', 'runbooks/pop-imap.yaml'], { cwd: dir }).stderr).toContain('in 1 file');
    expect(runCli(['lint', 'runbooks/zz*.yaml'], { cwd: dir }).status).toBe(2);
  });

  it('prints JSON with --format json', () => {
    const result = runCli(['lint', 'runbooks/pop-imap.yaml', '--format', 'json'], { cwd: workspace() });
    expect(result.status).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual({
      files: 1,
      errors: 1,
      warnings: 0,
      parser: null,
      diagnostics: [expect.objectContaining({ file: 'runbooks/pop-imap.yaml', line: 12, column: 9, severity: 'error', ruleId: 'pop-imap-restart-missing' })],
    });
  });

  it('prints workflow annotations on GitHub Actions, escaping what must be escaped', () => {
    const result = runCli(['lint', 'runbooks/pop-imap.yaml'], { cwd: workspace(), env: { GITHUB_ACTIONS: 'true' } });
    expect(result.stdout).toMatch(/^::error file=runbooks\/pop-imap\.yaml,line=12,col=9,endLine=12,endColumn=13,title=exch-cert pop-imap-restart-missing::step 'name' changes/);
    expect(runCli(['lint', 'runbooks/pop-imap.yaml', '--format', 'text'], { cwd: workspace(), env: { GITHUB_ACTIONS: 'true' } }).stdout).toMatch(/^runbooks\//);
  });

  it('fails on warnings only with --strict', () => {
    const dir = mkdtempSync(join(tmpdir(), 'exch-cert-strict-'));
    writeFileSync(
      join(dir, 'warn.yaml'),
      'version: 1\nname: warn\nparams:\n  adminPassword: { type: string, default: x }\nsteps:\n  - id: health\n    action: test-service-health\n    with: { server: EXCH01 }\n',
    );
    expect(runCli(['lint', 'warn.yaml'], { cwd: dir }).status).toBe(0);
    const strict = runCli(['lint', 'warn.yaml', '--strict'], { cwd: dir });
    expect(strict.status).toBe(1);
    expect(strict.stdout).toContain('warning:');
  });
});

describe('exch-cert lint: paths', () => {
  it('exits 2 for a missing file, as for a glob that matches nothing', () => {
    const dir = workspace();
    const missing = runCli(['lint', 'runbooks/pop-imap.yaml', 'runbooks/nope.yaml'], { cwd: dir });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('no such file or folder: "runbooks/nope.yaml"');
    expect(missing.stdout).toBe('');
    const glob = runCli(['lint', 'runbooks/zz*.yaml'], { cwd: dir });
    expect(glob.status).toBe(2);
    expect(glob.stderr).toContain('no runbook files match "runbooks/zz*.yaml"');
  });

  it('says what it looked for when run with no path outside a project', () => {
    const dir = mkdtempSync(join(tmpdir(), 'exch-cert-empty-'));
    const result = runCli(['lint'], { cwd: dir });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`no runbooks/ folder in ${dir}: with no path, exch-cert lint checks runbooks/**/*.yaml and *.yml`);
    expect(result.stderr).toContain('hint: pass files, folders or globs');
  });
});
