/**
 * A failing Exchange cmdlet fails its step, for every Exchange cmdlet of every action in the catalog,
 * whether Exchange reports the failure as a terminating or a non-terminating error. The blocks are
 * the compiler's own, sent through the real bridge to a real PowerShell that reaches the simulator
 * in-process or through real PowerShell remoting (exchange-faults.*.test.ts). Through remoting,
 * server-side errors arrive non-terminating and proxies ignore a local 'Stop' preference: this is
 * where a renewal used to report success while Exchange refused.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Plan } from '../../src/plan/compile.js';
import type { Connection } from '../../src/plan/connection.js';
import { createNodePowerShellFactory } from '../../src/powershell/node-powershell.js';
import type { InvokeOutcome, PowerShellSession } from '../../src/powershell/session.js';
import { runCli } from '../helpers/cli.js';
import { planFromText } from '../helpers/plan.js';
import { pwshPath } from '../helpers/pwsh.js';
import { writeRemoteSessionModule, SIMULATOR_MODULE } from '../helpers/remote-session.js';
import { startSshServer, type SshServer } from '../helpers/sshd.js';

const PFX_PASSWORD = 'fault-matrix-pfx';
const BACKUP_PASSWORD = 'fault-matrix-backup';

export interface FaultMatrixMode {
  readonly name: string;
  readonly available: boolean;
  readonly remoting: boolean;
}

interface Fixture {
  readonly dir: string;
  /** The state as `simulator init` made it, and with the renewed certificate imported. */
  readonly pristine: string;
  readonly baseline: string;
  readonly state: string;
  readonly pfx: string;
  readonly backup: string;
}

/** One step per Exchange action, with literal values, so each block runs on its own. */
function matrixRunbook(fixture: Fixture, thumbprints: { readonly renewed: string; readonly old: string }): string {
  const server = "server: '${{ params.server }}'";
  return [
    'version: 1',
    'name: fault-matrix',
    'params:',
    '  server: { type: string, required: true }',
    '  pfxPassword: { type: secret, env: EXCH_CERT_PFX_PASSWORD }',
    '  backupPassword: { type: secret, env: EXCH_CERT_BACKUP_PASSWORD }',
    'steps:',
    '  - id: create',
    '    action: new-self-signed-certificate',
    `    with: { ${server}, subjectName: 'CN=EXCH01', domains: [EXCH01, exch01.contoso.com] }`,
    '  - id: import',
    '    action: import-certificate',
    `    with: { ${server}, path: ${JSON.stringify(fixture.pfx)}, password: '\${{ params.pfxPassword }}' }`,
    '  - id: find',
    '    action: find-certificate',
    `    with: { ${server}, thumbprint: '${thumbprints.old}' }`,
    '  - id: enable',
    '    action: enable-certificate',
    `    with: { ${server}, thumbprint: '${thumbprints.renewed}', services: [SMTP] }`,
    '  - id: pop-imap',
    '    action: set-pop-imap-certificate-name',
    `    with: { ${server}, name: imap.contoso.com }`,
    '  - id: restart',
    '    action: restart-services',
    `    with: { ${server}, services: [MSExchangePop3, MSExchangePOP3BE, MSExchangeImap4, MSExchangeIMAP4BE] }`,
    '  - id: health',
    '    action: test-service-health',
    `    with: { ${server} }`,
    '  - id: backup',
    '    action: backup-certificate',
    `    with: { ${server}, thumbprint: '${thumbprints.renewed}', path: ${JSON.stringify(fixture.backup)}, password: '\${{ params.backupPassword }}' }`,
    '  - id: remove',
    '    action: remove-certificate',
    `    with: { ${server}, thumbprint: '${thumbprints.renewed}', backupPath: '\${{ steps.backup.outputs.path }}', backupPassword: '\${{ params.backupPassword }}' }`,
    '',
  ].join('\n');
}

function expectCompleted(outcome: InvokeOutcome): Extract<InvokeOutcome, { kind: 'completed' }> {
  expect(outcome.kind, JSON.stringify(outcome)).toBe('completed');
  return outcome as Extract<InvokeOutcome, { kind: 'completed' }>;
}

/** Defines the matrix for one way of reaching the simulator. */
export function describeFaultMatrix(mode: FaultMatrixMode): void {
  describe.skipIf(!mode.available)(`a failing Exchange cmdlet fails its step, ${mode.name}`, { timeout: 300_000 }, () => {
    let fixture: Fixture;
    let sshd: SshServer | undefined;
    let session: PowerShellSession;
    let plan: Plan;

    /** The state a step starts from (import: before the import), with the given faults. */
    const reset = (stepId: string, faults: unknown[] = []): void => {
      const data = JSON.parse(readFileSync(stepId === 'import' ? fixture.pristine : fixture.baseline, 'utf8')) as Record<string, unknown>;
      data['faults'] = faults;
      writeFileSync(fixture.state, JSON.stringify(data));
      if (existsSync(fixture.backup)) rmSync(fixture.backup);
      // The removal needs the verified backup the backup step made (it checks it again first).
      if (stepId === 'remove' && existsSync(`${fixture.backup}.verified`)) copyFileSync(`${fixture.backup}.verified`, fixture.backup);
    };

    beforeAll(async () => {
      const dir = mkdtempSync(join(tmpdir(), 'exch-cert-faults-'));
      const init = runCli(['simulator', 'init', '--dir', dir, '--shell', pwshPath ?? 'pwsh'], { env: { EXCH_CERT_PFX_PASSWORD: PFX_PASSWORD } });
      expect(init.status, init.stderr).toBe(0);
      fixture = { dir, pristine: join(dir, 'pristine.json'), baseline: join(dir, 'baseline.json'), state: join(dir, 'state.json'), pfx: join(dir, 'renewed-mail.contoso.com.pfx'), backup: join(dir, 'backup.pfx') };
      copyFileSync(fixture.state, fixture.pristine);

      let connection: Connection = { kind: 'module', server: 'EXCH01', modulePath: SIMULATOR_MODULE };
      if (mode.remoting) {
        sshd = await startSshServer();
        connection = { kind: 'remote', server: 'EXCH01', sessionModule: writeRemoteSessionModule(sshd, { statePath: fixture.state }, join(dir, 'session.psm1')) };
      }
      const env = { EXCH_CERT_SIMULATOR_STATE: fixture.state, EXCH_CERT_PFX_PASSWORD: PFX_PASSWORD, EXCH_CERT_BACKUP_PASSWORD: BACKUP_PASSWORD };
      session = await createNodePowerShellFactory({ shell: pwshPath ?? 'pwsh' }).start({ env });

      // Thumbprints from the simulator itself, through the same kind of connection the steps use.
      const probe = await planFromText(matrixRunbook(fixture, { renewed: '0'.repeat(40), old: '0'.repeat(40) }), { server: 'EXCH01' }, connection);
      expect(expectCompleted(await session.invoke(probe.prologue)).envelope).toMatchObject({ ok: true });
      const listing = expectCompleted(
        await session.invoke(
          "$global:ExchCert.Current = @{ Id = 'probe'; Status = 'ok'; Outputs = @{ all = @(Get-ExchangeCertificate -Server 'EXCH01' -ErrorAction Stop | ForEach-Object { [string]$_.Thumbprint + '|' + [string]$_.Subject }) } }",
        ),
      );
      if (!listing.envelope.ok || !listing.envelope.step) throw new Error(`cannot list the certificates: ${JSON.stringify(listing)}`);
      const all = listing.envelope.step.outputs['all'] as string[];
      const old = all.find((line) => line.includes('CN=mail.contoso.com'))?.split('|')[0] ?? '';
      // Import the renewed certificate once into the baseline, so enable and remove have it to act on
      // (the import step does not read the renewed thumbprint).
      plan = await planFromText(matrixRunbook(fixture, { renewed: '0'.repeat(40), old }), { server: 'EXCH01' }, connection);
      const imported = expectCompleted(await session.invoke(stepScript(plan, 'import')));
      expect(imported.envelope, imported.log).toMatchObject({ ok: true, step: { status: 'changed' } });
      const renewed = String((imported.envelope as { step: { outputs: Record<string, unknown> } }).step.outputs['thumbprint']);
      plan = await planFromText(matrixRunbook(fixture, { renewed, old }), { server: 'EXCH01' }, connection);
      copyFileSync(fixture.state, fixture.baseline);
    });

    afterAll(async () => {
      await session.dispose();
      await sshd?.stop();
      rmSync(fixture.dir, { recursive: true, force: true });
    });

    it('runs every step of the matrix without faults (so a failure below is the fault\'s)', async () => {
      for (const step of plan.steps) {
        reset(step.id);
        const outcome = expectCompleted(await session.invoke(step.script));
        expect(outcome.envelope, `${step.id}: ${outcome.log}`).toMatchObject({ ok: true, step: { id: step.id } });
        if (step.id === 'backup') copyFileSync(fixture.backup, `${fixture.backup}.verified`);
      }
    });

    it('covers every Exchange cmdlet of every Exchange action', () => {
      expect(new Set(plan.steps.flatMap((step) => step.exchangeCmdlets))).toEqual(
        new Set(['New-ExchangeCertificate', 'Get-ExchangeCertificate', 'Import-ExchangeCertificate', 'Enable-ExchangeCertificate', 'Get-TransportService', 'Get-PopSettings', 'Set-PopSettings', 'Get-ImapSettings', 'Set-ImapSettings', 'Test-ServiceHealth', 'Export-ExchangeCertificate', 'Remove-ExchangeCertificate', 'Get-AuthConfig']),
      );
    });

    for (const terminating of [true, false]) {
      it(`fails the step when any of its Exchange cmdlets writes a ${terminating ? 'terminating' : 'non-terminating'} error`, async () => {
        const missed: string[] = [];
        for (const step of plan.steps) {
          for (const cmdlet of step.exchangeCmdlets) {
            const message = `injected ${terminating ? 'terminating' : 'non-terminating'} failure of ${cmdlet} in ${step.id}`;
            reset(step.id, [{ command: cmdlet, action: 'throw', message, terminating }]);
            const outcome = expectCompleted(await session.invoke(step.script));
            if (outcome.envelope.ok || !outcome.envelope.error.message.includes(message)) missed.push(`${step.id}/${cmdlet}: ${JSON.stringify(outcome.envelope)}`);
          }
        }
        expect(missed).toEqual([]);
      });
    }
  });
}

/** The plan's block for one step. */
function stepScript(plan: Plan, id: string): string {
  const step = plan.steps.find((candidate) => candidate.id === id);
  if (!step) throw new Error(`no step ${id}`);
  return step.script;
}
