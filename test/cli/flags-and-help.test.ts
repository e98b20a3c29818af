/**
 * Help and flags as an operator meets them: what each command offers, conflicts that are errors
 * rather than silent choices, errors that name the flag that was typed.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, STACK_LINE } from '../helpers/cli.js';
import { shippedRunbookText } from '../helpers/plan.js';

const RENEW = ['renew', '--server', 'EXCH01', '--pfx', 'C:\\certs\\new.pfx', '--fqdn', 'mail.contoso.com'];
const work = mkdtempSync(join(tmpdir(), 'exch-cert-flags-'));
const pfx = join(work, 'new.pfx');
writeFileSync(pfx, 'not read before the import step');

/** The options a help text offers, e.g. ['--server', '--pfx', ...]. */
const offered = (help: string): string[] => [...help.matchAll(/^\s+(?:-\w, )?(--[a-z-]+)/gm)].map((match) => match[1] ?? '');

describe('renew --help', () => {
  const help = runCli(['renew', '--help']).stdout;

  it('names the secrets the renewal reads, and how they are asked for', () => {
    // Every secret of the shipped runbook, named by its environment variable.
    const variables = [...shippedRunbookText('renew-certificate').matchAll(/type: secret, env: (\w+)/g)].map((match) => match[1]);
    expect(variables).toEqual(['EXCH_CERT_PFX_PASSWORD', 'EXCH_CERT_BACKUP_PASSWORD']);
    for (const variable of variables) expect(help).toContain(`  ${variable ?? ''}  `);
    expect(help).toContain('On a terminal, one that is not set is asked for, hidden; in CI or without a terminal it is an error.');
  });

  it('has a flag for the backup folder, and says where it is', () => {
    expect(offered(help)).toContain('--backup-dir');
    expect(help).toMatch(/--backup-dir <DIR>\s+folder on this machine \(where\s+exch-cert\s+runs\)/);
  });

  it('shows runnable examples', () => {
    expect(help).toContain("exch-cert renew --server EXCH01 --pfx 'C:\\certs\\mail-2026.pfx' --fqdn mail.contoso.com --dry-run");
    expect(help).toContain('exch-cert renew --resume 20261126T064800Z-ab12cd');
  });
});

describe('plan --help', () => {
  it('offers only what a plan uses', () => {
    const plan = offered(runCli(['plan', '--help']).stdout);
    for (const flag of ['--server', '--var', '--output', '--json', '--connect', '--credential-env', '--simulate', '--force']) expect(plan).toContain(flag);
    for (const flag of ['--yes', '--resume', '--journal-dir', '--dry-run', '--shell', '--verbose', '--remote-session-module']) expect(plan).not.toContain(flag);
    // What only a run uses is offered by run.
    const run = offered(runCli(['run', '--help']).stdout);
    for (const flag of ['--yes', '--resume', '--journal-dir', '--dry-run', '--shell', '--verbose']) expect(run).toContain(flag);
  });

  it('refuses what a plan does not use, and takes --dry-run, which it is anyway', () => {
    const yes = runCli(['plan', 'runbooks/validate-exchange.yaml', '--server', 'EXCH01', '--yes']);
    expect(yes.status).toBe(2);
    expect(yes.stderr).toContain("unknown option '--yes'");
    const dry = runCli(['plan', 'runbooks/validate-exchange.yaml', '--server', 'EXCH01', '--dry-run']);
    expect(dry.status).toBe(0);
    expect(dry.stdout).toBe(runCli(['plan', 'runbooks/validate-exchange.yaml', '--server', 'EXCH01']).stdout);
  });
});

describe('conflicts are errors, not silent choices', () => {
  it.each([
    [['renew', '--server', 'EXCH01', '--server', 'EXCH02', '--pfx', 'x.pfx', '--fqdn', 'mail.contoso.com', '--dry-run'], '--server is given twice ("EXCH01" and "EXCH02"); give it once'],
    [['plan', 'runbooks/validate-exchange.yaml', '--server', 'EXCH01', '--server', 'EXCH02'], '--server is given twice ("EXCH01" and "EXCH02"); give it once'],
    [[...RENEW, '--fqdn', 'owa.contoso.com', '--dry-run'], '--fqdn is given twice ("mail.contoso.com" and "owa.contoso.com")'],
    [[...RENEW, '--var', 'fqdn=owa.contoso.com', '--dry-run'], '--fqdn "mail.contoso.com" and --var fqdn="owa.contoso.com" name different values; give it once, with --fqdn'],
    [[...RENEW, '--backup-dir', 'D:\\Backup', '--var', 'backupDirectory=E:\\Backup', '--dry-run'], '--backup-dir "D:\\\\Backup" and --var backupDirectory="E:\\\\Backup" name different values'],
    [[...RENEW, '--services', 'IIS', '--var', 'services=IIS,SMTP', '--dry-run'], '--services "IIS" and --var services="IIS,SMTP" name different values'],
  ])('%j', (args, message) => {
    const result = runCli(args);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stdout).toBe('');
    expect(result.stderr).not.toMatch(STACK_LINE);
  });

  it('the same value twice is no conflict', () => {
    expect(runCli([...RENEW, '--server', 'EXCH01', '--var', 'fqdn=mail.contoso.com', '--dry-run']).status).toBe(0);
  });
});

describe('flags set the runbook params, and errors name the flag', () => {
  it('--backup-dir sets the backup folder', () => {
    const result = runCli([...RENEW, '--backup-dir', 'D:\\ExchCertBackup', '--dry-run']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("#   backupDirectory                      = 'D:\\ExchCertBackup'\n");
    expect(result.stdout).toContain("-join @('D:\\ExchCertBackup\\', [string](Get-ExchCertOutput -Step 'preflight' -Name 'oldThumbprint'), '.pfx')");
  });

  it('service names are case-insensitive, as in Exchange, with --services and --var', () => {
    const upper = runCli([...RENEW, '--services', 'IIS,SMTP', '--dry-run']);
    for (const args of [['--services', 'iis,smtp'], ['--services', ' Iis , sMtp '], ['--var', 'services=iis,smtp']]) {
      const result = runCli([...RENEW, ...args, '--dry-run']);
      expect(result.status, result.stderr).toBe(0);
      expect(result.stdout).toBe(upper.stdout);
    }
  });

  it.each([
    [[...RENEW, '--services', 'IIS,FTP', '--dry-run'], "--services has item 'FTP'; items must be among: IIS, SMTP, POP, IMAP, UM, UMCallRouter"],
    [[...RENEW, '--services', ',', '--dry-run'], '--services expects a comma-separated list such as IIS,SMTP'],
    [['renew', '--server', 'EXCH01', '--pfx', 'x.pfx', '--fqdn', '*.contoso.com', '--dry-run'], '--fqdn "*.contoso.com": expected an FQDN such as mail.contoso.com (no wildcard) (for steps probe.fqdn, pop-imap-name.name, verify.fqdn)'],
    [['renew', '--dry-run'], '--server is missing (Exchange server to change)\n  --pfx is missing (Path of the new PFX file on the machine that runs exch-cert)\n  --fqdn is missing'],
    [['renew', '--runbook', 'runbooks/validate-exchange.yaml', '--server', 'EXCH01', '--backup-dir', 'D:\\b', '--dry-run'], "--backup-dir: runbook validate-exchange has no param 'backupDirectory' to set"],
    [['run', '--server', 'EXCH01'], 'missing the RUNBOOK to run'],
  ])('%j', (args, message) => {
    const result = runCli(args);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr).not.toContain('--var services');
    expect(result.stderr).not.toMatch(STACK_LINE);
  });

  it('a bad --server is reported once, naming the flag, not once per step', () => {
    const result = runCli(['renew', '--server', 'EXCH 01', '--pfx', 'x.pfx', '--fqdn', 'mail.contoso.com', '--dry-run']);
    expect(result.status).toBe(2);
    expect(result.stderr.match(/--server/g)).toHaveLength(1);
    expect(result.stderr).toContain('--server "EXCH 01" is not a server name');
  });
});

describe('the PFX is on this machine: a wrong path is found before anything connects', () => {
  const env = { EXCH_CERT_PFX_PASSWORD: 'pfx-secret-1', EXCH_CERT_BACKUP_PASSWORD: 'backup-secret-2' };

  it('a PFX that does not exist is exit 2, before the confirmation and the shell', () => {
    const missing = join(work, 'missing.pfx');
    // Neither a terminal nor a shell is needed to find out: the check comes first.
    const result = runCli(['renew', '--server', 'EXCH01', '--pfx', missing, '--fqdn', 'mail.contoso.com', '--shell', '/nonexistent/pwsh', '--yes'], { env, cwd: work });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`--pfx "${missing}": no such file on this machine (${missing})`);
    expect(result.stderr).toContain('hint: the PFX is read on the machine that runs exch-cert');
    expect(result.stderr).not.toContain('ReadAllBytes');
  });

  it('a folder is not a PFX', () => {
    const result = runCli(['renew', '--server', 'EXCH01', '--pfx', work, '--fqdn', 'mail.contoso.com', '--yes'], { env, cwd: work });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`is a folder, not a PFX file`);
  });

  it('a relative path is found from the working folder; an existing file passes the check', () => {
    // Without its password the file is not read yet: past the path check, the run stops at the missing secret.
    const result = runCli(['renew', '--server', 'EXCH01', '--pfx', 'new.pfx', '--fqdn', 'mail.contoso.com', '--shell', '/nonexistent/pwsh', '--yes'], { env: { ...env, EXCH_CERT_PFX_PASSWORD: undefined }, cwd: work });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('missing secrets, nothing was run:\n  secret pfxPassword: set the environment variable EXCH_CERT_PFX_PASSWORD');
    expect(result.stderr).not.toContain('no such file');
  });

  it('a dry run needs no file (the plan is reviewed before the window, elsewhere)', () => {
    expect(runCli([...RENEW, '--dry-run']).status).toBe(0);
  });
});

describe('a secret that is not set, without a terminal', () => {
  it('stays an error, and says why exch-cert did not ask', () => {
    const result = runCli(['renew', '--server', 'EXCH01', '--pfx', pfx, '--fqdn', 'mail.contoso.com', '--yes'], { env: { EXCH_CERT_BACKUP_PASSWORD: 'backup-secret-2' } });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('secret pfxPassword: set the environment variable EXCH_CERT_PFX_PASSWORD');
    expect(result.stderr).toContain('(exch-cert asks for a secret that is not set only on a terminal; there is no terminal to ask)');
  });
});
