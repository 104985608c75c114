import { readFileSync } from 'node:fs';
import { Redis, Cluster, type RedisOptions, type ClusterOptions } from 'ioredis';
import type { RedisConfig } from '../config/index.js';
import { describeError, RotationRelayError, type RedisClient } from '../common/index.js';

export interface ConnectOptions {
  /** Shown as the connection name in `CLIENT LIST`, e.g. `rotation-relay:worker`. */
  connectionName: string;
  /**
   * Queue commands while disconnected. The worker turns this off so that a publish during a
   * Redis outage fails at once and the SQS message stays on the queue instead of hanging.
   * @defaultValue true (ioredis' default)
   */
  offlineQueue?: boolean;
  /** Overrides the URL's password (a rotating password from Secrets Manager). */
  password?: string;
  /** Overrides the URL's user name. */
  username?: string;
  /**
   * Rejects every command (queued while disconnected, or sent and never answered) with
   * `Command timed out` after this long: a command cannot wait forever for a connection that
   * never comes back. Also bounds the TCP connect (`connectTimeout`) and, as ioredis'
   * `socketTimeout`, destroys a socket that received nothing for this long after a command was
   * written, so a silent (blackholed) connection is replaced by a reconnect. Turns off ioredis'
   * `autoResubscribe`: subscribe again on every `ready` yourself.
   * @defaultValue none: ioredis' defaults (commands unbounded, 10 s connect timeout)
   */
  commandTimeoutMs?: number;
  /**
   * TCP keep-alive on the socket, starting after this long idle: the OS notices a peer that
   * vanished (host gone, NAT entry dropped) on a connection that sends nothing.
   * @defaultValue ioredis' 0 (keep-alive on, with the OS's idle time, 2 h on Linux)
   */
  keepAliveMs?: number;
  /** Cap of the reconnect backoff (50 ms doubling per attempt). @defaultValue 2 000 ms */
  maxReconnectDelayMs?: number;
}

/** The cap of the reconnect backoff when `maxReconnectDelayMs` is not given. */
export const DEFAULT_MAX_RECONNECT_DELAY_MS = 2_000;

/**
 * A Redis call that did not settle within its bound. `what` names the call (never its
 * arguments); the message says how long it waited.
 */
export class RedisTimeoutError extends RotationRelayError {
  constructor(what: string, timeoutMs: number) {
    super('REDIS_TIMEOUT', `${what} timed out after ${timeoutMs} ms`);
  }
}

/**
 * Settles like `promise`, or rejects with {@link RedisTimeoutError} after `timeoutMs`. The call
 * itself is not cancelled (ioredis has no cancellation): this bounds the caller's wait, and the
 * connection's own `commandTimeoutMs` settles the command.
 */
export async function withRedisDeadline<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisTimeoutError(what, timeoutMs)), timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** A Redis URL safe to log: scheme, host and port, never the credentials. */
export function describeRedisTarget(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.hostname}:${parsed.port || '6379'}`;
  } catch {
    return '(unparseable redis url)';
  }
}

/**
 * ioredis options for `config` (host, port, db, TLS, user, retry policy). Exported for the
 * rotating client, which takes the same options but owns the password.
 */
export function redisOptionsFromConfig(config: RedisConfig, options: ConnectOptions): RedisOptions {
  const url = new URL(config.url);
  const tls = url.protocol === 'rediss:';
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
  const username = options.username ?? (url.username ? decodeURIComponent(url.username) : undefined);
  const password = options.password ?? (url.password ? decodeURIComponent(url.password) : undefined);
  const maxReconnectDelayMs = options.maxReconnectDelayMs ?? DEFAULT_MAX_RECONNECT_DELAY_MS;
  return {
    // URL hostnames keep IPv6 brackets; sockets want the bare address.
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : 6379,
    db: Number.isInteger(db) ? db : 0,
    connectionName: options.connectionName,
    enableOfflineQueue: options.offlineQueue ?? true,
    // Keep retrying forever with a capped backoff: a relay that gives up on Redis is useless,
    // and SQS holds the messages meanwhile.
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 6), maxReconnectDelayMs),
    maxRetriesPerRequest: options.offlineQueue === false ? 0 : 3,
    ...(options.commandTimeoutMs !== undefined
      ? {
          commandTimeout: options.commandTimeoutMs,
          socketTimeout: options.commandTimeoutMs,
          connectTimeout: options.commandTimeoutMs,
          // ioredis resubscribes after a reconnect with a SUBSCRIBE whose promise nobody
          // handles; once commands can time out, that rejection would crash the process (seen
          // in the partition drill). An owner that subscribes does it again on every 'ready'
          // instead, as InvalidationListener does.
          autoResubscribe: false,
        }
      : {}),
    ...(options.keepAliveMs !== undefined ? { keepAlive: options.keepAliveMs } : {}),
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(tls ? { tls: config.tlsCaFile ? { ca: readFileSync(config.tlsCaFile) } : {} } : {}),
  };
}

/**
 * The one place ioredis connections are built from config: standalone or cluster, TLS, ACL user,
 * a password override for secrets that rotate. Nothing here logs the URL as given.
 */
export function connectRedis(config: RedisConfig, options: ConnectOptions): RedisClient {
  const redisOptions = redisOptionsFromConfig(config, options);
  if (!config.cluster) return new Redis(redisOptions);
  const { host, port, ...nodeOptions } = redisOptions;
  const clusterOptions: ClusterOptions = {
    redisOptions: nodeOptions,
    enableOfflineQueue: redisOptions.enableOfflineQueue ?? true,
    clusterRetryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 5), 2_000),
    // ElastiCache/MemoryDB with TLS present certificates for the configuration endpoint's name;
    // resolving node addresses ourselves would break hostname verification.
    ...(redisOptions.tls ? { dnsLookup: (address, callback) => callback(null, address) } : {}),
  };
  return new Cluster([{ host: host ?? '127.0.0.1', port: port ?? 6379 }], clusterOptions);
}

/**
 * A connection did not become ready in time. The message names the target (scheme, host, port;
 * never credentials) and the last reason it gave (ECONNREFUSED, WRONGPASS, a certificate error),
 * as {@link describeError} puts it; the error itself is the `cause`.
 */
export class RedisNotReadyError extends RotationRelayError {
  constructor(target: string, timeoutMs: number, lastError: unknown) {
    const why = lastError === undefined ? 'no answer' : describeError(lastError);
    super('REDIS_NOT_READY', `Redis at ${target} not ready after ${timeoutMs} ms: ${why}`, lastError === undefined ? undefined : { cause: lastError });
  }
}

/** The target of a live client, as {@link describeRedisTarget} would name its URL. */
function clientTarget(client: RedisClient): string {
  // A Cluster does not expose its seed nodes; callers that have the URL pass the target.
  if (client instanceof Cluster) return `the cluster${client.options.redisOptions?.tls !== undefined ? ' (TLS)' : ''}`;
  const { host, port, tls } = client.options;
  const shownHost = host?.includes(':') ? `[${host}]` : (host ?? '127.0.0.1');
  return `${tls ? 'rediss' : 'redis'}://${shownHost}:${port ?? 6379}`;
}

/**
 * Resolves once the connection is ready, or rejects with {@link RedisNotReadyError} after
 * `timeoutMs`, naming `target` (default: the client's host and port) and the last error seen.
 */
export async function waitForReady(client: RedisClient, timeoutMs: number, target?: string): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    let lastError: unknown;
    const onError = (error: unknown) => {
      lastError = error;
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new RedisNotReadyError(target ?? clientTarget(client), timeoutMs, lastError));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('error', onError);
    };
    client.on('ready', onReady);
    client.on('error', onError);
  });
}
