/** What a load loop saw: every operation's outcome and latency, failures with their time and code. */
export interface LoadResult {
  operations: number;
  failures: Array<{ at: number; message: string; code?: unknown }>;
  latenciesMs: number[];
  maxLatencyMs: number;
  p99LatencyMs: number;
}

export interface LoadLoop {
  /** Operations finished so far (ok or failed). */
  completed(): number;
  failed(): number;
  /** Ends the loops after their current operation and returns the totals. */
  stop(): Promise<LoadResult>;
}

/**
 * `loops` concurrent loops calling `operation` back to back until `stop()`, optionally pausing
 * `pauseMs` between calls (to model an app's request rate rather than a saturation test).
 * A rejected operation is counted with its code and message, never thrown: the tests assert on
 * the totals. The message is the client's error message, which never carries a credential.
 */
export function startLoadLoop(operation: (loop: number, i: number) => Promise<unknown>, loops = 3, pauseMs = 0): LoadLoop {
  let running = true;
  let operations = 0;
  const failures: LoadResult['failures'] = [];
  const latencies: number[] = [];
  let wake: Array<() => void> = [];

  const pause = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, pauseMs);
      wake.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });

  const loop = async (id: number): Promise<void> => {
    for (let i = 0; running; i += 1) {
      const started = performance.now();
      let failed = false;
      try {
        await operation(id, i);
      } catch (err) {
        failed = true;
        failures.push({ at: Date.now(), message: err instanceof Error ? err.message : String(err), code: (err as { code?: unknown }).code });
      } finally {
        operations += 1;
        latencies.push(performance.now() - started);
      }
      if (pauseMs > 0 && running) await pause();
      // A client that fails every call at once (closed, say) rejects in a microtask: without a
      // turn of the event loop here the loops would never let a timer, or stop(), run.
      else if (failed) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  };

  const done = Promise.all(Array.from({ length: loops }, (_, id) => loop(id)));
  return {
    completed: () => operations,
    failed: () => failures.length,
    async stop() {
      running = false;
      for (const resolve of wake) resolve();
      wake = [];
      await done;
      const sorted = [...latencies].sort((a, b) => a - b);
      return {
        operations,
        failures,
        latenciesMs: latencies,
        maxLatencyMs: sorted.at(-1) ?? 0,
        p99LatencyMs: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0,
      };
    },
  };
}
