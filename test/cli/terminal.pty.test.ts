/**
 * exch-cert on a real terminal (script(1) gives it a pty, as an admin at a console has): the hidden
 * prompt for a secret that is not set, the spinner's elapsed time and timeout, NO_COLOR on the
 * spinner, and CI=true on a terminal. Against the simulated Exchange server with PowerShell 7.
 */
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cliBin, runCli } from '../helpers/cli.js';
import { CliProcess } from '../helpers/cli-process.js';
import { repoRoot } from '../helpers/plan.js';
import { pwshPath } from '../helpers/pwsh.js';
import { editSimState } from '../helpers/sim-state.js';

const PFX_PASSWORD = 'Typed-Pfx-Secret-42';
const BACKUP_PASSWORD = 'Typed-Backup-Secret-43';
/** Any SGR sequence (colour, bold, dim): what NO_COLOR must remove. Cursor moves are not colour. */
const SGR = /\u001b\[[0-9;]*m/;

/** What a person reads: the output without escape sequences. */
const plain = (text: string): string => text.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r\n/g, '\n');

const quote = (arg: string): string => `'${arg.replace(/'/g, "'\\''")}'`;

/** exch-cert under script(1), on a 100-column terminal, in `cwd`. */
function onTerminal(args: readonly string[], cwd: string, env: Record<string, string | undefined>): CliProcess {
  const command = `stty cols 100 rows 40; ${[process.execPath, cliBin, ...args].map(quote).join(' ')}`;
  return new CliProcess([], { env: { TERM: 'xterm', ...env }, cwd, command: ['script', '-qefc', command, '/dev/null'], noBin: true });
}

function journalText(dir: string): string {
  const runs = join(dir, '.exch-cert', 'runs');
  return readdirSync(runs)
    .filter((name) => name.endsWith('.jsonl'))
    .map((name) => readFileSync(join(runs, name), 'utf8'))
    .join('');
}

describe('CI=true on a real terminal', () => {
  it('says that CI is why it does not ask for a missing secret', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'exch-cert-pty-ci-'));
    const run = onTerminal(['run', join(repoRoot, 'test', 'golden', 'catalog.yaml'), '--server', 'EXCH01', '--yes'], dir, { CI: 'true' });
    const code = await run.exited;
    expect(code).toBe(2);
    expect(plain(run.stdout)).toContain('missing secrets, nothing was run:\n  secret pfxPassword: set the environment variable PFX_PASSWORD');
    expect(plain(run.stdout)).toContain('CI is set (CI=true), and exch-cert never asks anything in CI');
    expect(plain(run.stdout)).not.toContain('there is no terminal to ask');
  });

  it('says that CI is why it does not ask for a confirmation', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'exch-cert-pty-ci-'));
    const pfx = join(dir, 'new.pfx');
    writeFileSync(pfx, 'any file');
    const run = onTerminal(['renew', '--server', 'EXCH01', '--pfx', pfx, '--fqdn', 'mail.contoso.com'], dir, { CI: 'true', EXCH_CERT_BACKUP_PASSWORD: 'backup-secret-2' });
    expect(await run.exited).toBe(5);
    expect(plain(run.stdout)).toContain('step remove-old needs confirmation and CI is set (CI=true), and exch-cert never asks anything in CI; nothing was run');
  });
});

describe.skipIf(!pwshPath)('on a terminal, against the simulated server', { timeout: 180_000 }, () => {
  let fixture: string;

  beforeAll(() => {
    fixture = mkdtempSync(join(tmpdir(), 'exch-cert-pty-'));
    const init = runCli(['simulator', 'init', '--dir', join(fixture, 'sim'), '--shell', pwshPath ?? 'pwsh'], { env: { EXCH_CERT_PFX_PASSWORD: PFX_PASSWORD } });
    expect(init.status, init.stderr).toBe(0);
  });

  it('asks for secrets that are not set, hidden (the PFX password until it opens the PFX, the backup password twice); they reach the run and nothing records them', async () => {
    const sim = join(fixture, 'sim');
    const run = onTerminal(
      ['renew', '--server', 'EXCH01', '--pfx', join(sim, 'renewed-mail.contoso.com.pfx'), '--fqdn', 'mail.contoso.com', '--simulate', join(sim, 'state.json'), '--yes', '--shell', pwshPath ?? 'pwsh'],
      fixture,
      { EXCH_CERT_PFX_PASSWORD: undefined, EXCH_CERT_BACKUP_PASSWORD: undefined },
    );
    const answer = async (prompt: RegExp, text: string): Promise<void> => {
      await run.waitFor(prompt);
      run.write(`${text}\r`);
    };
    // The PFX password is tried on the PFX itself: a wrong one is asked again, a right one once.
    await answer(/Password of the new PFX: /, 'Wrong-Password-9');
    await run.waitFor(/the password does not open .*renewed-mail\.contoso\.com\.pfx"; once more/);
    await answer(/once more[\s\S]*Password of the new PFX: /, PFX_PASSWORD);
    await answer(/Password that protects the backup of the old certificate: /, BACKUP_PASSWORD);
    await answer(/Password that protects the backup of the old certificate \(again\): /, BACKUP_PASSWORD);
    const code = await run.exited;
    expect(code, run.stdout).toBe(0);
    expect(plain(run.stdout)).toContain('EXCH_CERT_PFX_PASSWORD is not set. Typing is not shown.');
    expect(plain(run.stdout)).toContain('done: all 17 steps done');
    expect(plain(run.stdout)).not.toContain('Password of the new PFX (again)');
    // The terminal shows everything that was written to it, echo included: the secrets are not there.
    for (const secret of [PFX_PASSWORD, BACKUP_PASSWORD]) {
      expect(run.stdout).not.toContain(secret);
      expect(plain(run.stdout)).not.toContain(secret);
    }
    const journal = journalText(fixture);
    expect(journal).not.toContain(PFX_PASSWORD);
    expect(journal).not.toContain(BACKUP_PASSWORD);
    expect(journal).toContain('"request"');
  });

  it('Ctrl-C at the prompt stops before anything runs (exit 130)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'exch-cert-pty-stop-'));
    const run = onTerminal(['run', join(repoRoot, 'test', 'golden', 'catalog.yaml'), '--server', 'EXCH01', '--yes', '--simulate', join(dir, 'state.json')], dir, {});
    await run.waitFor(/Secret pfxPassword: /);
    run.write('\u0003');
    expect(await run.exited).toBe(130);
    expect(plain(run.stdout)).toContain('stopped at the prompt for PFX_PASSWORD; nothing was run');
  });

  it('a PFX password that does not open the PFX is exit 2 before anything connects', () => {
    const sim = join(fixture, 'sim');
    const dir = mkdtempSync(join(tmpdir(), 'exch-cert-pty-wrong-'));
    const result = runCli(['renew', '--server', 'EXCH01', '--pfx', join(sim, 'renewed-mail.contoso.com.pfx'), '--fqdn', 'mail.contoso.com', '--simulate', join(dir, 'state.json'), '--yes', '--shell', '/nonexistent/pwsh'], {
      env: { EXCH_CERT_PFX_PASSWORD: 'Wrong-Password-9', EXCH_CERT_BACKUP_PASSWORD: BACKUP_PASSWORD },
      cwd: dir,
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`EXCH_CERT_PFX_PASSWORD: the password does not open "${join(sim, 'renewed-mail.contoso.com.pfx')}"; nothing was run`);
    expect(result.stderr).not.toContain('Wrong-Password-9');
  });

  const slowHealth = (): { dir: string; state: string } => {
    const dir = mkdtempSync(join(tmpdir(), 'exch-cert-pty-slow-'));
    const state = join(dir, 'state.json');
    copyFileSync(join(fixture, 'sim', 'state.json'), state);
    editSimState(state, (data) => (data.faults = [{ command: 'Test-ServiceHealth', action: 'hang', seconds: 4, times: 1 }]));
    return { dir, state };
  };
  const validate = (state: string): string[] => ['run', join(repoRoot, 'runbooks', 'validate-exchange.yaml'), '--server', 'EXCH01', '--simulate', state, '--shell', pwshPath ?? 'pwsh'];

  it('the spinner line counts the seconds a step has run, and names its timeout', async () => {
    const { dir, state } = slowHealth();
    const run = onTerminal(validate(state), dir, {});
    expect(await run.exited).toBe(0);
    expect(plain(run.stdout)).toMatch(/\[3\/3\] health: Check that the required Exchange services run on EXCH01 \(2s, no timeout\)/);
    expect(plain(run.stdout)).toMatch(/\(3s, no timeout\)/);
    // validate-exchange's findings are its result, without --verbose: what serves 443 and 444, and health.
    expect(plain(run.stdout)).toMatch(/front-end: Certificate served by Default Web Site \*:443 ok in [\d.]+s\n {2}found [0-9A-F]{40} CN=mail\.contoso\.com/);
    expect(plain(run.stdout)).toMatch(/back-end: Certificate served by Exchange Back End \*:444 ok in [\d.]+s\n {2}found [0-9A-F]{40} CN=EXCH01/);
    expect(plain(run.stdout)).toContain('  Mailbox Server Role: required services running: True');
    // The spinner is drawn in colour on a colour terminal.
    expect(run.stdout).toMatch(SGR);
  });

  it('NO_COLOR takes the colour off the spinner and its marks too', async () => {
    const { dir, state } = slowHealth();
    const run = onTerminal(validate(state), dir, { NO_COLOR: '1' });
    expect(await run.exited).toBe(0);
    // The spinner ran (it redraws the line with its elapsed time), without a single colour code.
    expect(run.stdout).toMatch(/\(2s, no timeout\)/);
    expect(run.stdout).not.toMatch(SGR);
  });
});
