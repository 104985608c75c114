/**
 * At most one run of an async operation at a time; callers that arrive while it runs get the same
 * promise. This is what makes "N concurrent triggers for one secret cost one GetSecretValue".
 *
 * The slot is cleared *before* joined callers resume (the `finally` is chained into the promise
 * they await), so a caller that finds the shared result insufficient can start a new run at once
 * instead of finding the finished one still in the slot.
 */
export class SingleFlight<T> {
  #current: { promise: Promise<T>; startedAt: number } | undefined;

  /** The run in progress, if any. */
  get inFlight(): { promise: Promise<T>; startedAt: number } | undefined {
    return this.#current;
  }

  /** Joins the run in progress, or starts `operation` when none is. */
  run(operation: () => Promise<T>, startedAt = Date.now()): Promise<T> {
    if (this.#current) return this.#current.promise;
    const entry: { promise: Promise<T>; startedAt: number } = { promise: Promise.resolve() as Promise<never>, startedAt };
    entry.promise = Promise.resolve()
      .then(operation)
      .finally(() => {
        if (this.#current === entry) this.#current = undefined;
      });
    this.#current = entry;
    return entry.promise;
  }
}
