import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Logger } from '../logging/logger.js';
import type { Metrics } from '../metrics/index.js';
import { encodePresence, protocolKeys, type InstanceMetadata, type PresenceAck, type ProtocolKeys } from '../protocol/index.js';
import type { RedisClient } from '../redis/connect.js';
import { safeMessage } from './secret-state.js';
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
  /** Counts `PresenceWriteFailures`. */
  metrics: Metrics;
}

/** How long `stop()` waits for the deregistration before it gives up (the TTL cleans up anyway). */
const DEREGISTER_TIMEOUT_MS = 1_000;

/**
 * Registers one CredentialCache in `{P}:instances` / `{P}:instance:<id>` and keeps the entry
 * alive: a heartbeat every `heartbeatIntervalMs`, and a write right after every refresh (the
 * ack, coalesced per turn of the event loop). Each write is one pipeline (ZADD, HSET of the whole hash, PEXPIRE, and on heartbeats a
 * ZREMRANGEBYSCORE that trims instances gone for longer than the retention). Writes never
 * overlap: a write requested while one is running is done once, after it. Failures are logged
 * (once per distinct error) and never reach the app; the next beat retries.
 */
export class PresenceWriter {
  private readonly keys: ProtocolKeys;
  private readonly meta: InstanceMetadata;
  /** Per logical name: the version acked, since when, and under which field. */
  private readonly acked = new Map<string, PresenceAck>();
  private timer: NodeJS.Timeout | undefined;
  private ackSoon: NodeJS.Immediate | undefined;
  private running: Promise<void> | undefined;
  private pending: { trim: boolean } | undefined;
  private stopped = false;
  private lastWriteAt: number | undefined;
  private lastError: { message: string; at: number } | undefined;

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

  status(): PresenceStatus {
    const status: PresenceStatus = { instanceId: this.meta.id, heartbeatIntervalMs: this.meta.heartbeatIntervalMs, ttlMs: this.meta.ttlMs };
    if (this.lastWriteAt !== undefined) status.lastWriteAt = new Date(this.lastWriteAt).toISOString();
    if (this.lastError !== undefined) status.lastError = { message: this.lastError.message, at: new Date(this.lastError.at).toISOString() };
    return status;
  }

  /**
   * Stops the heartbeat and deregisters (ZREM + DEL), bounded: an instance that stops cleanly
   * is not an instance that "stopped heartbeating". If Redis is unreachable the TTL removes it.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const wasStarted = this.timer !== undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.ackSoon) clearImmediate(this.ackSoon);
    this.ackSoon = undefined;
    this.pending = undefined;
    // A write stuck on an unreachable Redis must not hold the app's shutdown.
    if (this.running) await withTimeout(this.running, DEREGISTER_TIMEOUT_MS);
    const client = this.options.client();
    if (!wasStarted || !client || client.status !== 'ready') return;
    const deregister = client.pipeline().zrem(this.keys.instances, this.meta.id).del(this.keys.instance(this.meta.id)).exec();
    await withTimeout(deregister, DEREGISTER_TIMEOUT_MS).catch(() => undefined);
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

  private async write(trim: boolean): Promise<void> {
    const client = this.options.client();
    if (!client) return;
    const now = this.options.now();
    const { removed, acks } = this.currentAcks(now);
    const key = this.keys.instance(this.meta.id);
    const pipeline = client.pipeline().zadd(this.keys.instances, now, this.meta.id);
    if (removed.length > 0) pipeline.hdel(key, ...removed);
    pipeline.hset(key, ...encodePresence(this.meta, { heartbeatAt: now, subscribed: this.options.subscribed(), acks })).pexpire(key, this.meta.ttlMs);
    if (trim) pipeline.zremrangebyscore(this.keys.instances, '-inf', `(${now - this.options.lastSeenRetentionMs}`);
    try {
      const results = (await pipeline.exec()) ?? [];
      const failed = results.find(([error]) => error)?.[0];
      if (failed) throw failed;
      this.lastWriteAt = now;
      if (this.lastError) this.options.logger.info({ instanceId: this.meta.id }, 'presence heartbeat written again');
      this.lastError = undefined;
    } catch (error) {
      const message = safeMessage(error);
      const repeated = this.lastError?.message === message;
      this.lastError = { message, at: now };
      // ioredis reports its own connection trouble through the listener; one warn per distinct error.
      this.options.logger[repeated ? 'debug' : 'warn']({ code: 'PRESENCE_WRITE_FAILED', instanceId: this.meta.id }, `presence heartbeat failed: ${message}`);
    }
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
    const parsed = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
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
