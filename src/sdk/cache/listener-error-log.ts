import type { Logger } from '../../common/index.js';

// Its own file: log dedupe is a concern of its own, and the listener link only decides when a
// streak of errors ends (a successful subscription).

/**
 * The invalidation listener's connection errors, one warn per distinct error. ioredis reports
 * every failed reconnect, so the same error repeats every couple of seconds while Redis is away.
 */
export class ListenerErrorLog {
  private last: string | undefined;

  constructor(private readonly logger: Logger) {}

  report(error: Error): void {
    // ioredis reports every failed reconnect; one warn per distinct error is enough.
    const message = error.message;
    const level = message === this.last ? 'debug' : 'warn';
    this.last = message;
    this.logger[level]({ code: 'REDIS_ERROR', error: error.name }, `invalidation listener: ${message}`);
  }

  /** Subscribed again: the next error, even a repeat of the last one, is news. */
  reset(): void {
    this.last = undefined;
  }
}
