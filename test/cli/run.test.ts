import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasAnsi, runCli, STACK_LINE } from '../helpers/cli.js';
import { createTestPki, exportPfx, issueLeaf } from '../helpers/tls-certificates.js';

const RENEW = ['renew', '--server', 'EXCH01', '--pfx', 'C:\\certs\\new.pfx', '--fqdn', 'mail.contoso.com'];
// A real run reads its PFX here, and checks it is a file before anything else: any file will do.
const work = mkdtempSync(join(tmpdir(), 'exch-cert-run-'));
const PFX = join(work, 'new.pfx');
writeFileSync(PFX, 'not read before the import step');
const RENEW_LIVE = ['renew', '--server', 'EXCH01', '--pfx', PFX, '--fqdn', 'mail.contoso.com'];

describe('exch-cert renew --dry-run', () => {
  it('prints the whole script on stdout and a summary on stderr', () => {
    const result = runCli([...RENEW, '--dry-run']);
    expect(result.status).toBe(0);
    expect(result.stdout.startsWith('# exch-cert ')).toBe(true);
    // No #Requires: a PowerShell 4.0 host gets the prologue's own message instead of "cannot be run".
    expect(result.stdout).not.toContain('#Requires');
    expect(result.stdout).toContain('# [5/17] enable: Enable the certificate for IIS, SMTP, POP, IMAP\n');
    expect(result.stdout).toContain("ConnectionUri = ('http://' + $fqdn + '/PowerShell/')");
    expect(result.stdout).toContain("$global:ExchCert = @{ Server = 'EXCH01';");
    expect(result.stderr).toContain('dry run of renew-certificate against EXCH01: 15 step(s), 1 asking for confirmation; nothing was changed');
    expect(result.stdout).not.toContain('dry run of');
  });

  it('needs no PFX file and no secret for a dry run', () => {
    const result = runCli([...RENEW, '--dry-run'], { env: { EXCH_CERT_PFX_PASSWORD: undefined } });
    expect(result.status).toBe(0);
  });

  it('maps --services and --friendly-name to the runbook params', () => {
    const result = runCli([...RENEW, '--services', 'IIS,SMTP', '--friendly-name', "Mail ’26", '--dry-run']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("$services = @('IIS','SMTP')");
    expect(result.stdout).toContain("-FriendlyName 'Mail ’’26'");
  });

  it('writes a .ps1 that Windows PowerShell 5.1 reads correctly: UTF-8 BOM and CRLF', () => {
    const dir = mkdtempSync(join(tmpdir(), 'exch-cert-out-'));
    const target = join(dir, 'plan.ps1');
    const result = runCli([...RENEW, '--friendly-name', 'Zürich', '--dry-run', '--output', target]);
    expect(result.status).toBe(0);
    expect(result.stdout).toBe('');
    const bytes = readFileSync(target);
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = bytes.subarray(3).toString('utf8');
    expect(text).not.toMatch(/[^\r]\n/);
    expect(text.replace(/\r\n/g, '\n')).toBe(runCli([...RENEW, '--friendly-name', 'Zürich', '--dry-run']).stdout);
  });

  it('prints the plan as JSON with --json', () => {
    const result = runCli([...RENEW, '--dry-run', '--json']);
    expect(result.status).toBe(0);
    const plan = JSON.parse(result.stdout) as { steps: Array<{ id: string; confirm: boolean; script: string }>; script: string; secrets: unknown };
    expect(plan.steps.map((step) => step.id)).toEqual([
      'preflight',
      'probe',
      'backup-old',
      'import',
      'enable',
      'bind',
      'internal-transport',
      'connectors',
      'pop-imap-name',
      'restart-pop-imap',
      'restart-transport',
      'restart-mailbox-assistants',
      'restart-information-store',
      'iis-reset',
      'verify',
      'health',
      'remove-old',
    ]);
    expect(plan.steps.filter((step) => step.confirm).map((step) => step.id)).toEqual(['remove-old']);
    for (const step of plan.steps) expect(plan.script).toContain(step.script);
    expect(plan.secrets).toEqual([
      { param: 'pfxPassword', env: 'EXCH_CERT_PFX_PASSWORD' },
      { param: 'backupPassword', env: 'EXCH_CERT_BACKUP_PASSWORD' },
    ]);
  });

  it('without a terminal and without --yes, stops before anything runs (exit 5)', () => {
    const result = runCli(RENEW_LIVE, { env: { EXCH_CERT_PFX_PASSWORD: undefined, EXCH_CERT_BACKUP_PASSWORD: 'y' } });
    expect(result.status).toBe(5);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('step remove-old needs confirmation and there is no terminal to ask; nothing was run');
    expect(result.stderr).toContain('hint: review the plan with --dry-run, then run again with --yes');
  });

  it('refuses to start when a secret is missing, naming the variable (exit 2)', () => {
    const result = runCli([...RENEW_LIVE, '--yes'], { env: { EXCH_CERT_BACKUP_PASSWORD: 'y' } });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('missing secrets, nothing was run:\n  secret pfxPassword: set the environment variable EXCH_CERT_PFX_PASSWORD');
  });

  it('reports a missing PowerShell as exit 3 with a hint', () => {
    // Past the PFX check before the shell starts: a real PFX for mail.contoso.com, opened by its password.
    const pki = createTestPki(mkdtempSync(join(tmpdir(), 'exch-cert-run-pki-')));
    const real = join(work, 'real.pfx');
    writeFileSync(real, exportPfx(pki, issueLeaf(pki, { names: ['mail.contoso.com'] }), 'pfx-secret-1'));
    const result = runCli(['renew', '--server', 'EXCH01', '--pfx', real, '--fqdn', 'mail.contoso.com', '--yes', '--shell', '/nonexistent/pwsh'], { env: { EXCH_CERT_PFX_PASSWORD: 'pfx-secret-1', EXCH_CERT_BACKUP_PASSWORD: 'backup-secret-2' }, cwd: mkdtempSync(join(tmpdir(), 'exch-cert-noshell-')) });
    expect(result.status).toBe(3);
    expect(result.stderr).toContain('PowerShell is not available: /nonexistent/pwsh is not an executable file (install PowerShell 7 or pass --shell PATH)');
    expect(result.stderr).not.toMatch(STACK_LINE);
  });

  it('honours NO_COLOR and non-TTY output; FORCE_COLOR turns colour on', () => {
    const bad = ['renew', '--server', 'EXCH01', '--dry-run'];
    expect(hasAnsi(runCli(bad).stderr)).toBe(false);
    expect(hasAnsi(runCli(bad, { env: { FORCE_COLOR: '1' } }).stderr)).toBe(true);
    expect(hasAnsi(runCli(bad, { env: { FORCE_COLOR: '1', NO_COLOR: '1' } }).stderr)).toBe(true);
    expect(hasAnsi(runCli(bad, { env: { NO_COLOR: '1' } }).stderr)).toBe(false);
  });
});

describe('exch-cert plan / run', () => {
  it('plan is run --dry-run', () => {
    const plan = runCli(['plan', 'runbooks/validate-exchange.yaml', '--server', 'EXCH01']);
    const run = runCli(['run', 'runbooks/validate-exchange.yaml', '--server', 'EXCH01', '--dry-run']);
    expect(plan.status).toBe(0);
    expect(plan.stdout).toBe(run.stdout);
  });

  it('uses --server as the runbook param server', () => {
    const result = runCli(['plan', 'runbooks/validate-exchange.yaml', '--server', 'MBX02']);
    expect(result.stdout).toContain("Find-ExchCertCertificate -Server 'MBX02'");
    expect(result.stdout).toContain("$global:ExchCert = @{ Server = 'MBX02';");
  });

  it('shows the module connection with --connect module:PATH', () => {
    const result = runCli(['plan', 'runbooks/validate-exchange.yaml', '--server', 'EXCH01', '--connect', 'module:/sim/ExchCertSimulator.psm1']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("$global:ExchCert.ModulePath = '/sim/ExchCertSimulator.psm1'");
  });

  it.each([
    [['plan', 'runbooks/validate-exchange.yaml'], '--server is missing (Exchange server to check)'],
    [['plan', 'runbooks/validate-exchange.yaml', '--server', 'EXCH01', '--connect', 'ssh'], 'is not remote, local or module:PATH'],
    [['plan', 'runbooks/validate-exchange.yaml', '--server', 'EXCH01', '--var', 'nope=1'], "unknown param 'nope'"],
    [['plan', 'runbooks/validate-exchange.yaml', '--server', 'EXCH01', '--var', 'server'], 'is not KEY=VALUE'],
    [['renew', '--server', 'EXCH01', '--pfx', 'x.pfx', '--fqdn', 'mail.contoso.com', '--output', 'x.ps1'], '--output writes the dry-run script; add --dry-run'],
    [['renew', '--server', 'EXCH01', '--dry-run'], '--pfx is missing (Path of the new PFX file on the machine that runs exch-cert)'],
    [['renew', '--server', 'EXCH01', '--pfx', 'x.pfx', '--fqdn', '*.contoso.com', '--dry-run'], 'expected an FQDN such as mail.contoso.com'],
    [['renew', '--server', 'EXCH01', '--pfx', 'x.pfx', '--fqdn', 'mail.contoso.com', '--services', 'IIS,FTP', '--dry-run'], "has item 'FTP'"],
    [['renew', '--server', "EX'01;Stop-Computer", '--pfx', 'x.pfx', '--fqdn', 'mail.contoso.com', '--dry-run'], '--server "EX\'01;Stop-Computer" is not a server name'],
    [['renew', '--server', 'EXCH01@evil.com', '--pfx', 'x.pfx', '--fqdn', 'mail.contoso.com', '--dry-run'], '--server "EXCH01@evil.com" is not a server name'],
    [['renew', '--server', 'EXCH01', '--var', 'server=EXCH02', '--pfx', 'x.pfx', '--fqdn', 'mail.contoso.com', '--dry-run'], '--server "EXCH01" and --var server="EXCH02" name different servers; give it once, with --server'],
    [['run', 'runbooks/validate-exchange.yaml', '--server', 'EXCH01', '--connect', 'local', '--remote-session-module', 'x.psm1', '--dry-run'], '--remote-session-module works only with --connect remote'],
    [['frobnicate'], "unknown command 'frobnicate'"],
    [['lint', '--format', 'xml'], "argument 'xml' is invalid"],
  ])('%j exits 2 with a clear message and no stack trace', (args, message) => {
    const result = runCli(args);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
    // Said once, not once per step; and no script is printed.
    expect(result.stderr.split(message).length - 1).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).not.toMatch(STACK_LINE);
    expect(result.stdout).toBe('');
  });
});

describe('exch-cert --version and --help', () => {
  it('prints the version', () => {
    const result = runCli(['--version']);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('documents the exit codes', () => {
    const result = runCli(['--help']);
    expect(result.status).toBe(0);
    for (const code of ['0    ok', '1    lint found errors', '2    usage error', '3    PowerShell or connection failure', '5    confirmation required', '130  interrupted']) {
      expect(result.stdout).toContain(code);
    }
  });
});
