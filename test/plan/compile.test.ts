import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { renderScript } from '../../src/plan/render.js';
import { runbookWith } from '../helpers/analyze.js';
import { planFromText, shippedRunbookText } from '../helpers/plan.js';

const renewVars = { server: 'EXCH01', pfxPath: 'C:\\certs\\new.pfx', fqdn: 'mail.contoso.com' };

describe('compilePlan', () => {
  it('puts every step block into the script verbatim and in order: the dry run is what runs', async () => {
    const plan = await planFromText(shippedRunbookText('renew-certificate'), renewVars);
    const script = renderScript(plan);
    let cursor = script.indexOf(plan.prologue);
    expect(cursor).toBeGreaterThan(0);
    for (const step of plan.steps.filter((candidate) => !candidate.skipped)) {
      const at = script.indexOf(step.script, cursor);
      expect(at, step.id).toBeGreaterThan(cursor);
      cursor = at + step.script.length;
    }
    expect(script.indexOf(plan.epilogue, cursor)).toBeGreaterThan(cursor);
  });

  it('never writes a secret value: the script reads it from the environment at run time', async () => {
    const plan = await planFromText(shippedRunbookText('renew-certificate'), renewVars);
    const script = renderScript(plan);
    expect(plan.secrets).toEqual([
      { param: 'pfxPassword', env: 'EXCH_CERT_PFX_PASSWORD' },
      { param: 'backupPassword', env: 'EXCH_CERT_BACKUP_PASSWORD' },
    ]);
    expect(script).toContain("Read-ExchCertSecret -Name 'pfxPassword' -Variable 'EXCH_CERT_PFX_PASSWORD'");
    expect(script).toContain("-Password $ExchCert.Secrets['pfxPassword']");
    expect(script).not.toMatch(/AsPlainText|ConvertTo-SecureString/);
  });

  it('marks values known only at run time and lists them in the header', async () => {
    const plan = await planFromText(shippedRunbookText('renew-certificate'), renewVars);
    expect(plan.runtimeValues.map((value) => value.reference)).toEqual(
      expect.arrayContaining(['steps.preflight.outputs.oldThumbprint', 'steps.preflight.outputs.remove', 'steps.import.outputs.thumbprint', 'steps.backup-old.outputs.path', 'steps.bind.outputs.changed']),
    );
    const remove = plan.steps.find((step) => step.id === 'remove-old');
    expect(remove?.reads).toEqual(['steps.preflight.outputs.oldThumbprint', 'steps.import.outputs.thumbprint', 'steps.backup-old.outputs.path', 'steps.preflight.outputs.remove']);
    expect(remove?.script).toContain('#   known at run time: steps.preflight.outputs.oldThumbprint, steps.import.outputs.thumbprint, steps.backup-old.outputs.path, steps.preflight.outputs.remove');
  });

  it('interpolates params into text and keeps step outputs for run time', async () => {
    const plan = await planFromText(shippedRunbookText('renew-certificate'), { ...renewVars, backupDirectory: "D:\\it's here" });
    const backup = plan.steps.find((step) => step.id === 'backup-old');
    expect(backup?.script).toContain("(-join @('D:\\it''s here\\', [string](Get-ExchCertOutput -Step 'preflight' -Name 'oldThumbprint'), '.pfx'))");
  });

  it('decides a when on params at plan time and shows the skip', async () => {
    const plan = await planFromText(shippedRunbookText('new-self-signed-certificate'), { server: 'EXCH01', fqdn: 'exch01.contoso.local' });
    const skipped = plan.steps.filter((step) => step.skipped).map((step) => [step.id, step.skipped, step.script]);
    expect(skipped).toEqual([
      ['bind-back-end', 'when: params.bindBackEnd is false', ''],
      ['iis-reset', 'when: params.bindBackEnd is false', ''],
    ]);
    expect(renderScript(plan)).toContain('#   skipped: when: params.bindBackEnd is false');
  });

  it('evaluates a when on a step output at run time', async () => {
    const text = runbookWith(
      [
        '  - id: find',
        '    action: find-certificate',
        '    with: { server: "${{ params.server }}", site: Default Web Site, port: 443, allowMissing: true }',
        '  - id: health',
        '    action: test-service-health',
        '    when: ${{ steps.find.outputs.found }}',
        '    with: { server: "${{ params.server }}" }',
      ].join('\n'),
    );
    const plan = await planFromText(text, { server: 'EXCH01' });
    expect(plan.steps[1]?.script).toContain("Invoke-ExchCertStep -Id 'health' -ReadOnly -Exchange -When { (Test-ExchCertOutput -Step 'find' -Name 'found') } -Body {");
  });

  it('runs a step whose when lists several conditions when any one is true; a param that is true decides at once', async () => {
    const text = runbookWith(
      [
        '  - id: find',
        '    action: find-certificate',
        '    with: { server: "${{ params.server }}", site: Default Web Site, port: 443, allowMissing: true }',
        '  - id: health',
        '    action: test-service-health',
        '    when: [ "${{ params.always }}", "${{ steps.find.outputs.found }}", "${{ params.never }}" ]',
        '    with: { server: "${{ params.server }}" }',
      ].join('\n'),
      'server: { type: string, required: true }\nalways: { type: boolean, default: false }\nnever: { type: boolean, default: false }',
    );
    const runtime = await planFromText(text, { server: 'EXCH01' });
    expect(runtime.steps[1]?.script).toContain("-When { (Test-ExchCertOutput -Step 'find' -Name 'found') } -Body {");
    const always = await planFromText(text, { server: 'EXCH01', always: 'true' });
    expect(always.steps[1]?.script).not.toContain('-When');
    const only = await planFromText(text.replace('"${{ steps.find.outputs.found }}", ', ''), { server: 'EXCH01' });
    expect(only.steps[1]?.skipped).toBe('when: params.always is false; when: params.never is false');
  });

  it('checks param values against the field they reach', async () => {
    const text = runbookWith(
      ['  - id: find', '    action: find-certificate', '    with: { server: "${{ params.server }}", thumbprint: "${{ params.thumb }}" }'].join('\n'),
      'server: { type: string, required: true }\nthumb: { type: string, required: true }',
    );
    await expect(planFromText(text, { server: 'EXCH01', thumb: 'not-a-thumbprint' })).rejects.toThrow(
      /step find: field thumbprint got "not-a-thumbprint": expected a thumbprint: 40 hexadecimal digits/,
    );
    await expect(planFromText(text, { server: 'EXCH01;Stop-Computer', thumb: 'A'.repeat(40) })).rejects.toThrow(/field server got .*expected a server name/);
  });

  it('refuses line breaks in the known parts of text assembled at run time', async () => {
    await expect(planFromText(shippedRunbookText('renew-certificate'), { ...renewVars, backupDirectory: 'D:\\x\nStop-Computer' })).rejects.toThrow(
      /step backup-old: field path got "D:\\\\x\\nStop-Computer\\\\\.pfx": must not contain control characters/,
    );
  });

  it('leaves an optional field out when its param is not set', async () => {
    const plan = await planFromText(shippedRunbookText('renew-certificate'), renewVars);
    expect(plan.steps.find((step) => step.id === 'import')?.script).not.toContain('-FriendlyName');
    const named = await planFromText(shippedRunbookText('renew-certificate'), { ...renewVars, friendlyName: 'Mail 2026' });
    expect(named.steps.find((step) => step.id === 'import')?.script).toContain("-FriendlyName 'Mail 2026'");
  });

  it('reports every bad param at once', async () => {
    const error = await planFromText(shippedRunbookText('renew-certificate'), { server: 'EXCH01', services: 'IIS,FTP', nope: '1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    const message = (error as InputError).message;
    expect(message).toContain("unknown param 'nope'");
    expect(message).toContain("missing required param 'pfxPath'");
    expect(message).toContain("missing required param 'fqdn'");
    expect(message).toContain("--var services has item 'FTP'");
  });
});
