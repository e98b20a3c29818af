import type { Envelope, InvokeOptions, InvokeOutcome, PowerShellSession, SessionFactory, StartOptions } from '../../src/powershell/session.js';

/** What the fake shell does with one block: by default a step reports 'changed' with no outputs. */
export type FakeBehaviour = (block: FakeBlock, options: InvokeOptions | undefined) => InvokeOutcome | Promise<InvokeOutcome>;

export interface FakeBlock {
  readonly script: string;
  /** The step id when the block is a step (from Invoke-ExchCertStep -Id '...'). */
  readonly stepId: string | undefined;
  readonly session: number;
}

/** An in-memory PowerShell: records every block sent, answers from a behaviour function. */
export class FakeSessions implements SessionFactory {
  readonly sent: FakeBlock[] = [];
  readonly starts: StartOptions[] = [];
  failStart: Error | undefined;

  constructor(private readonly behaviour: FakeBehaviour = () => completed(null)) {}

  start(options: StartOptions): Promise<PowerShellSession> {
    if (this.failStart) return Promise.reject(this.failStart);
    this.starts.push(options);
    const number = this.starts.length;
    let dead = false;
    const sent = this.sent;
    const behaviour = this.behaviour;
    return Promise.resolve({
      info: { executable: 'fake-pwsh', edition: 'Core', version: '7.6.9', pid: 40000 + number },
      get dead() {
        return dead;
      },
      async invoke(script: string, options?: InvokeOptions): Promise<InvokeOutcome> {
        if (dead) return { kind: 'crashed', log: '', durationMs: 0, reason: 'dead' };
        const stepId = /Invoke-ExchCertStep -Id '([^']+)'/.exec(script)?.[1];
        const block = { script, stepId, session: number };
        sent.push(block);
        const outcome = await behaviour(block, options);
        if (outcome.kind !== 'completed') dead = true;
        return outcome;
      },
      dispose() {
        dead = true;
        return Promise.resolve();
      },
    });
  }

  /** The blocks sent that were steps, as "session:stepId". */
  steps(): string[] {
    return this.sent.filter((block) => block.stepId !== undefined).map((block) => `${block.session}:${block.stepId ?? ''}`);
  }
}

export function completed(step: { id: string; status: 'ok' | 'changed' | 'skipped'; outputs?: Record<string, unknown> } | null, log = ''): InvokeOutcome {
  const envelope: Envelope = { ok: true, step: step && { id: step.id, status: step.status, outputs: step.outputs ?? {} } };
  return { kind: 'completed', envelope, log, durationMs: 1 };
}

export function thrown(message: string, log = ''): InvokeOutcome {
  return { kind: 'completed', envelope: { ok: false, error: { message, category: 'InvalidOperation', fullyQualifiedErrorId: 'X', line: 3 } }, log, durationMs: 1 };
}

/** The default answer for a step block: the step reports 'changed' with the given outputs. */
export function stepDone(block: FakeBlock, outputs: Record<string, unknown> = {}, status: 'ok' | 'changed' | 'skipped' = 'changed'): InvokeOutcome {
  return completed(block.stepId ? { id: block.stepId, status, outputs } : null);
}
