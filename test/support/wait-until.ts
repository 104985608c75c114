/** Options for {@link waitUntil}. */
export interface WaitUntilOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Pause between two evaluations of the predicate (default 20 ms). */
  intervalMs?: number;
  /** What we were waiting for; the timeout error names it so a failure explains itself. */
  message: string;
  /** Stop polling early (e.g. the child process we wait for has died); rejects with the reason. */
  signal?: AbortSignal;
}

/**
 * Polls `predicate` until it returns (or resolves to) `true`.
 *
 * Why: tests must never use fixed sleeps as synchronisation (flaky on slow CI, slow on fast
 * machines). They wait for an observable condition instead, with a generous deadline.
 *
 * A predicate that throws counts as "not yet" (so probes like "connect and ping" can simply fail
 * until the server is up, and `expect(...)` can be used inside); the last error is attached as
 * `cause` and quoted in the timeout message. Each evaluation is bounded by the overall deadline,
 * so a hanging predicate cannot make the wait outlive `timeoutMs` (or an abort).
 */
export async function waitUntil(
  predicate: () => boolean | Promise<boolean>,
  { timeoutMs = 10_000, intervalMs = 20, message, signal }: WaitUntilOptions,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    signal?.throwIfAborted();
    const remaining = deadline - Date.now();
    try {
      if (await bounded(Promise.resolve().then(predicate), remaining, signal)) return;
      lastError = undefined;
    } catch (err) {
      if (err === DEADLINE) break;
      signal?.throwIfAborted();
      lastError = err;
    }
    signal?.throwIfAborted();
    if (Date.now() + intervalMs > deadline) break;
    await pause(intervalMs, signal);
  }
  const detail = lastError === undefined ? '' : ` (last error: ${describe(lastError)})`;
  throw new Error(`waitUntil timed out after ${timeoutMs} ms waiting for: ${message}${detail}`, {
    cause: lastError,
  });
}

const DEADLINE = Symbol('deadline');

/** Settles like `promise`, but rejects with DEADLINE after `ms`, or with the abort reason. */
function bounded<T>(promise: Promise<T>, ms: number, signal: AbortSignal | undefined): Promise<T> {
  if (ms <= 0) return Promise.reject(DEADLINE);
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const cut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(DEADLINE), ms);
    onAbort = () => reject(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([promise, cut]).finally(() => {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  });
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
