import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/engine/events.js';
import { executePlan, restoreOutputsScript, type Clock, type ExecuteOptions, type Interrupt } from '../../src/engine/execute.js';
import { Masker } from '../../src/engine/mask.js';
import { ExitCode } from '../../src/errors.js';
import type { Plan } from '../../src/plan/compile.js';
import { completed, FakeSessions, stepDone, thrown, type FakeBehaviour } from '../helpers/fake-session.js';
import { planFromText } from '../helpers/plan.js';

const RUNBOOK = `version: 1
name: engine-test
params:
  server: { type: string, required: true }
  pfxPassword: { type: secret, env: TEST_PFX_PASSWORD }
  backupPassword: { type: secret, env: TEST_BACKUP_PASSWORD }
steps:
  - id: find
    action: find-certificate
    with: { server: '\${{ params.server }}', site: Default Web Site, port: 443 }
  - id: import
    action: import-certificate
    timeout: 5s
    retries: 2
    retryDelay: 2s
    with: { server: '\${{ params.server }}', path: 'C:\\new.pfx', password: '\${{ params.pfxPassword }}' }
  - id: health
    action: test-service-health
    continueOnError: true
    with: { server: '\${{ params.server }}' }
  - id: backup
    action: backup-certificate
    with: { server: '\${{ params.server }}', thumbprint: '\${{ steps.find.outputs.thumbprint }}', path: 'C:\\b.pfx', password: '\${{ params.backupPassword }}' }
  - id: remove
    action: remove-certificate
    with: { server: '\${{ params.server }}', thumbprint: '\${{ steps.find.outputs.thumbprint }}', backupPath: '\${{ steps.backup.outputs.path }}', backupPassword: '\${{ params.backupPassword }}' }
onFailure:
  - id: undo
    action: iis-reset
    with: { server: '\${{ params.server }}' }
`;

const SECRET = 'S3cret-Pfx!';
const OLD = 'A'.repeat(40);

function steadyInterrupt(): Interrupt & { press(): void } {
  const controller = new AbortController();
  let presses = 0;
  return {
    get stopRequested() {
      return presses > 0;
    },
    abortSignal: controller.signal,
    press() {
      presses++;
      if (presses === 2) controller.abort();
    },
  };
}

interface Harness {
  readonly plan: Plan;
  readonly sessions: FakeSessions;
  readonly events: RunEvent[];
  readonly sleeps: number[];
  readonly interrupt: ReturnType<typeof steadyInterrupt>;
  run(extra?: Partial<ExecuteOptions>): ReturnType<typeof executePlan>;
}

async function harness(behaviour: FakeBehaviour): Promise<Harness> {
  const plan = await planFromText(RUNBOOK, { server: 'EXCH01' });
  const sessions = new FakeSessions(behaviour);
  const events: RunEvent[] = [];
  const sleeps: number[] = [];
  const interrupt = steadyInterrupt();
  let now = 0;
  const clock: Clock = {
    now: () => (now += 10),
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
  };
  return {
    plan,
    sessions,
    events,
    sleeps,
    interrupt,
    run: (extra = {}) =>
      executePlan({
        plan,
        runId: 'run-1',
        sessions,
        shellEnv: { TEST_PFX_PASSWORD: SECRET, TEST_BACKUP_PASSWORD: 'b4ckup' },
        sink: { emit: (event) => events.push(event) },
        masker: new Masker([SECRET, 'b4ckup']),
        confirm: () => Promise.resolve('yes'),
        interrupt,
        clock,
        runner: { host: 'ADMINPC', pid: 4242 },
        ...extra,
      }),
  };
}

/** A shell where every step succeeds; find reports the old thumbprint. */
const happy: FakeBehaviour = (block) => stepDone(block, block.stepId === 'find' ? { thumbprint: OLD, found: true } : {});

const finished = (events: RunEvent[]) =>
  events.filter((event): event is Extract<RunEvent, { type: 'step-finished' }> => event.type === 'step-finished').map((event) => [event.stepId, event.status, event.attempts]);

describe('executePlan', () => {
  it('sends the prologue, every step block and the epilogue exactly as planned, in one session', async () => {
    const h = await harness(happy);
    const result = await h.run();
    expect(result.exitCode).toBe(ExitCode.ok);
    expect(h.sessions.sent.map((block) => block.script)).toEqual([h.plan.prologue, ...h.plan.steps.map((step) => step.script), h.plan.epilogue]);
    expect(h.sessions.starts).toEqual([{ env: { TEST_PFX_PASSWORD: SECRET, TEST_BACKUP_PASSWORD: 'b4ckup' } }]);
    expect(finished(h.events)).toEqual([
      ['find', 'changed', 1],
      ['import', 'changed', 1],
      ['health', 'changed', 1],
      ['backup', 'changed', 1],
      ['remove', 'changed', 1],
    ]);
    expect(h.events.at(-1)).toMatchObject({ type: 'run-finished', outcome: 'ok', exitCode: 0 });
  });

  it('retries a failing step after its delay and reports the attempts', async () => {
    let failures = 0;
    const h = await harness((block) => (block.stepId === 'import' && failures++ < 2 ? thrown('store busy') : happy(block, undefined)));
    const result = await h.run();
    expect(result.exitCode).toBe(0);
    expect(finished(h.events).find(([id]) => id === 'import')).toEqual(['import', 'changed', 3]);
    expect(h.sleeps).toEqual([2000, 2000]);
    expect(h.events.filter((event) => event.type === 'step-retrying')).toHaveLength(2);
  });

  it('stops at a failed step, runs onFailure, says what changed and exits 1', async () => {
    const h = await harness((block) => (block.stepId === 'backup' ? thrown('export failed: key not exportable') : happy(block, undefined)));
    const result = await h.run();
    expect(result.exitCode).toBe(ExitCode.failed);
    expect(h.sessions.steps()).toEqual(['1:find', '1:import', '1:health', '1:backup', '1:undo']);
    expect(result.message).toBe('step backup failed; onFailure: 1 of 1 step(s) succeeded. Steps that changed the server: find, import, health');
    const failed = h.events.find((event) => event.type === 'step-finished' && event.stepId === 'backup');
    expect(failed).toMatchObject({ status: 'failed', error: { message: 'export failed: key not exportable', line: 3, category: 'InvalidOperation' } });
  });

  it('replaces a shell killed by the watchdog: reconnects, restores outputs, retries', async () => {
    let timedOut = false;
    const h = await harness((block) => {
      if (block.stepId === 'import' && !timedOut) {
        timedOut = true;
        return { kind: 'timed_out', log: 'waiting...', durationMs: 5000 };
      }
      return happy(block, undefined);
    });
    const result = await h.run();
    expect(result.exitCode).toBe(0);
    expect(h.sessions.starts).toHaveLength(2);
    const second = h.sessions.sent.filter((block) => block.session === 2).map((block) => block.script);
    expect(second[0]).toBe(h.plan.prologue);
    expect(second[1]).toBe(restoreOutputsScript(new Map([['find', { thumbprint: OLD, found: true }]])));
    expect(second[1]).toContain(`$global:ExchCert.Outputs['find'] = @{ 'thumbprint' = '${OLD}'; 'found' = $true }`);
    expect(second[2]).toBe(h.plan.steps[1]?.script);
    expect(h.events.find((event) => event.type === 'step-retrying')).toMatchObject({ error: { message: 'timed out after 5.0s; PowerShell was stopped' } });
  });

  it('ends as timed_out when every attempt times out', async () => {
    const h = await harness((block) => (block.stepId === 'import' ? { kind: 'timed_out', log: '', durationMs: 5000 } : happy(block, undefined)));
    const result = await h.run();
    expect(result.exitCode).toBe(1);
    expect(finished(h.events).find(([id]) => id === 'import')).toEqual(['import', 'timed_out', 3]);
    expect(result.message).toMatch(/^step import timed out; onFailure: 1 of 1/);
  });

  it('carries on past a step with continueOnError', async () => {
    const h = await harness((block) => (block.stepId === 'health' ? thrown('MSExchangeIS is not running') : happy(block, undefined)));
    const result = await h.run();
    expect(result.exitCode).toBe(0);
    expect(h.events.find((event) => event.type === 'step-finished' && event.stepId === 'health')).toMatchObject({ status: 'failed', continued: true });
    expect(h.sessions.steps()).toContain('1:remove');
  });

  it('does not run a declined step or anything after it, and exits 5', async () => {
    const h = await harness(happy);
    const result = await h.run({ confirm: (step) => Promise.resolve(step.id === 'remove' ? 'no' : 'yes') });
    expect(result.exitCode).toBe(ExitCode.confirmationRequired);
    expect(h.sessions.steps()).not.toContain('1:remove');
    expect(h.events).toContainEqual({ type: 'confirmation', stepId: 'remove', answer: 'no' });
  });

  it('finishes the running step on the first Ctrl-C, then stops with 130 and a resume hint', async () => {
    const h = await harness((block) => {
      if (block.stepId === 'import') h.interrupt.press();
      return happy(block, undefined);
    });
    const result = await h.run();
    expect(result.exitCode).toBe(ExitCode.interrupted);
    expect(h.sessions.steps()).toEqual(['1:find', '1:import']);
    expect(result.message).toBe('stopped by Ctrl-C before step health. Steps that changed the server: find, import. Resume with --resume run-1');
  });

  it('exits 130 when Ctrl-C comes during the last step, after it finishes', async () => {
    const h = await harness((block) => {
      if (block.stepId === 'remove') h.interrupt.press();
      return happy(block, undefined);
    });
    const result = await h.run();
    expect(result.exitCode).toBe(ExitCode.interrupted);
    expect(h.sessions.steps()).toContain('1:remove');
    expect(result.message).toMatch(/^Ctrl-C came during the last step; all 5 steps ran/);
  });

  it('aborts the running step on the second Ctrl-C and says it may be half done', async () => {
    const h = await harness((block, options) => {
      if (block.stepId !== 'import') return happy(block, undefined);
      h.interrupt.press();
      h.interrupt.press();
      expect(options?.signal?.aborted).toBe(true);
      return { kind: 'aborted', log: '', durationMs: 3 };
    });
    const result = await h.run();
    expect(result.exitCode).toBe(130);
    expect(finished(h.events).find(([id]) => id === 'import')).toEqual(['import', 'failed', 1]);
    expect(result.message).toContain('step import was aborted by Ctrl-C and may be half done');
    expect(result.message).toContain('may have partly changed it: import');
  });

  it('on --resume skips finished steps and gives the shell their outputs first', async () => {
    const h = await harness(happy);
    const resume = { runId: 'run-0', fingerprint: 'x', rolledBack: false, host: 'ADMINPC', pids: [], completed: new Map([['find', { status: 'ok' as const, outputs: { thumbprint: OLD } }], ['import', { status: 'changed' as const, outputs: { thumbprint: 'B'.repeat(40) } }]]) };
    const result = await h.run({ resume });
    expect(result.exitCode).toBe(0);
    expect(h.sessions.steps()).toEqual(['1:health', '1:backup', '1:remove']);
    expect(h.sessions.sent[1]?.script).toContain(`$global:ExchCert.Outputs['import'] = @{ 'thumbprint' = '${'B'.repeat(40)}' }`);
    expect(h.events.find((event) => event.type === 'step-finished' && event.stepId === 'find')).toMatchObject({ status: 'skipped', reason: 'done in run run-0' });
    expect(h.events[0]).toMatchObject({ type: 'run-started', resumedFrom: 'run-0' });
  });

  it('masks secrets in every event: errors, logs and outputs', async () => {
    const h = await harness((block) =>
      block.stepId === 'import'
        ? thrown(`bad password ${SECRET} for "${JSON.stringify(SECRET).slice(1, -1)}"`, `echo ${Buffer.from(SECRET).toString('base64')}`)
        : stepDone(block, { leaked: `x${SECRET}y`, thumbprint: OLD }),
    );
    await h.run();
    const all = JSON.stringify(h.events);
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain(Buffer.from(SECRET).toString('base64'));
    expect(all).toContain('bad password ***');
    expect(all).toContain('"leaked":"x***y"');
  });

  it('exits 3 when PowerShell cannot start, before anything runs', async () => {
    const h = await harness(happy);
    h.sessions.failStart = new Error(`pwsh not found (password ${SECRET})`);
    const result = await h.run();
    expect(result.exitCode).toBe(ExitCode.environment);
    expect(result.message).toBe('PowerShell failed: pwsh not found (password ***). Nothing on the server was changed');
    expect(h.sessions.sent).toEqual([]);
  });

  it('exits 3 when the connection (prologue) fails', async () => {
    const h = await harness((block) => (block.script === h.plan.prologue ? thrown('Connecting to remote server EXCH01 failed: Kerberos') : happy(block, undefined)));
    const result = await h.run();
    expect(result.exitCode).toBe(3);
    expect(result.message).toContain('connecting (prologue): Connecting to remote server EXCH01 failed: Kerberos');
    expect(h.sessions.steps()).toEqual([]);
  });

  it('treats a block that reports no step result as a failure', async () => {
    const h = await harness((block) => (block.stepId === 'find' ? completed(null) : happy(block, undefined)));
    const result = await h.run();
    expect(result.exitCode).toBe(1);
    expect(h.events.find((event) => event.type === 'step-finished' && event.stepId === 'find')).toMatchObject({
      error: { message: 'the block of step find did not report its result (Invoke-ExchCertStep did not run)' },
    });
  });

  it('reports a shell that dies during a step as a failure with the reason', async () => {
    const h = await harness((block) => (block.stepId === 'find' ? { kind: 'crashed', log: 'Segmentation fault', durationMs: 2, reason: 'exited with code 139' } : happy(block, undefined)));
    const result = await h.run();
    expect(result.exitCode).toBe(1);
    expect(h.events.find((event) => event.type === 'step-finished' && event.stepId === 'find')).toMatchObject({ error: { message: 'PowerShell stopped while the step ran: exited with code 139' }, log: 'Segmentation fault' });
    // The onFailure step still runs, in a fresh shell.
    expect(h.sessions.steps()).toEqual(['1:find', '2:undo']);
  });

  it('exits 4 when a rollback step fails, and counts skipped rollback steps as skipped', async () => {
    const plan = await planFromText(RUNBOOK.replace(/onFailure:[\s\S]*$/, `onFailure:
  - id: rebind
    action: bind-iis-certificate
    with: { server: '\${{ params.server }}', site: Default Web Site, port: 443, thumbprint: '\${{ steps.find.outputs.thumbprint }}' }
  - id: undo
    action: iis-reset
    when: \${{ steps.rebind.outputs.changed }}
    with: { server: '\${{ params.server }}' }
`), { server: 'EXCH01' });
    const h = await harness((block) => (block.stepId === 'backup' || block.stepId === 'rebind' ? thrown('AddSslCertificate failed') : block.stepId === 'undo' ? stepDone(block, {}, 'skipped') : happy(block, undefined)));
    const result = await h.run({ plan });
    expect(result.exitCode).toBe(ExitCode.leftChanged);
    expect(result.message).toBe('step backup failed; onFailure: 0 of 2 step(s) succeeded, 1 failed, 1 skipped. Steps that changed the server: find, import, health. The server is left changed');
    expect(h.events.at(-1)).toMatchObject({ type: 'run-finished', outcome: 'failed', exitCode: 4 });
  });

  it('exits 4 when a step fails after others changed the server and there is no rollback', async () => {
    const plan = await planFromText(RUNBOOK.replace(/onFailure:[\s\S]*$/, ''), { server: 'EXCH01' });
    const h = await harness((block) => (block.stepId === 'backup' ? thrown('export failed') : happy(block, undefined)));
    const result = await h.run({ plan });
    expect(result.exitCode).toBe(ExitCode.leftChanged);
    expect(result.message).toContain('there are no onFailure steps');
  });

  it('exits 1, not 4, when the failed step changed nothing and nothing before it did', async () => {
    const h = await harness((block) => (block.stepId === 'find' ? thrown('no binding') : happy(block, undefined)));
    const result = await h.run();
    expect(result.exitCode).toBe(ExitCode.failed);
  });

  it('exits 130 when Ctrl-C answers the confirmation prompt', async () => {
    const h = await harness(happy);
    const result = await h.run({ confirm: (step) => Promise.resolve(step.id === 'remove' ? 'interrupted' : 'yes') });
    expect(result.exitCode).toBe(ExitCode.interrupted);
    expect(h.sessions.steps()).not.toContain('1:remove');
  });

  it("never masks exch-cert's own words, even for a one-letter secret", async () => {
    const h = await harness((block) => (block.stepId === 'backup' ? thrown('bad password e here') : happy(block, undefined)));
    const result = await h.run({ masker: new Masker(['e']) });
    for (const event of h.events) expect(event.type).not.toContain('*');
    expect(h.events[0]).toMatchObject({ type: 'run-started', runId: 'run-1', runbook: 'engine-test' });
    expect(result.message).toMatch(/^step backup failed; onFailure: 1 of 1 step\(s\) succeeded\. Steps that changed the server: find, import, health$/);
    expect(h.events.find((event) => event.type === 'step-finished' && event.stepId === 'backup')).toMatchObject({ error: { message: 'bad password *** h***r***' } });
  });

  it('stops at the next step boundary, with what changed, when the journal cannot be written', async () => {
    let problem: string | undefined;
    const h = await harness((block) => {
      if (block.stepId === 'import') problem = '/j/run-1.jsonl: no space left on the disk';
      return happy(block, undefined);
    });
    const result = await h.run({ journalProblem: () => problem });
    expect(h.sessions.steps()).toEqual(['1:find', '1:import']);
    expect(result.exitCode).toBe(ExitCode.leftChanged);
    expect(result.message).toBe('the journal cannot be written (/j/run-1.jsonl: no space left on the disk); stopped before the next step was sent. Steps that changed the server: find, import');
  });

  it('decides a run-time when before asking: a removal whose condition is false is skipped without a prompt', async () => {
    const plan = await planFromText(
      RUNBOOK.replace("  - id: remove\n    action: remove-certificate\n", "  - id: remove\n    action: remove-certificate\n    when: ${{ steps.find.outputs.found }}\n"),
      { server: 'EXCH01' },
    );
    const asked: string[] = [];
    const h = await harness((block) => stepDone(block, block.stepId === 'find' ? { thumbprint: OLD, found: false } : {}));
    const result = await h.run({ plan, confirm: (step) => (asked.push(step.id), Promise.resolve('yes')) });
    expect(result.exitCode).toBe(ExitCode.ok);
    expect(asked).toEqual([]);
    expect(h.sessions.steps()).not.toContain('1:remove');
    expect(h.events.find((event) => event.type === 'step-finished' && event.stepId === 'remove')).toMatchObject({ status: 'skipped', reason: 'when: steps.find.outputs.found is false' });
  });

  it('after a step that commits, a later failure does not roll back: done, with a warning and what was left undone', async () => {
    const plan = await planFromText(RUNBOOK.replace("    continueOnError: true\n", '    commit: true\n'), { server: 'EXCH01' });
    const h = await harness((block) => (block.stepId === 'backup' ? thrown('export failed') : happy(block, undefined)));
    const result = await h.run({ plan });
    expect(result.exitCode).toBe(ExitCode.ok);
    expect(h.sessions.steps()).not.toContain('1:undo');
    expect(result.message).toBe('done up to step health; step backup failed afterwards and was not rolled back: left undone: backup, remove');
    expect(h.events).toContainEqual(expect.objectContaining({ type: 'warning', stepId: 'backup' }));
    expect(h.events.at(-1)).toMatchObject({ type: 'run-finished', outcome: 'ok', exitCode: 0, leftUndone: true });
  });

  describe("until: 'first-change' (a preflight)", () => {
    it('connects, runs the read-only steps before the first changing one, and stops there without a rollback', async () => {
      const h = await harness(happy);
      const result = await h.run({ until: 'first-change' });
      expect(result).toMatchObject({ outcome: 'ok', exitCode: ExitCode.ok, stoppedBefore: 'import' });
      expect(result.message).toBe('preflight: 1 read-only step(s) ran; stopped before step import, the first that changes the server. Nothing on the server was changed');
      expect(h.sessions.sent.map((block) => block.script)).toEqual([h.plan.prologue, h.plan.steps[0]?.script, h.plan.epilogue]);
      expect(result.outputs.get('find')).toEqual({ thumbprint: OLD, found: true });
    });

    it('fails without running onFailure when a read-only step fails: nothing was changed', async () => {
      const h = await harness((block) => (block.stepId === 'find' ? thrown('no certificate is bound to Default Web Site *:443:') : happy(block, undefined)));
      const result = await h.run({ until: 'first-change' });
      expect(result).toMatchObject({ outcome: 'failed', exitCode: ExitCode.failed });
      expect(result.stoppedBefore).toBeUndefined();
      expect(result.message).toBe('preflight: step find failed. Nothing on the server was changed');
      expect(h.sessions.steps()).toEqual(['1:find']);
      expect(h.events.some((event) => event.type === 'rollback-started')).toBe(false);
    });

    it('runs a plan without changing steps to the end', async () => {
      const plan = await planFromText(
        "version: 1\nname: read-only\nparams:\n  server: { type: string, required: true }\nsteps:\n  - id: health\n    action: test-service-health\n    with: { server: '${{ params.server }}' }\n",
        { server: 'EXCH01' },
      );
      const h = await harness(happy);
      const result = await h.run({ plan, until: 'first-change' });
      expect(result).toMatchObject({ outcome: 'ok', message: 'all 1 steps done' });
      expect(result.stoppedBefore).toBeUndefined();
    });

    it('passes over a changing step that is skipped at plan time', async () => {
      const plan = await planFromText(
        "version: 1\nname: skip\nparams:\n  server: { type: string, required: true }\nsteps:\n  - id: reset\n    action: iis-reset\n    when: false\n    with: { server: '${{ params.server }}' }\n  - id: health\n    action: test-service-health\n    with: { server: '${{ params.server }}' }\n  - id: reset-again\n    action: iis-reset\n    with: { server: '${{ params.server }}' }\n",
        { server: 'EXCH01' },
      );
      const h = await harness(happy);
      const result = await h.run({ plan, until: 'first-change' });
      expect(result.stoppedBefore).toBe('reset-again');
      expect(finished(h.events)).toEqual([['reset', 'skipped', 0], ['health', 'changed', 1]]);
    });
  });
});
