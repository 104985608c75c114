import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Logger, RedisClient } from '../../common/index.js';
import { NoopMetrics, type Metrics } from '../../metrics/index.js';
import { encodePresence, protocolKeys, type InstanceMetadata, type PresenceAck, type ProtocolKeys } from '../../protocol/index.js';
import { withRedisDeadline } from '../../redis/index.js';
import { listenerTimingsFor } from './invalidation-listener.js';
import { PresenceFailureReport, PresenceNotConnectedError } from './presence-failures.js';
import type { PresenceStatus } from './types.js';


/** The version one logical secret holds right now, as the cache knows it. */
export interface HeldAck {
  /** Logical name in the cache (stable while the ARN becomes known). */
  name: string;
  /** The full ARN once Secrets Manager answered; the configured secretId before (env fallback). */
  secret: string;
  versionId: string;
}

export interface PresenceWriterOptions {
  keyPrefix: string;
  instanceId: string;
  heartbeatIntervalMs: number;
  ttlMs: number;
  lastSeenRetentionMs: number;
  /** The normal (non-subscriber) connection to write on; undefined while there is none. */
  client: () => RedisClient | undefined;
  /** What the cache holds now; called at every write. */
  held: () => Iterable<HeldAck>;
  /** Whether the invalidation subscription is up. */
  subscribed: () => boolean;
  now: () => number;
  logger: Logger;
  /** Counts `PresenceWriteFailures`, 1 per failed write. @defaultValue no metrics */
  metrics?: Metrics;
  /**
   * Bound of each step of one write: waiting for the connection to be ready, then the pipeline's
   * round trip. A write that exceeds it fails (TIMEOUT, CONNECTION) and the writer moves on, so
   * no write can hold the ones after it. @defaultValue the listener's command bound for this
   * heartbeat: `heartbeatIntervalMs` within [1 000, 5 000] ms
   */
  writeTimeoutMs?: number;
  /** While presence keeps failing, at most one summary warning per this interval. @defaultValue 60 000 ms */
  failureSummaryIntervalMs?: number;
}

/** How long `stop()` waits for the deregistration before it gives up (the TTL cleans up anyway). */
const DEREGISTER_TIMEOUT_MS = 1_000;
const FAILURE_SUMMARY_INTERVAL_MS = 60_000;


/**
 * Registers one CredentialCache in `{P}:instances` / `{P}:instance:<id>` and keeps the entry
 * alive: a heartbeat every `heartbeatIntervalMs`, a write right after every refresh (the ack,
 * coalesced per turn of the event loop), and one whenever its connection becomes ready again.
 * Each write is one pipeline (ZADD, HSET of the whole hash, PEXPIRE, and on heartbeats a
 * ZREMRANGEBYSCORE that trims instances gone for longer than the retention). Writes never
 * overlap: a write requested while one is running is done once, after it; and every step of a
 * write is bounded (`writeTimeoutMs`), so one that never gets an answer cannot stop the ones
 * after it. Failures never reach the app, but they are loud: see {@link PresenceFailureReport}.
 */
export class PresenceWriter {
  private readonly keys: ProtocolKeys;
  private readonly meta: InstanceMetadata;
  /** Per logical name: the version acked, since when, and under which field. */
  private readonly acked = new Map<string, PresenceAck>();
  private readonly writeTimeoutMs: number;
  private readonly failures: PresenceFailureReport;
  private readonly stopping = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private ackSoon: NodeJS.Immediate | undefined;
  private running: Promise<void> | undefined;
  private pending: { trim: boolean } | undefined;
  private stopped = false;
  private lastWriteAt: number | undefined;
  /** The connection whose `ready` triggers a write, and that handler. */
  private watched: { client: RedisClient; onReady: () => void } | undefined;

  constructor(private readonly options: PresenceWriterOptions) {
    this.keys = protocolKeys(options.keyPrefix);
    this.meta = {
      id: options.instanceId,
      host: hostname(),
      pid: process.pid,
      startedAt: Math.round(Date.now() - process.uptime() * 1000),
      sdk: `rotation-relay/${packageVersion()}`,
      runtime: `node/${process.versions.node}`,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      ttlMs: options.ttlMs,
    };
    this.writeTimeoutMs = options.writeTimeoutMs ?? listenerTimingsFor(options.heartbeatIntervalMs).commandTimeoutMs;
    this.failures = new PresenceFailureReport({
      instanceId: options.instanceId,
      keys: this.keys,
      ttlMs: options.ttlMs,
      writeTimeoutMs: this.writeTimeoutMs,
      summaryIntervalMs: options.failureSummaryIntervalMs ?? FAILURE_SUMMARY_INTERVAL_MS,
      logger: options.logger,
      metrics: options.metrics ?? new NoopMetrics(),
    });
  }

  get instanceId(): string {
    return this.meta.id;
  }

  /** First write now, then one per heartbeat interval (an unref'ed timer). */
  start(): void {
    if (this.stopped || this.timer) return;
    this.request(true);
    this.timer = setInterval(() => this.request(true), this.options.heartbeatIntervalMs);
    this.timer.unref();
  }

  /**
   * A refresh finished (or the subscription changed): write what is held now, on the next turn of
   * the event loop. Acks asked for in the same turn (the rotation and the end of its refresh,
   * several secrets refreshed by one reconcile) become one write, and building the pipeline stays
   * off the path that puts new credentials in place.
   */
  ack(): void {
    if (!this.timer || this.ackSoon) return;
    this.ackSoon = setImmediate(() => {
      this.ackSoon = undefined;
      if (this.timer) this.request(false);
    });
  }

  /**
   * `state`: `not-started` before `start()`; `starting` until the first write finished; `ok`
   * while the last write succeeded; `failing` while writes fail (`reasonCode` says why, since
   * `failingSince`) — `status` and `wait-converged` stop seeing this instance once its entry
   * expired; `stopped` after `stop()`.
   */
  status(): PresenceStatus {
    const status: PresenceStatus = {
      instanceId: this.meta.id,
      heartbeatIntervalMs: this.meta.heartbeatIntervalMs,
      ttlMs: this.meta.ttlMs,
      state: this.state(),
      failedWrites: this.failures.total,
    };
    const failing = this.failures.current;
    if (failing && !this.stopped) {
      status.reasonCode = failing.reason;
      status.failingSince = new Date(failing.since).toISOString();
    }
    if (this.lastWriteAt !== undefined) status.lastWriteAt = new Date(this.lastWriteAt).toISOString();
    const lastError = this.failures.lastError;
    if (lastError !== undefined) status.lastError = { message: lastError.message, at: new Date(lastError.at).toISOString() };
    return status;
  }

  /**
   * Stops the heartbeat and deregisters (ZREM + DEL), bounded: an instance that stops cleanly
   * is not an instance that "stopped heartbeating". If Redis is unreachable the TTL removes it.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopping.abort();
    const wasStarted = this.timer !== undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.ackSoon) clearImmediate(this.ackSoon);
    this.ackSoon = undefined;
    this.pending = undefined;
    this.watched?.client.off('ready', this.watched.onReady);
    this.watched = undefined;
    // A write stuck on an unreachable Redis must not hold the app's shutdown.
    if (this.running) await withTimeout(this.running, DEREGISTER_TIMEOUT_MS);
    const client = this.options.client();
    if (!wasStarted || !client || client.status !== 'ready') return;
    const deregister = client.pipeline().zrem(this.keys.instances, this.meta.id).del(this.keys.instance(this.meta.id)).exec();
    await withTimeout(deregister, DEREGISTER_TIMEOUT_MS).catch(() => undefined);
  }

  private state(): PresenceStatus['state'] {
    if (this.stopped) return 'stopped';
    if (!this.timer) return 'not-started';
    if (this.failures.current) return 'failing';
    return this.lastWriteAt === undefined ? 'starting' : 'ok';
  }

  private request(trim: boolean): void {
    if (this.stopped) return;
    if (this.running) {
      this.pending = { trim: trim || (this.pending?.trim ?? false) };
      return;
    }
    this.running = this.loop(trim).finally(() => {
      this.running = undefined;
    });
  }

  private async loop(trim: boolean): Promise<void> {
    let next: { trim: boolean } | undefined = { trim };
    while (next && !this.stopped) {
      this.pending = undefined;
      await this.write(next.trim);
      next = this.pending;
    }
  }

  /**
   * A write whenever the connection becomes ready again (a reconnect): the entry may have expired
   * during the partition, and waiting for the next heartbeat would leave the instance invisible
   * that much longer. A write already running waits for that `ready` itself.
   */
  private watch(client: RedisClient): void {
    if (this.watched?.client === client) return;
    this.watched?.client.off('ready', this.watched.onReady);
    const onReady = () => {
      if (!this.running && this.timer) this.request(false);
    };
    client.on('ready', onReady);
    this.watched = { client, onReady };
  }

  private async write(trim: boolean): Promise<void> {
    const client = this.options.client();
    if (!client) return;
    this.watch(client);
    let now = this.options.now();
    try {
      await readyWithin(client, this.writeTimeoutMs, this.stopping.signal);
      if (this.stopped) return;
      // Built once the connection is ready: the heartbeat written is the time it is sent.
      now = this.options.now();
      const results = (await withRedisDeadline(this.pipeline(client, now, trim).exec(), this.writeTimeoutMs, 'presence write')) ?? [];
      const failed = results.find(([error]) => error)?.[0];
      if (failed) throw failed;
      this.lastWriteAt = now;
      this.failures.succeeded(now);
    } catch (error) {
      if (this.stopped) return;
      this.failures.failed(error, now);
    }
  }

  private pipeline(client: RedisClient, now: number, trim: boolean): ReturnType<RedisClient['pipeline']> {
    const { removed, acks } = this.currentAcks(now);
    const key = this.keys.instance(this.meta.id);
    const pipeline = client.pipeline().zadd(this.keys.instances, now, this.meta.id);
    if (removed.length > 0) pipeline.hdel(key, ...removed);
    pipeline.hset(key, ...encodePresence(this.meta, { heartbeatAt: now, subscribed: this.options.subscribed(), acks })).pexpire(key, this.meta.ttlMs);
    if (trim) pipeline.zremrangebyscore(this.keys.instances, '-inf', `(${now - this.options.lastSeenRetentionMs}`);
    return pipeline;
  }

/** The acks to write (ackedAt kept while the version stays), and fields to delete (secret renamed to its ARN). */
  private currentAcks(now: number): { removed: string[]; acks: PresenceAck[] } {
    const removed: string[] = [];
    const acks: PresenceAck[] = [];
    for (const held of this.options.held()) {
      const previous = this.acked.get(held.name);
      let ack: PresenceAck;
      if (previous && previous.versionId === held.versionId) ack = { ...previous, secret: held.secret };
      else ack = { secret: held.secret, versionId: held.versionId, ackedAt: now };
      if (previous && previous.secret !== held.secret) removed.push(`ack:${previous.secret}`);
      this.acked.set(held.name, ack);
      acks.push(ack);
    }
    return { removed, acks };
  }
}

/** Resolves once `client` is ready; rejects with PresenceNotConnectedError after `ms`, or when `signal` aborts. */
async function readyWithin(client: RedisClient, ms: number, signal: AbortSignal): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      signal.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve();
    };
    const onReady = () => done();
    const onAbort = () => done(new PresenceNotConnectedError(0));
    const timer = setTimeout(() => done(new PresenceNotConnectedError(ms)), ms);
    timer.unref();
    client.on('ready', onReady);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** `<hostname>:<pid>:<6 hex>`, with characters an id may not hold replaced by `_`. */
export function defaultInstanceId(): string {
  const host = hostname().replace(/[^\x21-\x7e]/g, '_').slice(0, 120) || 'host';
  return `${host}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

let cachedVersion: string | undefined;

/** This package's version, read once from its package.json (`src/` and `dist/` are siblings of it). */
export function packageVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  try {
    const parsed = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    cachedVersion = typeof parsed.version === 'string' ? parsed.version : 'unknown';
  } catch {
    cachedVersion = 'unknown';
  }
  return cachedVersion;
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
