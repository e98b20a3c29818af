/**
 * README's rehearsal, followed literally in a fresh folder on a terminal (npx stands for the built
 * CLI), and `simulator init`'s hint, which must be a command a shell runs as printed.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliBin, runCli } from '../helpers/cli.js';
import { CliProcess } from '../helpers/cli-process.js';
import { readPfx } from '../helpers/pfx.js';
import { repoRoot } from '../helpers/plan.js';
import { pwshPath } from '../helpers/pwsh.js';

const plain = (text: string): string => text.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r\n/g, '\n');
const quote = (arg: string): string => `'${arg.replace(/'/g, "'\\''")}'`;
/** `npx exch-cert ...` as a shell function: the built CLI, with PowerShell 7 from where the tests found it. */
const npx = (): string => `npx() { shift; ${quote(process.execPath)} ${quote(cliBin)} "$@"; }; export PATH=${quote(join(pwshPath ?? 'pwsh', '..'))}:"$PATH"`;

/** The sh block under a README heading, with its continuation lines joined. */
function readmeBlock(heading: string): string {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(heading));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (block === undefined) throw new Error(`no sh block under ${heading}`);
  return block.replace(/\\\n\s*/g, '');
}

describe.skipIf(!pwshPath)('README, followed literally', { timeout: 180_000 }, () => {
  it('the rehearsal renews the simulated server, asking before it removes the old certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'exch-cert-readme-'));
    const script = `stty cols 120 rows 40; ${npx()}; set -e\n${readmeBlock('### Rehearse with the simulated Exchange server')}`;
    const run = new CliProcess([], { env: { TERM: 'xterm' }, cwd: dir, command: ['script', '-qefc', `bash -c ${quote(script)}`, '/dev/null'], noBin: true });
    await run.waitFor(/Run it\? \[y\/N\]/, 150_000);
    run.write('y\r');
    const code = await run.exited;
    expect(code, plain(run.stdout)).toBe(0);
    expect(plain(run.stdout)).toContain('Rehearse the renewal');
    expect(plain(run.stdout)).toContain('done: all 17 steps done');
  });

  it('simulator init prints a command that runs as printed: --wildcard makes *.contoso.com, and paths are quoted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'exch-cert-hint-'));
    const init = runCli(['simulator', 'init', '--wildcard', '--fqdn', 'mail.contoso.com', '--dir', 'my rehearsal', '--shell', pwshPath ?? 'pwsh'], { cwd: dir, env: { EXCH_CERT_PFX_PASSWORD: 'rehearsal-pfx' } });
    expect(init.status, init.stderr).toBe(0);
    expect(init.stderr).toContain('renewed certificate for *.contoso.com');
    const hint = init.stderr.split('\n').find((line) => line.trim().startsWith('npx exch-cert renew'))?.trim() ?? '';
    expect(hint).toBe("npx exch-cert renew --server EXCH01 --pfx 'my rehearsal/renewed-wildcard.contoso.com.pfx' --fqdn mail.contoso.com --simulate 'my rehearsal/state.json'");
    const pfx = readPfx(readFileSync(join(dir, 'my rehearsal', 'renewed-wildcard.contoso.com.pfx')), 'rehearsal-pfx');
    expect(pfx.subject).toContain('CN=*.contoso.com');
    // The printed line, run by a shell, is a valid renewal (as a dry run here).
    const result = new CliProcess([], { env: {}, cwd: dir, command: ['bash', '-c', `${npx()}; ${hint} --dry-run > /dev/null`], noBin: true });
    expect(await result.exited, result.stderr).toBe(0);
    expect(result.stderr).toContain('dry run of renew-certificate against EXCH01: 15 step(s)');
  });
});
