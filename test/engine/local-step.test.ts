import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/engine/events.js';
import { executePlan, type Clock, type ExecuteOptions } from '../../src/engine/execute.js';
import { resolveLocalInputs, type LocalStepRunners } from '../../src/engine/local-step.js';
import { Masker } from '../../src/engine/mask.js';
import { ExitCode } from '../../src/errors.js';
import { FakeSessions, stepDone } from '../helpers/fake-session.js';
import { planFromText } from '../helpers/plan.js';

const NEW = 'B'.repeat(40);
const RUNBOOK = `version: 1
name: local-steps
params:
  server: { type: string, required: true }
steps:
  - id: find
    action: find-certificate
    with: { server: '\${{ params.server }}', site: Default Web Site, port: 443 }
  - id: probe
    action: probe-tls
    with: { server: '\${{ params.server }}', fqdn: mail.contoso.com, services: [IIS, IMAP] }
  - id: verify
    action: verify-tls
    timeout: 2s
    retries: 1
    retryDelay: 1s
    with:
      server: '\${{ params.server }}'
      fqdn: mail.contoso.com
      services: [IIS, IMAP]
      thumbprint: '\${{ steps.find.outputs.thumbprint }}'
      before: '\${{ steps.probe.outputs.served }}'
  - id: health
    action: test-service-health
    with: { server: '\${{ params.server }}' }
onFailure:
  - id: undo
    action: iis-reset
    with: { server: '\${{ params.server }}' }
`;

const clock: Clock = { now: () => Date.now(), sleep: () => Promise.resolve() };

async function run(localSteps: LocalStepRunners | undefined, extra: Partial<ExecuteOptions> = {}) {
  const plan = await planFromText(RUNBOOK, { server: 'EXCH01' });
  const sessions = new FakeSessions((block) => stepDone(block, block.stepId === 'find' ? { thumbprint: NEW } : {}, 'ok'));
  const events: RunEvent[] = [];
  const result = await executePlan({
    plan,
    runId: 'run-1',
    sessions,
    shellEnv: {},
    sink: { emit: (event) => events.push(event) },
    masker: new Masker([]),
    confirm: () => Promise.resolve('yes'),
    interrupt: { stopRequested: false, abortSignal: new AbortController().signal },
    clock,
    runner: { host: 'ADMINPC', pid: 1 },
    ...(localSteps ? { localSteps } : {}),
    ...extra,
  });
  const finished = events.flatMap((event) => (event.type === 'step-finished' ? [event] : []));
  return { plan, sessions, events, result, finished };
}

describe('steps exch-cert runs itself', () => {
  it('are never sent to PowerShell; they get run-time values resolved, and later steps read their outputs from the shell', async () => {
    const seen: Array<Readonly<Record<string, unknown>>> = [];
    const { sessions, result, finished, plan } = await run({
      'probe-tls': (inputs) => {
        seen.push(inputs);
        return Promise.resolve({ status: 'ok', outputs: { served: ['mail.contoso.com:443=' + 'A'.repeat(40)] } });
      },
      'verify-tls': (inputs) => {
        seen.push(inputs);
        return Promise.resolve({ status: 'ok', outputs: { checked: ['mail.contoso.com:443=' + NEW] }, log: 'mail.contoso.com:443/tls  OK' });
      },
    });
    expect(result.exitCode).toBe(ExitCode.ok);
    expect(sessions.steps()).toEqual(['1:find', '1:health']);
    expect(seen[1]).toMatchObject({ thumbprint: NEW, before: ['mail.contoso.com:443=' + 'A'.repeat(40)], servername: 'mail.contoso.com' });
    expect(seen[1]?.['endpoints']).toEqual(['mail.contoso.com|443|tls|primary', 'EXCH01|443|tls|', 'EXCH01|993|tls|']);
    // The outputs go to the shell as data, as a restored run's would.
    const handedOn = sessions.sent.filter((block) => block.script.includes("$global:ExchCert.Outputs['verify']"));
    expect(handedOn).toHaveLength(1);
    expect(finished.map((event) => [event.stepId, event.status, event.log ?? ''])).toEqual([
      ['find', 'ok', ''],
      ['probe', 'ok', ''],
      ['verify', 'ok', 'mail.contoso.com:443/tls  OK'],
      ['health', 'ok', ''],
    ]);
    // What the dry run prints for a local step is comments only: nothing of it runs in PowerShell.
    const verify = plan.steps.find((step) => step.id === 'verify');
    expect(verify?.script.split('\n').every((line) => line.startsWith('#') || line === '')).toBe(true);
  });

  it('retry, and a failure rolls back like any step', async () => {
    let attempts = 0;
    const { result, finished } = await run({
      'probe-tls': () => Promise.resolve({ status: 'ok', outputs: { served: [] } }),
      'verify-tls': () => {
        attempts++;
        return Promise.resolve({ status: 'failed', outputs: {}, error: 'EXCH01:993: serves AAAA instead of BBBB' });
      },
    });
    expect(attempts).toBe(2);
    expect(result.exitCode).toBe(ExitCode.failed);
    const verify = finished.find((event) => event.stepId === 'verify');
    expect(verify).toMatchObject({ status: 'failed', attempts: 2, error: { message: 'EXCH01:993: serves AAAA instead of BBBB' } });
    expect(finished.map((event) => event.stepId)).toEqual(['find', 'probe', 'verify', 'undo']);
  });

  it('time out at the step timeout even when the runner does not stop', async () => {
    const { finished } = await run({
      'probe-tls': () => Promise.resolve({ status: 'ok', outputs: { served: [] } }),
      'verify-tls': () => new Promise(() => undefined),
    });
    expect(finished.find((event) => event.stepId === 'verify')).toMatchObject({ status: 'timed_out', attempts: 2 });
  });

  it('fail, naming the step, where the command has no runner for them', async () => {
    const { finished, result } = await run(undefined);
    expect(result.exitCode).toBe(ExitCode.failed);
    expect(finished.find((event) => event.stepId === 'probe')?.error?.message).toBe('step probe is run by exch-cert itself (probe-tls), and this command cannot run it');
  });

  it('a second Ctrl-C aborts the running check', async () => {
    const controller = new AbortController();
    const { result } = await run(
      {
        'probe-tls': () => {
          setTimeout(() => controller.abort(), 10);
          return new Promise(() => undefined);
        },
      },
      { interrupt: { stopRequested: true, abortSignal: controller.signal } },
    );
    expect(result.outcome).toBe('interrupted');
  });
});

describe('resolveLocalInputs', () => {
  it('reads run-time references and joins text as PowerShell would', () => {
    const outputs = new Map([['find', { thumbprint: NEW, names: ['a', 'b'] }]]);
    expect(
      resolveLocalInputs(
        {
          literal: { kind: 'literal', value: 'x' },
          whole: { kind: 'runtime', type: 'string', parts: [{ kind: 'output', step: 'find', name: 'thumbprint' }] },
          text: { kind: 'runtime', type: 'string', parts: ['C:\\b\\', { kind: 'output', step: 'find', name: 'names' }, '.pfx'] },
          missing: { kind: 'runtime', type: 'string', parts: [{ kind: 'output', step: 'gone', name: 'x' }] },
          list: { kind: 'list', items: [{ kind: 'literal', value: 'one' }, { kind: 'runtime', type: 'list', parts: [{ kind: 'output', step: 'find', name: 'names' }] }] },
        },
        outputs,
      ),
    ).toEqual({ literal: 'x', whole: NEW, text: 'C:\\b\\a b.pfx', missing: undefined, list: ['one', 'a', 'b'] });
  });

  it('never hands a secret to a local step', () => {
    expect(() => resolveLocalInputs({ password: { kind: 'secret', param: 'pfxPassword', env: 'X' } }, new Map())).toThrow('cannot take the secret pfxPassword');
  });
});

