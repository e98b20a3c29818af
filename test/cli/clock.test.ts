import { describe, expect, it } from 'vitest';
import { realClock } from '../../src/cli/clock.js';

const never = new AbortController().signal;

/** How long a sleep of `ms` takes on the clock made from `env`. */
async function slept(env: Record<string, string>, ms: number): Promise<number> {
  const started = process.hrtime.bigint();
  await realClock(env).sleep(ms, never);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

describe('realClock', () => {
  it('waits the whole delay unless the test-only scale says otherwise, and a nonsense scale changes nothing', async () => {
    expect(await slept({}, 200)).toBeGreaterThanOrEqual(195);
    expect(await slept({ EXCH_CERT_TEST_RETRY_DELAY_SCALE: 'fast' }, 200)).toBeGreaterThanOrEqual(195);
    expect(await slept({ EXCH_CERT_TEST_RETRY_DELAY_SCALE: '7' }, 200)).toBeGreaterThanOrEqual(195);
    expect(await slept({ EXCH_CERT_TEST_RETRY_DELAY_SCALE: '0.1' }, 2_000)).toBeLessThan(1_000);
  });

  it('ends a wait at once when the run is stopped', async () => {
    const stop = new AbortController();
    const clock = realClock({});
    const waiting = clock.sleep(60_000, stop.signal);
    stop.abort();
    await expect(waiting).resolves.toBeUndefined();
  });
});
