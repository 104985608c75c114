import { CacheStoppedError } from './errors.js';

// Its own file so the cache's start/stop rules (idempotent, no start after stop, what "running"
// means) are stated once, apart from what starting and stopping do.

/** The cache's start and stop steps; each runs at most once. */
export interface LifecycleSteps {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Idempotent start and stop, and the flags every part of the cache checks. */
export class Lifecycle {
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  /** Loops, retries and reconciles run while this is true (from start() until stop()). */
  active = false;
  /** The initial load succeeded and the poll runs; set by the start step. */
  started = false;

  constructor(private readonly steps: LifecycleSteps) {}

  /** Runs the start step once; rejects with {@link CacheStoppedError} once stop() was called. */
  start(): Promise<void> {
    if (this.stopping) return Promise.reject(new CacheStoppedError());
    this.starting ??= this.begin();
    return this.starting;
  }

  /** Runs the stop step once. */
  stop(): Promise<void> {
    this.stopping ??= this.end();
    return this.stopping;
  }

  /** stop() was called (it may still be running). */
  get stopRequested(): boolean {
    return this.stopping !== undefined;
  }

  /** What `status().running` reports: started and not stopping. */
  get running(): boolean {
    return this.started && !this.stopping;
  }

  private begin(): Promise<void> {
    this.active = true;
    return this.steps.start();
  }

  private end(): Promise<void> {
    this.active = false;
    return this.steps.stop();
  }
}
