import { EventEmitter } from 'node:events';
import type { RedisConfig } from '../../config/index.js';
import { createInvalidationVerifier, protocolKeys, readPublishedVersions, type Invalidation, type InvalidationVerifier, type VerifyFailureCode, type VerifyFailure } from '../../protocol/index.js';
import { connectRedis, DEFAULT_MAX_RECONNECT_DELAY_MS, withRedisDeadline, isRedisAuthError, applyRedisPassword } from '../../redis/index.js';
import type { RedisClient } from '../../common/index.js';

export interface InvalidationListenerOptions {
  redis: RedisConfig;
  /** Accepted signing keys, current first; empty accepts unsigned messages. @defaultValue `[]` */
  signingKeys?: readonly string[];
  /** Replay guard for signed messages. @defaultValue 300 000 (5 min) */
  maxAgeMs?: number;
  /**
   * How far in the future a message's `publishedAt` may be (the worker's clock ahead of this
   * host's) before it is rejected as `from-the-future`. @defaultValue 30 000 ms
   */
  clockSkewToleranceMs?: number;
  /** The clock messages are judged by (the owner's, so a cache and its listener agree). @defaultValue `Date.now` */
  now?: () => number;
  /** Connection name in `CLIENT LIST`. @defaultValue `rotation-relay:listener` */
  connectionName?: string;
  /**
   * Password for both connections, overriding the URL's (a rotating password from Secrets
   * Manager); change it later with `setPassword`. @defaultValue the URL's password
   */
  password?: string;
  /** Use this connection instead of building one from `redis` (it must not be shared). */
  client?: RedisClient;
  /**
   * Normal (non-subscriber) connection for reading `{P}:versions`; a subscribed connection cannot
   * run HGETALL. @defaultValue one built from `redis` on first use, named `<connectionName>:versions`
   */
  versionsClient?: RedisClient;
  /**
   * Bound of every command on both connections it builds (ioredis `commandTimeout`, also its
   * `socketTimeout` and `connectTimeout`), and of `readVersions` as a whole: nothing waits forever
   * for a connection that does not come back, and a connection that stays silent (a blackholed
   * network) is torn down and reconnected. @defaultValue 5 000 ms
   */
  commandTimeoutMs?: number;
  /**
   * How often the subscribed connection is checked with a PING. A subscriber connection is
   * otherwise idle: without this a silent partition would go unnoticed, and with it the loss
   * is noticed within this interval plus `commandTimeoutMs`, then it reconnects and resubscribes.
   * @defaultValue 10 000 ms
   */
  healthCheckIntervalMs?: number;
  /** Cap of the reconnect backoff of both connections. @defaultValue 2 000 ms */
  reconnectMaxDelayMs?: number;
}

/** Defaults of the bounds documented on {@link InvalidationListenerOptions}. */
export const LISTENER_TIMING_DEFAULTS = {
  commandTimeoutMs: 5_000,
  healthCheckIntervalMs: 10_000,
  reconnectMaxDelayMs: DEFAULT_MAX_RECONNECT_DELAY_MS,
} as const;

/** TCP keep-alive idle time of both connections: the OS notices a vanished peer on an idle socket. */
const KEEPALIVE_MS = 10_000;

/** Floor of a heartbeat-derived command bound: a busy host still answers well within it. */
const MIN_COMMAND_TIMEOUT_MS = 1_000;

export type ListenerTimings = Required<Pick<InvalidationListenerOptions, 'commandTimeoutMs' | 'healthCheckIntervalMs' | 'reconnectMaxDelayMs'>>;

/**
 * The listener's bounds for a cache with presence heartbeat `heartbeatIntervalMs`: every command
 * gives up within one heartbeat (at least 1 s, at most the 5 s default), the subscriber
 * connection is checked once per heartbeat, and a connection is retried at least once per
 * heartbeat — so once the network is back both connections are too within one heartbeat, and
 * presence with them. Without presence, the defaults.
 */
export function listenerTimingsFor(heartbeatIntervalMs: number | undefined): ListenerTimings {
  if (heartbeatIntervalMs === undefined) return { ...LISTENER_TIMING_DEFAULTS };
  const d = LISTENER_TIMING_DEFAULTS;
  return {
    commandTimeoutMs: Math.min(d.commandTimeoutMs, Math.max(MIN_COMMAND_TIMEOUT_MS, heartbeatIntervalMs)),
    healthCheckIntervalMs: heartbeatIntervalMs,
    reconnectMaxDelayMs: Math.min(d.reconnectMaxDelayMs, heartbeatIntervalMs),
  };
}

export interface InvalidationListenerEvents {
  /** A message that parsed and passed signature and age checks. */
  invalidation: [Invalidation];
  /** A message that did not; the reason never contains the raw message. */
  rejected: [ListenerRejection];
  /**
   * Subscribed (again): from now on nothing is missed, and anything published before may have
   * been. Fires after the first SUBSCRIBE and after every reconnect; owners reconcile here.
   */
  subscribed: [];
  /** The subscribed connection was lost (fires once per loss, not once per failed reconnect). */
  disconnected: [];
  /**
   * Redis refused the credentials (WRONGPASS / NOAUTH), typically at a reconnect after the
   * password rotated. ioredis keeps retrying; call `setPassword` and the next attempt uses it.
   */
  'auth-failed': [Error];
  error: [Error];
}

/** One rejected message, as the `rejected` event reports it. */
export interface ListenerRejection {
  code: VerifyFailureCode;
  /** One sentence naming the problem; never the raw message. */
  reason: string;
  /**
   * Only for a `too-old` or `from-the-future` message whose signature a configured key verified,
   * i.e. whose fields the worker wrote: what clock-skew detection may trust.
   */
  signed?: {
    /** The message's `id` (the worker never sends one twice: a repeat is a replay). */
    id: string;
    /** `publishedAt` minus this host's clock, in ms. Positive: the worker's clock is ahead. */
    offsetMs: number;
  };
}

/** What `readVersions` returns: verified entries by ARN, and how many were skipped. */
export interface PublishedVersions {
  entries: Map<string, Invalidation>;
  rejected: number;
}

/**
 * A dedicated pub/sub connection on `{P}:invalidations` that only lets verified invalidations
 * through, plus a second, normal connection to read `{P}:versions` for reconciling.
 *
 * It subscribes on every `ready` (first connect and each reconnect) and emits `subscribed` once
 * Redis confirmed the SUBSCRIBE, so an owner that reconciles on `subscribed` cannot lose a message
 * between its read of the versions hash and the subscription. Subscribing on `ready` rather than
 * once at start also covers a Redis that is down when `start()` is called: nothing is given up,
 * it subscribes whenever Redis comes (back).
 */
export class InvalidationListener extends EventEmitter<InvalidationListenerEvents> {
  private readonly client: RedisClient;
  private versionsClient: RedisClient | undefined;
  private readonly ownsVersionsClient: boolean;
  private readonly options: InvalidationListenerOptions;
  private readonly channel: string;
  private readonly verifier: InvalidationVerifier;
  private readonly entryVerifier: InvalidationVerifier;
  private password: string | undefined;
  private started = false;
  private stopped = false;
  private isSubscribed = false;
  private healthCheck: NodeJS.Timeout | undefined;
  private readonly timings: ListenerTimings;
  private firstSubscription: { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } | undefined;

  constructor(options: InvalidationListenerOptions) {
    super();
    this.options = options;
    this.password = options.password;
    const d = LISTENER_TIMING_DEFAULTS;
    this.timings = {
      commandTimeoutMs: options.commandTimeoutMs ?? d.commandTimeoutMs,
      healthCheckIntervalMs: options.healthCheckIntervalMs ?? d.healthCheckIntervalMs,
      reconnectMaxDelayMs: options.reconnectMaxDelayMs ?? d.reconnectMaxDelayMs,
    };
    this.channel = protocolKeys(options.redis.keyPrefix).channel;
    // Built up front so bad keys fail at construction, not on the first message.
    this.verifier = createInvalidationVerifier({
      keys: options.signingKeys ?? [],
      ...(options.maxAgeMs !== undefined ? { maxAgeMs: options.maxAgeMs } : {}),
      ...(options.clockSkewToleranceMs !== undefined ? { clockSkewToleranceMs: options.clockSkewToleranceMs } : {}),
      ...(options.now !== undefined ? { now: options.now } : {}),
    });
    // Entries of {P}:versions are old by design (protocol.md): check their signature, not their age.
    // The future bound and the clock stay those of live messages, so a tolerance raised for a
    // skewed host lets its reconcile read the entries too.
    this.entryVerifier = createInvalidationVerifier({
      keys: options.signingKeys ?? [],
      maxAgeMs: Infinity,
      ...(options.clockSkewToleranceMs !== undefined ? { clockSkewToleranceMs: options.clockSkewToleranceMs } : {}),
      ...(options.now !== undefined ? { now: options.now } : {}),
    });
    this.client = options.client ?? this.connect(this.connectionName);
    this.versionsClient = options.versionsClient;
    this.ownsVersionsClient = options.versionsClient === undefined;
  }

  /** True while subscribed on a live connection. */
  get connected(): boolean {
    return this.isSubscribed && isReady(this.client);
  }

  /**
   * Attaches the handlers and subscribes; resolves once the first SUBSCRIBE is confirmed. While
   * Redis is unreachable it keeps waiting (connection errors are emitted as `error`); `stop()`
   * rejects it.
   */
  async start(): Promise<void> {
    if (this.stopped) throw new Error('InvalidationListener was stopped');
    if (this.started) return this.firstSubscription?.promise;
    this.started = true;
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.firstSubscription = { promise, resolve, reject };

    this.client.on('message', (channel: string, raw: string) => {
      if (channel !== this.channel) return;
      const result = this.verifier.verify(raw);
      if (result.ok) this.emit('invalidation', result.invalidation);
      else this.emit('rejected', rejectionOf(result));
    });
    this.client.on('ready', () => this.subscribe());
    this.client.on('close', () => this.markDisconnected());
    this.client.on('end', () => this.markDisconnected());
    // Without a listener an 'error' emit would throw; connection errors are retried by ioredis.
    this.client.on('error', (error: Error) => this.reportError(error));
    if (isReady(this.client)) this.subscribe();
    this.healthCheck = setInterval(() => this.checkHealth(), this.timings.healthCheckIntervalMs);
    this.healthCheck.unref();
    return promise;
  }

  /**
   * The verified entries of `{P}:versions`, by secret ARN. Entries that do not parse or whose
   * signature does not verify (when keys are configured) are left out and counted.
   */
  async readVersions(): Promise<PublishedVersions> {
    const client = this.getVersionsClient();
    let corrupt = 0;
    // The connection's commandTimeout settles HGETALL; this also bounds a Cluster still
    // discovering its slots (its own offline queue has no timeout) or an injected client.
    const read = readPublishedVersions(client, this.options.redis.keyPrefix, { onCorruptEntry: () => (corrupt += 1) });
    const parsed = await withRedisDeadline(read, this.timings.commandTimeoutMs, 'reading the versions hash');
    const entries = new Map<string, Invalidation>();
    for (const [arn, entry] of parsed) {
      const verified = this.entryVerifier.verifyObject(entry);
      if (verified.ok) entries.set(arn, verified.invalidation);
      else corrupt += 1;
    }
    return { entries, rejected: corrupt };
  }

  /**
   * The normal connection `readVersions` uses, for other small writes of the owner (fleet
   * presence), so an instance keeps two connections. Built once and kept for the listener's
   * life (it reconnects by itself), so a caller may wait for its `ready`. Undefined once stopped.
   */
  commandClient(): RedisClient | undefined {
    return this.stopped ? undefined : this.getVersionsClient();
  }

  /**
   * The password the *next* (re)connect of both connections uses. The live connections are left
   * alone: an established connection stays authenticated when the password changes.
   */
  setPassword(password: string): void {
    this.password = password;
    applyRedisPassword(this.client, password);
    if (this.versionsClient) applyRedisPassword(this.versionsClient, password);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.healthCheck) clearInterval(this.healthCheck);
    this.healthCheck = undefined;
    this.firstSubscription?.reject(new Error('InvalidationListener stopped before it subscribed'));
    // A caller that never awaited start() must not see an unhandled rejection.
    this.firstSubscription?.promise.catch(() => undefined);
    const clients = [this.client, ...(this.versionsClient && this.ownsVersionsClient ? [this.versionsClient] : [])];
    await Promise.all(clients.map((client) => quit(client)));
    this.isSubscribed = false;
  }

  private get connectionName(): string {
    return this.options.connectionName ?? 'rotation-relay:listener';
  }

  private connect(connectionName: string): RedisClient {
    return connectRedis(this.options.redis, {
      connectionName,
      offlineQueue: true,
      commandTimeoutMs: this.timings.commandTimeoutMs,
      keepAliveMs: KEEPALIVE_MS,
      maxReconnectDelayMs: this.timings.reconnectMaxDelayMs,
      ...(this.password !== undefined ? { password: this.password } : {}),
    });
  }

  /**
   * One versions connection for the listener's life. It is never replaced: `disconnect()` on an
   * ioredis client in its reconnect backoff cancels the reconnect without settling the commands
   * it queued, and a presence write or HGETALL among them would then never settle. Its reconnect
   * backoff is capped (`reconnectMaxDelayMs`) instead, and every command on it is bounded.
   */
  private getVersionsClient(): RedisClient {
    if (this.versionsClient) return this.versionsClient;
    const client = this.connect(`${this.connectionName}:versions`);
    // Errors surface through the rejected HGETALL and presence writes; ioredis reconnects by itself.
    client.on('error', () => undefined);
    this.versionsClient = client;
    return client;
  }

  /**
   * PING the subscribed connection: a partition that drops packets without a reset leaves it
   * "ready" forever otherwise. No answer within `commandTimeoutMs` (ioredis' socketTimeout
   * destroys the socket at that point; the disconnect below covers a reply that was an error)
   * means it is dead: reconnect, which resubscribes and reconciles.
   */
  private checkHealth(): void {
    if (this.stopped || !isReady(this.client)) return;
    const client = this.client;
    client.ping().catch((error: Error) => {
      if (this.stopped) return;
      // A refused PING (an ACL without +ping) says nothing about the connection: report it only.
      if (!isTimeout(error)) return this.reportError(error);
      if (isReady(client)) client.disconnect(true);
    });
  }

  private subscribe(): void {
    if (this.stopped) return;
    // SUBSCRIBE on every ready: idempotent, and ioredis' own auto-resubscribe only covers
    // channels that were subscribed before the connection dropped. Waiting for the reply before
    // `subscribed` is what makes reconcile-after-subscribed lossless.
    this.client.subscribe(this.channel).then(
      () => {
        if (this.stopped) return;
        this.isSubscribed = true;
        this.firstSubscription?.resolve();
        this.emit('subscribed');
      },
      (error: Error) => {
        this.reportError(error);
        // An unanswered SUBSCRIBE on a "ready" connection means a dead one: reconnecting is the
        // only way to subscribe again (the next `ready` does). A refusal (NOPERM) is not retried here.
        if (!this.stopped && isTimeout(error) && isReady(this.client)) this.client.disconnect(true);
      },
    );
  }

  private markDisconnected(): void {
    if (!this.isSubscribed) return;
    this.isSubscribed = false;
    if (!this.stopped) this.emit('disconnected');
  }

  private reportError(error: Error): void {
    if (this.stopped) return;
    if (isRedisAuthError(error)) this.emit('auth-failed', error);
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}

/** The `rejected` event of a verifier failure (exported for tests that feed a fake clock). */
export function rejectionOf(failure: VerifyFailure): ListenerRejection {
  const { code, reason } = failure;
  // Copied field by field: the event must never carry more of the message than these.
  if ('offsetMs' in failure && failure.signatureVerified) {
    return { code, reason, signed: { id: failure.invalidation.id, offsetMs: failure.offsetMs } };
  }
  return { code, reason };
}

function isReady(client: RedisClient): boolean {
  return client.status === 'ready';
}

function isTimeout(error: Error): boolean {
  return error.message === 'Command timed out';
}

/**
 * QUIT, bounded: with commands in the offline queue (Redis down) ioredis queues QUIT behind them
 * and it could wait for a reconnect that never comes. Then disconnect() in any case, which also
 * stops a Cluster from reconnecting node connections that were down.
 */
async function quit(client: RedisClient, timeoutMs = 1_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
    timer.unref();
  });
  await Promise.race([client.quit().then(
    () => undefined,
    () => undefined,
  ), bound]);
  clearTimeout(timer);
  client.disconnect();
}
