import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ACTIONS } from '../../src/actions/index.js';
import { checkExchangeCall, REFERENCE } from '../helpers/exchange-reference.js';
import { planFromText, repoRoot } from '../helpers/plan.js';
import { GOLDEN_CASES } from './golden-cases.js';
import { commandsWithPwsh, pwshPath, type CommandCall } from '../helpers/pwsh.js';

/**
 * Every Exchange cmdlet call in every golden script, read from PowerShell's own syntax tree and held
 * to Microsoft's cmdlet reference: a cmdlet or parameter that does not exist (such as
 * Set-TransportService -InternalTransportCertificateThumbprint) can never reach a script again.
 */
const GOLDEN = join(repoRoot, 'test', 'golden', 'scripts');
const goldenScripts = readdirSync(GOLDEN)
  .filter((file) => file.endsWith('.ps1'))
  .sort()
  .map((file) => ({ file, text: readFileSync(join(GOLDEN, file), 'utf8') }));

const exchangeCalls = (calls: readonly CommandCall[]): CommandCall[] => calls.filter((call) => call.name in REFERENCE.cmdlets);

describe.skipIf(!pwshPath)("generated scripts against Microsoft's Exchange cmdlet reference", { timeout: 180_000 }, () => {
  it('finds golden scripts to check', () => {
    expect(goldenScripts.map((script) => script.file)).toEqual(expect.arrayContaining(['catalog.ps1', 'renew-certificate.ps1']));
  });

  it('calls only parameters that exist, of one parameter set, with the mandatory ones and values of the right kind', async () => {
    const parsed = await commandsWithPwsh(goldenScripts.map((script) => script.text));
    const problems = parsed.flatMap((calls, index) => exchangeCalls(calls).flatMap((call) => checkExchangeCall(call).map((problem) => `${goldenScripts[index]?.file}: ${problem}`)));
    expect(problems).toEqual([]);
  });

  it("stops on every error of every Exchange call exch-cert generates (-ErrorAction Stop; powershell steps are the author's)", async () => {
    const plans = await Promise.all(GOLDEN_CASES.map(async ([, text, vars]) => planFromText(text(), vars)));
    const blocks = plans.flatMap((plan) => [plan.prologue, ...[...plan.steps, ...plan.onFailure].filter((step) => step.action !== 'powershell').map((step) => step.script)]);
    const parsed = await commandsWithPwsh(blocks);
    const lax = parsed.flatMap((calls, index) =>
      exchangeCalls(calls)
        .filter((call) => !call.elements.some((element) => element.kind === 'parameter' && element.name.toLowerCase() === 'erroraction'))
        .map((call) => `${blocks[index]?.split('\n')[0] ?? ''}: ${call.name}`),
    );
    expect(blocks.length).toBeGreaterThan(20);
    expect(lax).toEqual([]);
  });

  it('sees every Exchange cmdlet the action catalog declares, and only cmdlets the reference has', async () => {
    const declared = new Set(ACTIONS.flatMap((action) => (typeof action.exchangeCmdlets === 'function' ? [] : action.exchangeCmdlets)));
    const parsed = await commandsWithPwsh(goldenScripts.map((script) => script.text));
    const seen = new Set(parsed.flatMap((calls) => exchangeCalls(calls).map((call) => call.name)));
    expect([...declared].filter((name) => !(name in REFERENCE.cmdlets))).toEqual([]);
    expect([...declared].filter((name) => !seen.has(name))).toEqual([]);
  });

  it('catches what Exchange would refuse', async () => {
    const bad = [
      "Set-TransportService -Identity 'EXCH01' -InternalTransportCertificateThumbprint $t",
      "Enable-ExchangeCertificate -Thumbprint $t -Identity 'EXCH01\\x' -Services 'IIS'",
      'Enable-ExchangeCertificate -Thumbprint $t',
      "Test-ServiceHealth -Identity 'EXCH01'",
      "Import-ExchangeCertificate -FileData $bytes -Password 'plain text'",
      "Import-ExchangeCertificate -FileData $bytes -PrivateKeyExportable 'yes'",
      'Export-ExchangeCertificate -Thumbprint $t -BinaryEncoded $true',
      "New-ExchangeCertificate -KeySize 'big'",
    ];
    const parsed = await commandsWithPwsh(bad);
    const verdicts = parsed.map((calls) => exchangeCalls(calls).flatMap(checkExchangeCall));
    verdicts.forEach((problems, index) => expect(problems.length, bad[index]).toBeGreaterThan(0));
    expect(verdicts[0]?.[0]).toContain('-InternalTransportCertificateThumbprint is not a parameter of Set-TransportService');
    expect(verdicts[1]?.[0]).toContain('do not belong to one parameter set');
    expect(verdicts[2]?.[0]).toContain('mandatory -Services missing');
    expect(verdicts[4]?.[0]).toContain('-Password takes SecureString, not a string literal');
  });
});
