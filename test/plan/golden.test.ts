import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderScript } from '../../src/plan/render.js';
import { checkScriptSyntax } from '../../src/powershell/syntax.js';
import { parseWithPwsh, pwshPath } from '../helpers/pwsh.js';
import { planFromText, repoRoot, shippedRunbookText } from '../helpers/plan.js';
import { GOLDEN_CASES } from './golden-cases.js';

/**
 * Golden scripts: the full dry run of every shipped runbook and of a runbook
 * that uses every action. A change here changes what runs on Exchange
 * servers; review the .ps1 diff like code (`npx vitest run -u test/plan`).
 */
const golden = (name: string): string => join(repoRoot, 'test', 'golden', 'scripts', `${name}.ps1`);


describe('golden dry-run scripts', () => {
  it.skipIf(!pwshPath)('parse with the real PowerShell parser and use no PowerShell 7-only syntax', { timeout: 120_000 }, async () => {
    const scripts = await Promise.all(GOLDEN_CASES.map(async ([, text, vars]) => renderScript(await planFromText(text(), vars))));
    const parses = await parseWithPwsh(scripts);
    parses.forEach((parse, index) => expect(parse.errors, GOLDEN_CASES[index]?.[0]).toEqual([]));
    for (const script of scripts) expect((await checkScriptSyntax(script)).filter((problem) => problem.kind === 'powershell-7-only')).toEqual([]);
  });

  it.each(GOLDEN_CASES)('%s', async (name, text, vars) => {
    const script = renderScript(await planFromText(text(), vars));
    await expect(script).toMatchFileSnapshot(golden(name));
  });

  it('renders the module connection for the simulator: importing the module is connecting', async () => {
    const plan = await planFromText(shippedRunbookText('validate-exchange'), { server: 'EXCH01' }, { kind: 'module', server: 'EXCH01', modulePath: '/opt/sim/ExchCertSimulator.psm1' });
    expect(plan.prologue).toContain("$global:ExchCert.ModulePath = '/opt/sim/ExchCertSimulator.psm1'");
    expect(plan.prologue).toContain('Import-Module -Name $global:ExchCert.ModulePath -Global -Force -DisableNameChecking -PassThru -ErrorAction Stop');
    expect(plan.prologue).toContain("HostMode = 'local'");
    expect(plan.prologue.trimEnd().endsWith('Connect-ExchCertExchange')).toBe(true);
  });

  it('renders the local Exchange Management Shell connection: only there are cmdlets already loaded used', async () => {
    const plan = await planFromText(shippedRunbookText('validate-exchange'), { server: 'EXCH01' }, { kind: 'local', server: 'EXCH01' });
    expect(plan.prologue).toContain("New-PSSession -ConfigurationName 'Microsoft.Exchange' -ConnectionUri ('http://' + $fqdn + '/PowerShell/') -Authentication Kerberos");
    expect(plan.prologue).toContain("if (-not (Get-Command -Name 'Get-ExchangeCertificate' -ErrorAction SilentlyContinue)) { Connect-ExchCertExchange }");
    expect(plan.prologue).toContain("HostMode = 'local'");
    const remote = await planFromText(shippedRunbookText('validate-exchange'), { server: 'EXCH01' });
    expect(remote.prologue).not.toContain("Get-Command -Name 'Get-ExchangeCertificate'");
    expect(remote.prologue.trimEnd().endsWith('Connect-ExchCertExchange')).toBe(true);
  });

  it('imports exactly the Exchange cmdlets the plan calls', async () => {
    const plan = await planFromText(shippedRunbookText('validate-exchange'), { server: 'EXCH01' });
    expect(plan.exchangeCmdlets).toEqual(['Get-ExchangeCertificate', 'Test-ServiceHealth']);
    expect(plan.prologue).toContain("ExchangeCommands = @('Get-ExchangeCertificate','Test-ServiceHealth')");
    expect(plan.prologue).toContain('Import-PSSession -Session $global:ExchCert.Session -CommandName $global:ExchCert.ExchangeCommands');
  });

  it('reads an explicit account from the environment, never from the command line', async () => {
    const plan = await planFromText(shippedRunbookText('validate-exchange'), { server: 'EXCH01' }, { kind: 'remote', server: 'EXCH01', credentialEnv: { user: 'EXCH_USER', password: 'EXCH_PASS' } });
    expect(plan.prologue).toContain("Read-ExchCertSecret -Name 'credential' -Variable 'EXCH_PASS'");
    expect(plan.prologue).toContain("[Environment]::GetEnvironmentVariable('EXCH_USER')");
  });
});
