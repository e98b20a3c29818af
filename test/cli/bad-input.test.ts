import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, STACK_LINE } from '../helpers/cli.js';
import { repoRoot } from '../helpers/plan.js';

const dir = mkdtempSync(join(tmpdir(), 'exch-cert-bad-'));
const validate = readFileSync(join(repoRoot, 'runbooks', 'validate-exchange.yaml'), 'utf8');

function file(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const aliasBomb = ['version: 1', 'name: bomb', 'a: &a [x, x, x, x, x, x, x, x, x, x]'];
for (let i = 1; i < 9; i++) aliasBomb.push(`l${i}: &l${i} [${Array(10).fill(i === 1 ? '*a' : `*l${i - 1}`).join(', ')}]`);

/** Each case: the file, and what the one-line message must say. Every one must give file:line:col and exit 2 (lint: 1). */
const cases: Array<[string, () => string, string]> = [
  ['malformed YAML', () => file('malformed.yaml', 'version: 1\nname: [unclosed\nsteps: {\n'), 'invalid YAML'],
  ['duplicate keys', () => file('dup.yaml', 'version: 1\nname: a\nname: b\nsteps: []\n'), 'duplicate key'],
  ['tabs', () => file('tabs.yaml', 'version: 1\nparams:\n\tserver: { type: string }\n'), 'tab character used for indentation'],
  ['an empty file', () => file('empty.yaml', ''), 'file is empty'],
  ['a non-UTF-8 file', () => file('latin1.yaml', Buffer.concat([Buffer.from('version: 1\nname: caf'), Buffer.from([0xe9]), Buffer.from('\n')])), 'not valid UTF-8'],
  ['a directory', () => (mkdirSync(join(dir, 'folder.yaml'), { recursive: true }), join(dir, 'folder.yaml')), 'is a directory'],
  ['a missing file', () => join(dir, 'missing.yaml'), 'file not found'],
  ['an alias bomb', () => file('bomb.yaml', aliasBomb.join('\n') + '\n'), 'cannot expand aliases'],
  ['a file over 1 MiB', () => file('big.yaml', 'version: 1\n#' + 'x'.repeat(1024 * 1024) + '\n'), 'runbooks are limited to 1048576 bytes'],
  ['deep nesting', () => file('deep.yaml', 'version: 1\nname: deep\nsteps: ' + '['.repeat(50_000) + ']'.repeat(50_000) + '\n'), 'nesting is deeper than 64 levels'],
  ['an unknown version', () => file('v2.yaml', validate.replace('version: 1', 'version: 2')), 'unsupported runbook version 2'],
  ['not a mapping', () => file('list.yaml', '- a\n- b\n'), 'a runbook is a YAML mapping'],
  ['a YAML null document', () => file('null.yaml', '~\n'), 'a runbook is a YAML mapping'],
];

describe('bad runbook files', () => {
  it.each(cases)('plan reports %s with file:line:col, exit 2, no stack', (_label, make, message) => {
    const path = make();
    const result = runCli(['plan', path, '--server', 'EXCH01']);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(message);
    expect(result.stderr).toMatch(/:\d+:\d+: error: /);
    expect(result.stderr).not.toMatch(STACK_LINE);
  });

  it('lint exits 2 for a missing file, as for a glob that matches nothing', () => {
    const result = runCli(['lint', join(dir, 'missing.yaml')]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('no such file or folder');
    expect(result.stderr).not.toMatch(STACK_LINE);
  });

  it.each(cases.filter(([label]) => label !== 'a directory' && label !== 'a missing file'))('lint reports %s and exits 1', (_label, make, message) => {
    const result = runCli(['lint', make()]);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain(message);
    expect(result.stderr).not.toMatch(STACK_LINE);
  });

  it('lint treats a directory as the runbooks in it, and an empty one as a usage error', () => {
    mkdirSync(join(dir, 'empty-folder'), { recursive: true });
    const result = runCli(['lint', join(dir, 'empty-folder')]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('no .yaml or .yml files in');
  });

  it('runs a runbook saved with a BOM and CRLF line ends exactly like the plain one', () => {
    const plain = file('plain.yaml', validate);
    const windows = file('windows.yaml', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(validate.replace(/\n/g, '\r\n'))]));
    const a = runCli(['plan', plain, '--server', 'EXCH01']);
    const b = runCli(['plan', windows, '--server', 'EXCH01']);
    expect(b.status).toBe(0);
    expect(b.stdout.replace(/windows\.yaml/g, 'plain.yaml')).toBe(a.stdout);
  });

  it('reports positions in a CRLF file on the right line', () => {
    const path = file('crlf-bad.yaml', validate.replace('action: test-service-health', 'action: test-service-hlth').replace(/\n/g, '\r\n'));
    const line = validate.split('\n').findIndex((text) => text.includes('action: test-service-health')) + 1;
    const result = runCli(['lint', path]);
    expect(result.stdout).toContain(`crlf-bad.yaml:${line}:13: error: unknown action 'test-service-hlth'`);
  });
});
