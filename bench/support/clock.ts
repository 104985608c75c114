/**
 * One clock for every process of a benchmark run: milliseconds since the epoch with sub-millisecond
 * resolution. `performance.timeOrigin` is each process's start in epoch ms, read from the same
 * system clock, so stamps taken in different processes on this machine can be subtracted.
 */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
