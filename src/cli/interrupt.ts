import type { EventSink } from '../engine/events.js';
import type { Interrupt } from '../engine/execute.js';

/**
 * Ctrl-C during a run: the first press lets the running step finish and then
 * stops; the second kills the step. SIGTERM aborts at once. Every stage is
 * recorded as an event.
 */
export class CtrlC implements Interrupt {
  private presses = 0;
  private readonly controller = new AbortController();
  private readonly onInterrupt = (): void => this.press();
  private readonly onTerminate = (): void => {
    // A service manager or `kill` wants the process gone: abort at once.
    while (this.presses < 2) this.press();
  };

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

  install(): void {
    this.target.on('SIGINT', this.onInterrupt);
    this.target.on('SIGTERM', this.onTerminate);
  }

  uninstall(): void {
    this.target.off('SIGINT', this.onInterrupt);
    this.target.off('SIGTERM', this.onTerminate);
  }

  /** One Ctrl-C. */
  press(): void {
    this.presses++;
    if (this.presses === 1) {
      this.sink.emit({ type: 'interrupt', stage: 'stop-after-step' });
    } else if (this.presses === 2) {
      this.sink.emit({ type: 'interrupt', stage: 'abort-step' });
      this.controller.abort();
    }
  }
}
