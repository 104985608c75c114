import { readFileSync } from 'node:fs';
import { Redis, Cluster, type RedisOptions, type ClusterOptions } from 'ioredis';
import type { RedisConfig } from '../config/index.js';

export type RedisClient = Redis | Cluster;

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
  return {
    // URL hostnames keep IPv6 brackets; sockets want the bare address.
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : 6379,
    db: Number.isInteger(db) ? db : 0,
    connectionName: options.connectionName,
    enableOfflineQueue: options.offlineQueue ?? true,
    // Keep retrying forever with a capped backoff: a relay that gives up on Redis is useless,
    // and SQS holds the messages meanwhile.
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 6), 2_000),
    maxRetriesPerRequest: options.offlineQueue === false ? 0 : 3,
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

/** Resolves once the connection is ready, or rejects with the first error after `timeoutMs`. */
export async function waitForReady(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    let lastError: unknown;
    const onError = (error: unknown) => {
      lastError = error;
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not ready after ${timeoutMs} ms`, { cause: lastError }));
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
