import type { Clock } from '../engine/execute.js';

/**
 * Test-only: scales the waits between a step's attempts (0.1 turns a runbook's `retryDelay: 30s`
 * into 3 s), so that the scenario tests of retries and rollbacks do not spend CI's time asleep. The
 * messages still name the runbook's delay. Unset, or not a number from 0 to 1, it changes nothing.
 */
export const RETRY_DELAY_SCALE_VARIABLE = 'EXCH_CERT_TEST_RETRY_DELAY_SCALE';

/** The clock of a real run: the wall clock, and waits that a Ctrl-C ends early. */
export function realClock(env: Readonly<Record<string, string | undefined>>): Clock {
  const raw = Number(env[RETRY_DELAY_SCALE_VARIABLE] ?? '1');
  const scale = Number.isFinite(raw) && raw >= 0 && raw <= 1 ? raw : 1;
  return {
    now: () => Date.now(),
    sleep: (ms, signal) =>
      new Promise((done) => {
        if (signal.aborted || ms <= 0) return done();
        const timer = setTimeout(done, ms * scale);
        signal.addEventListener(
          'abort',
          () => {
            clearTimeout(timer);
            done();
          },
          { once: true },
        );
      }),
  };
}
