/**
 * Delay until the next poll: `intervalMs` ± `jitter` · `intervalMs`, uniformly. Without jitter a
 * fleet deployed at once would poll Secrets Manager in step forever (and be throttled together).
 */
export function jitteredInterval(intervalMs: number, jitter: number, random: () => number = Math.random): number {
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.max(1, Math.round(intervalMs * (1 + jitter * (2 * r - 1))));
}

export interface PollSchedulerOptions {
  intervalMs: number;
  jitter: number;
  /** Runs one poll; the next one is scheduled only after it settles, so polls never overlap. */
  poll: () => Promise<void>;
  now: () => number;
  random?: () => number;
}

/**
 * The fallback poll: one timer for all secrets. Timers are `unref()`ed so the cache never keeps a
 * process alive on its own (an app that is shutting down must not wait 30 minutes for us).
 */
export class PollScheduler {
  #timer: NodeJS.Timeout | undefined;
  #dueAt: number | undefined;
  #running = false;

  constructor(private readonly options: PollSchedulerOptions) {}

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedule();
  }

  stop(): void {
    this.#running = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#dueAt = undefined;
  }

  /** Milliseconds until the next poll; undefined while stopped or while a poll is running. */
  nextInMs(): number | undefined {
    return this.#dueAt === undefined ? undefined : Math.max(0, this.#dueAt - this.options.now());
  }

  #schedule(): void {
    if (!this.#running) return;
    const delay = jitteredInterval(this.options.intervalMs, this.options.jitter, this.options.random);
    this.#dueAt = this.options.now() + delay;
    this.#timer = setTimeout(() => void this.#fire(), delay);
    this.#timer.unref();
  }

  async #fire(): Promise<void> {
    this.#timer = undefined;
    this.#dueAt = undefined;
    try {
      await this.options.poll();
    } catch {
      // poll() records its own failures per secret; a rejection here must not stop the schedule.
    }
    this.#schedule();
  }
}
