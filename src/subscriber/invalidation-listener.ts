import { EventEmitter } from 'node:events';
import type { RedisConfig } from '../config/index.js';
import { createInvalidationVerifier, protocolKeys, type Invalidation, type VerifyFailureCode } from '../protocol/index.js';
import { connectRedis, type RedisClient } from '../redis/connect.js';

export interface InvalidationListenerOptions {
  redis: RedisConfig;
  /** Accepted signing keys, current first; empty accepts unsigned messages. @defaultValue `[]` */
  signingKeys?: readonly string[];
  /** Replay guard for signed messages. @defaultValue 300 000 (5 min) */
  maxAgeMs?: number;
  /** Connection name in `CLIENT LIST`. @defaultValue `rotation-relay:listener` */
  connectionName?: string;
  /** Use this connection instead of building one from `redis` (it must not be shared). */
  client?: RedisClient;
}

export interface InvalidationListenerEvents {
  /** A message that parsed and passed signature and age checks. */
  invalidation: [Invalidation];
  /** A message that did not; the reason never contains the raw message. */
  rejected: [{ code: VerifyFailureCode; reason: string }];
  /** Subscribed (again): a moment at which anything published meanwhile may have been missed. */
  subscribed: [];
  disconnected: [];
  error: [Error];
}

/**
 * A dedicated pub/sub connection on `{P}:invalidations` that only lets verified invalidations
 * through. ioredis re-subscribes by itself after a reconnect; `subscribed` fires each time so the
 * owner can reconcile what it may have missed while disconnected.
 */
export class InvalidationListener extends EventEmitter<InvalidationListenerEvents> {
  private readonly client: RedisClient;
  private readonly channel: string;
  private readonly verifier;
  private started = false;
  private subscribedOnce = false;

  constructor(options: InvalidationListenerOptions) {
    super();
    this.channel = protocolKeys(options.redis.keyPrefix).channel;
    // Built up front so bad keys fail at construction, not on the first message.
    this.verifier = createInvalidationVerifier({
      keys: options.signingKeys ?? [],
      ...(options.maxAgeMs !== undefined ? { maxAgeMs: options.maxAgeMs } : {}),
    });
    this.client =
      options.client ??
      connectRedis(options.redis, { connectionName: options.connectionName ?? 'rotation-relay:listener', offlineQueue: true });
  }

  get connected(): boolean {
    return this.client.status === 'ready';
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.client.on('message', (channel: string, raw: string) => {
      if (channel !== this.channel) return;
      const result = this.verifier.verify(raw);
      if (result.ok) this.emit('invalidation', result.invalidation);
      else this.emit('rejected', { code: result.code, reason: result.reason });
    });
    this.client.on('ready', () => {
      if (!this.subscribedOnce) return;
      // After a reconnect: SUBSCRIBE again and wait for the reply (idempotent; ioredis may have
      // replayed it already) so that the owner's reconcile starts only once no message can slip
      // between its read of the versions hash and the subscription.
      this.client.subscribe(this.channel).then(
        () => this.emit('subscribed'),
        (error: Error) => this.reportError(error),
      );
    });
    this.client.on('close', () => this.emit('disconnected'));
    // Without a listener, an 'error' emit would throw; connection errors are retried by ioredis.
    this.client.on('error', (error: Error) => this.reportError(error));
    await this.client.subscribe(this.channel);
    this.subscribedOnce = true;
    this.emit('subscribed');
  }

  private reportError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.client.quit().catch(() => this.client.disconnect());
  }
}
