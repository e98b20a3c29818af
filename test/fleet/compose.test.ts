import { describe, expect, it } from 'vitest';
import { analyzeRunbook } from '../../src/lint/index.js';
import { compilePlan } from '../../src/plan/compile.js';
import { bindParams } from '../../src/plan/params.js';
import type { Runbook } from '../../src/runbook/model.js';
import { composeMaintenance } from '../../src/fleet/compose.js';
import { shippedRunbookText } from '../helpers/plan.js';

async function runbookOf(text: string, file = 'test.yaml'): Promise<Runbook> {
  const { runbook, diagnostics } = await analyzeRunbook({ file, text });
  if (!runbook) throw new Error(diagnostics.map((d) => d.message).join('\n'));
  return runbook;
}

const ids = (steps: readonly { id: string }[]): string[] => steps.map((step) => step.id);

describe('composeMaintenance', () => {
  it('runs the checks of both first, drains before the first change, and brings the server back after the restarts and health check', async () => {
    const composed = composeMaintenance(await runbookOf(shippedRunbookText('renew-certificate'), 'renew.yaml'), await runbookOf(shippedRunbookText('maintenance-mode'), 'maintenance.yaml'));
    expect(ids(composed.runbook.steps)).toEqual([
      'components-before',
      'preflight',
      'probe',
      'backup-old',
      'drain-transport',
      'redirect-messages',
      'wait-for-queues',
      'server-offline',
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
      'server-online',
      'transport-active',
      'components-active',
      'health-after-maintenance',
      'remove-old',
    ]);
    expect(ids(composed.runbook.onFailure)).toEqual(['rebind-old', 'rollback-iis-reset', 'start-stopped', 'rollback-server-online', 'rollback-transport-active', 'rollback-components-active']);
    expect(composed.runbook.steps.map((step) => step.index)).toEqual([...composed.runbook.steps.keys()]);
    expect(composed).toMatchObject({
      enterSteps: ['drain-transport', 'redirect-messages', 'server-offline'],
      exitSteps: ['server-online', 'transport-active', 'components-active'],
      rollbackExitSteps: ['rollback-server-online', 'rollback-transport-active', 'rollback-components-active'],
    });
    expect(composed.runbook.name).toBe('renew-certificate+maintenance-mode');
    expect([...composed.runbook.params.keys()]).toEqual(expect.arrayContaining(['server', 'pfxPath', 'fqdn', 'redirectTo', 'queueTimeoutSeconds']));
  });

  it('compiles to one plan whose headers count the whole runbook, with the cmdlets of both imported', async () => {
    const composed = composeMaintenance(await runbookOf(shippedRunbookText('renew-certificate')), await runbookOf(shippedRunbookText('maintenance-mode')));
    const plan = compilePlan(composed.runbook, bindParams(composed.runbook, new Map(Object.entries({ server: 'EXCH02', pfxPath: 'C:\\new.pfx', fqdn: 'mail.contoso.com', redirectTo: 'EXCH01' }))), {
      connection: { kind: 'remote', server: 'EXCH02' },
      toolVersion: '0.0.0-test',
    });
    expect(plan.steps[4]?.script).toMatch(/^# \[5\/26\] drain-transport: /);
    expect(plan.onFailure[5]?.script).toMatch(/^# \[onFailure 6\/6\] rollback-components-active: /);
    expect(plan.exchangeCmdlets).toEqual(expect.arrayContaining(['Set-ServerComponentState', 'Redirect-Message', 'Get-Queue', 'Import-ExchangeCertificate']));
    expect(plan.steps.find((step) => step.id === 'redirect-messages')?.script).toContain("Redirect-Message -Server 'EXCH02'");
  });

  it('puts the second half at the end when the renewal restarts nothing', async () => {
    const renewal = await runbookOf("version: 1\nname: bind\nparams:\n  server: { type: string, required: true }\nsteps:\n  - id: health\n    action: test-service-health\n    with: { server: '${{ params.server }}' }\n  - id: name\n    action: set-pop-imap-certificate-name\n    with: { server: '${{ params.server }}', name: mail.contoso.com }\n");
    const composed = composeMaintenance(renewal, await runbookOf(shippedRunbookText('maintenance-mode')));
    expect(ids(composed.runbook.steps).slice(-5)).toEqual(['name', 'server-online', 'transport-active', 'components-active', 'health-after-maintenance']);
  });

  it('refuses step ids or params that clash, and a maintenance runbook without its second half', async () => {
    const maintenance = await runbookOf(shippedRunbookText('maintenance-mode'), 'maintenance.yaml');
    const clash = await runbookOf("version: 1\nname: clash\nparams:\n  server: { type: string, required: true }\nsteps:\n  - id: server-offline\n    action: iis-reset\n    with: { server: '${{ params.server }}' }\n", 'clash.yaml');
    expect(() => composeMaintenance(clash, maintenance)).toThrow('clash.yaml and maintenance.yaml both have a step server-offline; rename one of them');
    const typed = await runbookOf("version: 1\nname: typed\nparams:\n  server: { type: string, required: true }\n  redirectTo: { type: boolean, default: true }\nsteps:\n  - id: reset\n    action: iis-reset\n    with: { server: '${{ params.server }}' }\n", 'typed.yaml');
    expect(() => composeMaintenance(typed, maintenance)).toThrow('param redirectTo is a boolean in typed.yaml but a string in maintenance.yaml');
    expect(() => composeMaintenance(typed, clash)).toThrow('clash.yaml has no step server-online');
  });
});
