import type { EventSink, RunEvent } from '../../engine/events.js';
import type { CliIo } from '../terminal.js';

/**
 * `--json`: one JSON object per line on stdout, the same events the journal
 * keeps; the last one (`run-finished`) carries the outcome and exit code.
 */
export class JsonReporter implements EventSink {
  constructor(
    private readonly io: CliIo,
    private readonly runId: string,
  ) {}

  emit(event: RunEvent): void {
    this.io.stdout.write(JSON.stringify({ v: 1, ts: new Date().toISOString(), runId: this.runId, ...event }) + '\n');
  }
}

/** Sends every event to several sinks (journal first, so it is on disk before anyone sees it). */
export class FanOut implements EventSink {
  private readonly sinks: readonly EventSink[];

  constructor(...sinks: EventSink[]) {
    this.sinks = sinks;
  }

  emit(event: RunEvent): void {
    for (const sink of this.sinks) sink.emit(event);
  }
}
