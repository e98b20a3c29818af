/**
 * Hostile values through the whole compiler, proved with PowerShell's own
 * parser: whatever a param, a title or an argument holds, the generated
 * script has the same commands and variables as with a harmless value, no
 * parse error, and the value appears as one string literal.
 */
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { renderScript } from '../../src/plan/render.js';
import { loadHostileValues } from '../helpers/hostile.js';
import { planFromText } from '../helpers/plan.js';
import { parseWithPwsh, pwshPath } from '../helpers/pwsh.js';

const HARMLESS = 'harmless';

function runbook(title: string): string {
  return `version: 1
name: hostile
params:
  server: { type: string, required: true }
  name: { type: string }
  arg: { type: string, required: true }
  dir: { type: string, required: true }
  pfxPassword: { type: secret, env: PFX_PASSWORD }
steps:
  - id: find
    action: find-certificate
    with: { server: '\${{ params.server }}', site: Default Web Site, port: 443 }
  - id: import
    title: ${yamlString(title)}
    action: import-certificate
    with:
      server: \${{ params.server }}
      path: \${{ params.dir }}\\\${{ steps.find.outputs.thumbprint }}.pfx
      password: \${{ params.pfxPassword }}
      friendlyName: \${{ params.name }}
  - id: script
    action: powershell
    with:
      arguments: { value: '\${{ params.arg }}' }
      script: Write-Output $ExchCertArguments['value']
  - id: health
    action: test-service-health
    with: { server: '\${{ params.server }}' }
`;
}

/**
 * A double-quoted YAML string with every control character escaped: lint
 * rejects raw control characters in a runbook's text, while an escaped one is
 * a value like any other (and the values here also arrive through --var).
 */
const yamlString = (value: string): string =>
  JSON.stringify(value).replace(/[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** Values a JSON/YAML round trip cannot carry unchanged (lone surrogates) are left to the quoting tests. */
const wellFormed = (value: string): boolean => !/[\uD800-\uDFFF]/.test(value.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, ''));

async function script(value: string, friendlyName: boolean): Promise<string> {
  // A path may not hold control characters (checked below); any other value goes into the path too.
  const vars: Record<string, string> = { server: 'EXCH01', arg: value, dir: canBePath(value) ? value : HARMLESS };
  if (friendlyName) vars['name'] = value;
  return renderScript(await planFromText(runbook(value === '' ? HARMLESS : value), vars));
}

/** What psString turns a value into: itself, or for a value with line breaks its single-line pieces. */
const pieces = (value: string): string[] => value.split(/[\r\n]/).filter((piece, index) => index === 0 || piece !== '');

const canBePath = (value: string): boolean => !/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(value);
const canBeFriendlyName = (value: string): boolean => value.length > 0 && value.length <= 63 && !/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(value);

describe.skipIf(!pwshPath)('hostile values in generated scripts (real PowerShell parser)', { timeout: 180_000 }, () => {
  it('stay data: same commands, same variables, no parse errors, each value one literal', async () => {
    const values = loadHostileValues().filter(wellFormed);
    const scripts = [await script(HARMLESS, true), ...(await Promise.all(values.map((value) => script(value, canBeFriendlyName(value)))))];
    const [baseline, ...parses] = await parseWithPwsh(scripts);
    expect(baseline?.errors).toEqual([]);
    parses.forEach((parse, index) => {
      const value = values[index] ?? '';
      const label = JSON.stringify(value.slice(0, 60));
      expect(parse.errors, label).toEqual([]);
      expect(parse.commands, label).toEqual(baseline?.commands);
      expect(parse.variables, label).toEqual(baseline?.variables);
      const literals = parse.stringConstants.map((constant) => constant.value);
      // The argument of the powershell step, and the backup path's literal prefix (a value with
      // line breaks arrives as its single-line pieces; test/powershell/quote.test.ts evaluates them).
      for (const piece of pieces(value)) expect(literals, label).toContain(piece);
      if (canBePath(value)) expect(literals, label).toContain(`${value}\\`);
      if (canBeFriendlyName(value)) expect(parse.stringConstants.filter((constant) => constant.value === value).length, label).toBeGreaterThanOrEqual(2);
    });
  });

  it('rejects, with an input error, the values a name or path field must never hold', async () => {
    for (const value of ['a\nStop-Computer', 'x\u0000y', 'a\u2028b', 'x'.repeat(64)]) {
      await expect(script(value, true), JSON.stringify(value)).rejects.toThrow(InputError);
    }
    const path = await planFromText(runbook(HARMLESS), { server: 'EXCH01', arg: HARMLESS, dir: 'C:\\x\rStop-Computer' }).catch((error: unknown) => error);
    expect(path).toBeInstanceOf(InputError);
  });
});
