/**
 * Why this exists: a fast publish must not overtake an older message about the same secret. An
 * event from an earlier receive still being handled may carry an older rotation, and publishing
 * ahead of it would make its later, confirmed publish look like news. So the handler keeps, per
 * secret, the receipts of the invalidating messages in flight, and publishes at once only when it
 * is first in line.
 */
export class ReceiptLine {
  /** Receipts of the invalidating messages in flight, per secret name. */
  private readonly inFlight = new Map<string, number[]>();

  /** Puts `receipt` in line for `key`; call what it returns when the message is done. */
  enter(key: string, receipt: number): () => void {
    const list = this.inFlight.get(key) ?? [];
    list.push(receipt);
    this.inFlight.set(key, list);
    return () => {
      list.splice(list.indexOf(receipt), 1);
      if (list.length === 0) this.inFlight.delete(key);
    };
  }

  /** No message from an earlier receive is still being handled for this secret. */
  firstInLine(key: string, receipt: number): boolean {
    return (this.inFlight.get(key) ?? []).every((other) => other >= receipt);
  }
}
