import type { EventSink, InterruptCause } from '../engine/events.js';
import type { Interrupt } from '../engine/execute.js';

/** The signals that ask a run to stop: Ctrl-C, a service manager or `kill`, a terminal that closed. */
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Ctrl-C and the stop signals during a run, all alike: the first lets the running step finish and
 * then stops; the second kills the step. Every stage is recorded as an event naming its cause.
 */
export class Interrupts implements Interrupt {
  private presses = 0;
  private first: InterruptCause | undefined;
  private readonly controller = new AbortController();
  private readonly stopping = new AbortController();
  private readonly handlers = new Map<NodeJS.Signals, () => void>(SIGNALS.map((signal) => [signal, () => this.press(signal === 'SIGINT' ? 'Ctrl-C' : signal)]));

  constructor(
    private readonly sink: EventSink,
    private readonly target: Pick<NodeJS.Process, 'on' | 'off'> = process,
  ) {}

  get stopRequested(): boolean {
    return this.presses > 0;
  }

  get abortSignal(): AbortSignal {
    return this.controller.signal;
  }

  /** Fires on the first request to stop: a confirmation prompt gives up at once. */
  get stopSignal(): AbortSignal {
    return this.stopping.signal;
  }

  /** What asked to stop first (Ctrl-C, SIGTERM, SIGHUP), if anything did. */
  get cause(): InterruptCause | undefined {
    return this.first;
  }

  install(): void {
    for (const [signal, handler] of this.handlers) this.target.on(signal, handler);
  }

  uninstall(): void {
    for (const [signal, handler] of this.handlers) this.target.off(signal, handler);
  }

  /** One Ctrl-C (from the keyboard or SIGINT) or stop signal. */
  press(cause: InterruptCause = 'Ctrl-C'): void {
    this.presses++;
    if (this.presses === 1) {
      this.first = cause;
      this.sink.emit({ type: 'interrupt', stage: 'stop-after-step', cause });
      this.stopping.abort();
    } else if (this.presses === 2) {
      this.sink.emit({ type: 'interrupt', stage: 'abort-step', cause });
      this.controller.abort();
    }
  }
}
