// The refreshes invalidations ask for start here, for every cache of the process at once.
//
// Why: a broadcast reaches every cache of a process on its own Redis connection, and libuv hands
// those sockets to Node over several turns of the event loop. A GetSecretValue started as soon as
// the first cache has its message costs the AWS SDK a millisecond or more of CPU before the request
// leaves, and that CPU runs before the process reads the next sockets: with 125 caches in a process
// the last one had its invalidation ~10× later than plain ioredis subscribers in the same layout
// (bench/results/latest.md, "fan-out"). So starts wait until the process has been quiet for
// `quietMs` (no new start asked for), at most `maxWaitMs` after the first: every co-located cache
// gets its message first, then all the reads start together.

/** What `defer` returns: cancels a start that has not run yet (the cache stopped). */
export interface DeferredStart {
  cancel(): void;
}

/** How long the gate waits at most after the first start it holds, whatever keeps arriving. */
export const START_GATE_MAX_WAIT_MS = 20;

export class StartGate {
  private pending = new Set<() => void>();
  private firstAt = 0;
  private lastAt = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly quietMs: number,
    private readonly maxWaitMs = START_GATE_MAX_WAIT_MS,
    // Date.now, not performance.now: fake timers in tests move it together with the timers.
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Runs `start` once the process is quiet; with `quietMs` 0, on the next turn of the event loop. */
  defer(start: () => void): DeferredStart {
    if (this.quietMs === 0) {
      const immediate = setImmediate(start);
      return { cancel: () => clearImmediate(immediate) };
    }
    const at = this.now();
    if (this.pending.size === 0) this.firstAt = at;
    this.lastAt = at;
    const entry = (): void => start();
    this.pending.add(entry);
    this.timer ??= this.arm(this.quietMs);
    return { cancel: () => void this.pending.delete(entry) };
  }

  private arm(ms: number): NodeJS.Timeout {
    // Unref'd: a pending start must not keep a process alive that is otherwise done.
    return setTimeout(() => this.check(), Math.max(1, ms)).unref();
  }

  private check(): void {
    this.timer = undefined;
    if (this.pending.size === 0) return;
    const at = this.now();
    const quietFor = at - this.lastAt;
    const waited = at - this.firstAt;
    if (quietFor < this.quietMs && waited < this.maxWaitMs) {
      this.timer = this.arm(Math.min(this.quietMs - quietFor, this.maxWaitMs - waited));
      return;
    }
    const starts = [...this.pending];
    this.pending.clear();
    for (const start of starts) start();
  }
}

/** One gate per setting, shared by the caches of the process that use it. */
const gates = new Map<number, StartGate>();

export function startGateFor(quietMs: number): StartGate {
  let gate = gates.get(quietMs);
  if (!gate) {
    gate = new StartGate(quietMs);
    gates.set(quietMs, gate);
  }
  return gate;
}
