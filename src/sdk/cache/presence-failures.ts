import { RotationRelayError, someErrorInChain, type Logger } from '../../common/index.js';
import { MetricNames, type Metrics } from '../../metrics/index.js';
import type { ProtocolKeys } from '../../protocol/index.js';
import { isRedisAuthError, RedisTimeoutError } from '../../redis/index.js';
import { safeMessage } from './secret-state.js';
import type { PresenceStatus } from './types.js';

// Why a presence write failed, and how that is told to an operator: loud once, then summarised.

/** Why presence writes fail, as `status().presence.reasonCode` and the logs name it. */
export type PresenceReasonCode = NonNullable<PresenceStatus['reasonCode']>;

/** The connection was not ready within the write's bound. */
export class PresenceNotConnectedError extends RotationRelayError {
  constructor(timeoutMs: number) {
    super('PRESENCE_NOT_CONNECTED', `no Redis connection for presence within ${timeoutMs} ms`);
  }
}

/** The keys and commands presence needs in a Redis ACL (docs/protocol.md, "Presence"). */
export function presenceAclRules(keys: ProtocolKeys): string {
  return `~${keys.instances} ~${keys.instance('*')} +zadd +hset +hdel +pexpire +zremrangebyscore +zrem +del`;
}

/** What an operator does about each reason; never the server's own text, which may echo values. */
function advice(reason: PresenceReasonCode, keys: ProtocolKeys, writeTimeoutMs: number): string {
  switch (reason) {
    case 'NOPERM':
      return `the Redis ACL user of this subscriber lacks the rights presence needs; grant it "${presenceAclRules(keys)}" (docs/protocol.md, Presence)`;
    case 'AUTH':
      return 'Redis refused the credentials of the command connection (WRONGPASS/NOAUTH); check the subscriber\'s Redis user and password (redis.passwordSecret)';
    case 'READONLY':
      return 'the write reached a read-only replica (a failover in progress, or a replica endpoint configured); point redis.url at the primary';
    case 'TIMEOUT':
      return `Redis did not answer within ${writeTimeoutMs} ms (network partition or overloaded server); the connection is torn down and reconnected, and writes retried every heartbeat`;
    case 'CONNECTION':
      return 'no connection to Redis (it reconnects by itself); writes are retried every heartbeat and at the reconnect';
    case 'OTHER':
      return 'an unexpected error; writes are retried every heartbeat';
  }
}

function messageIs(error: unknown, test: RegExp): boolean {
  return someErrorInChain(error, (e) => typeof e.message === 'string' && test.test(e.message));
}

/** The reason code of a failed write, from the error's class and the reply's first word only. */
export function presenceReasonOf(error: unknown): PresenceReasonCode {
  if (messageIs(error, /^NOPERM\b/)) return 'NOPERM';
  if (isRedisAuthError(error)) return 'AUTH';
  if (messageIs(error, /^READONLY\b/)) return 'READONLY';
  if (error instanceof RedisTimeoutError || messageIs(error, /^(Command timed out|Socket timeout)/)) return 'TIMEOUT';
  if (error instanceof PresenceNotConnectedError) return 'CONNECTION';
  const connectionLost = (e: { code?: unknown; message?: unknown; name?: unknown }) =>
    e.name === 'MaxRetriesPerRequestError' ||
    (typeof e.code === 'string' && /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN)$/.test(e.code)) ||
    (typeof e.message === 'string' && /^(Connection is closed|Stream isn't writeable|None of startup nodes is available|Failed to refresh slots cache)/.test(e.message));
  if (someErrorInChain(error, connectionLost)) return 'CONNECTION';
  return 'OTHER';
}

interface FailureReportOptions {
  instanceId: string;
  keys: ProtocolKeys;
  ttlMs: number;
  writeTimeoutMs: number;
  summaryIntervalMs: number;
  logger: Logger;
  metrics: Metrics;
}

/**
 * Makes failing presence loud without flooding: one `error` line when writes start failing (or
 * fail for a new reason), naming the reason code and what to fix; then at most one `warn` summary
 * per `summaryIntervalMs` with the failures since the last line; one `info` when a write succeeds
 * again. Every failed write counts 1 in `PresenceWriteFailures`.
 */
export class PresenceFailureReport {
  /** Failed writes over the writer's life. */
  total = 0;
  /** The failure episode in progress; undefined while writes succeed. */
  current: { reason: PresenceReasonCode; since: number; failures: number; unreported: number; reportedAt: number; logged: Set<PresenceReasonCode> } | undefined;
  lastError: { message: string; at: number } | undefined;

  constructor(private readonly options: FailureReportOptions) {}

  failed(error: unknown, at: number): void {
    const { logger, instanceId } = this.options;
    const reason = presenceReasonOf(error);
    this.total += 1;
    this.options.metrics.count(MetricNames.PresenceWriteFailures);
    this.lastError = { message: safeMessage(error), at };
    const current = this.current;
    // An error line per reason and episode: a partition alternates TIMEOUT and CONNECTION, and
    // that must not become a line per heartbeat.
    if (!current || !current.logged.has(reason)) {
      this.current = {
        reason,
        since: current?.since ?? at,
        failures: (current?.failures ?? 0) + 1,
        unreported: 0,
        reportedAt: at,
        logged: new Set([...(current?.logged ?? []), reason]),
      };
      logger.error(
        { code: 'PRESENCE_WRITE_FAILED', reasonCode: reason, instanceId, error: errorName(error) },
        `presence write failed (${reason}): ${advice(reason, this.options.keys, this.options.writeTimeoutMs)}. ` +
          `status and wait-converged stop counting this instance ${this.options.ttlMs} ms after its last successful write`,
      );
      return;
    }
    current.reason = reason;
    current.failures += 1;
    current.unreported += 1;
    if (at - current.reportedAt < this.options.summaryIntervalMs) return;
    logger.warn(
      { code: 'PRESENCE_WRITE_FAILING', reasonCode: reason, instanceId, failures: current.unreported, failingForMs: at - current.since },
      `presence still failing (${reason}): ${current.unreported} failed writes since the last report, failing for ${Math.round((at - current.since) / 1000)} s`,
    );
    current.unreported = 0;
    current.reportedAt = at;
  }

  succeeded(at: number): void {
    const current = this.current;
    if (!current) return;
    this.current = undefined;
    this.lastError = undefined;
    this.options.logger.info(
      { code: 'PRESENCE_WRITE_RECOVERED', instanceId: this.options.instanceId, failures: current.failures, failedForMs: at - current.since },
      `presence heartbeat written again after ${current.failures} failed writes`,
    );
  }
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}
