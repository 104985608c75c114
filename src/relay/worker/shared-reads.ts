/**
 * One DescribeSecret per secret for the messages handled together.
 *
 * The rules that keep sharing correct: a message may use a read only if the read was *started
 * after the message was received* — an earlier read may predate the event the message carries.
 * Receipts are numbered (one number per ReceiveMessage reply, increasing); a read remembers the
 * last receipt handed out when it started, and a message with receipt r joins it only if that
 * number is ≥ r. A read that failed is not shared afterwards (each waiting message gets the
 * error once, and the next caller starts a new read).
 */
export class SharedReads<T> {
  private lastReceipt = 0;
  private readonly inFlight = new Map<string, { startedAfter: number; promise: Promise<T> }>();
  /** Reads started, and reads joined instead of started (diagnostics, tests). */
  readonly counts = { started: 0, shared: 0 };

  constructor(private readonly read: (key: string) => Promise<T>) {}

  /** Numbers one ReceiveMessage reply: every message of it carries this receipt. */
  receive(): number {
    this.lastReceipt += 1;
    return this.lastReceipt;
  }

  /**
   * The value of a read of `key` started after receipt `receipt`: one in flight if it qualifies,
   * else a new one. Without a receipt, always a new read (a re-read that must not be shared).
   */
  get(key: string, receipt?: number): Promise<T> {
    const running = this.inFlight.get(key);
    if (receipt !== undefined && running && running.startedAfter >= receipt) {
      this.counts.shared += 1;
      return running.promise;
    }
    this.counts.started += 1;
    const startedAfter = this.lastReceipt;
    const promise = this.read(key);
    const entry = { startedAfter, promise };
    this.inFlight.set(key, entry);
    const forget = (): void => {
      if (this.inFlight.get(key) === entry) this.inFlight.delete(key);
    };
    promise.then(forget, forget);
    return promise;
  }
}
