import { waitUntil } from './wait-until.js';

/** Failures after which a capped load stops by itself: a broken client must fail the test, not spin. */
const FAILURE_CAP = 20;

export interface CappedLoad {
  /** Every rejection, as thrown (the tests assert on their classes and codes). */
  readonly failures: unknown[];
  /** Operations that succeeded so far. */
  readonly completed: number;
  /** Waits until `n` more operations have finished, whatever their outcome. */
  more(n: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `loops` loops calling `operation` back to back, with no pause, until `stop()` or
 * {@link FAILURE_CAP} failures: the saturation load of the pool tests, where `more(n)` paces a
 * test by operations done rather than by time. (test/support/load-loop.ts is the paced,
 * latency-recording variant.)
 */
export function startCappedLoad(operation: () => Promise<unknown>, loops: number): CappedLoad {
  const failures: unknown[] = [];
  let completed = 0;
  let running = true;
  const loop = async (): Promise<void> => {
    while (running) {
      try {
        await operation();
        completed += 1;
      } catch (err) {
        failures.push(err);
        if (failures.length >= FAILURE_CAP) running = false;
      }
    }
  };
  const done = Promise.all(Array.from({ length: loops }, loop));
  return {
    failures,
    get completed() {
      return completed;
    },
    async more(n: number): Promise<void> {
      const target = completed + failures.length + n;
      await waitUntil(() => completed + failures.length >= target, { timeoutMs: 20_000, message: `${n} more operations under load` });
    },
    async stop(): Promise<void> {
      running = false;
      await done;
    },
  };
}
