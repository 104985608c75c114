// Small helpers shared by the fleet commands (status, wait-converged, drill).
import { loadRedisConfig, SETTINGS, type Env, type RedisConfig } from '../../../config/index.js';
import { describeCause, type RedisClient } from '../../../common/index.js';
import { Deadline, describeConnection, FleetReadError, type SubscriberAccount } from '../../../sdk/fleet/index.js';
import { connectRedis, describeRedisTarget, waitForReady } from '../../../redis/index.js';
import { UsageError } from '../exit-codes.js';
import { formatTable } from '../table.js';
import { currentRedisPassword } from '../redis-password.js';

/** `500ms`, `1.5s`, `60s`, `2m`, `1h`, or a bare number of seconds → milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new UsageError(`${flag} takes a duration such as 500ms, 30s, 2m or 1h, got "${text}"`);
  const value = Number(match[1]);
  const unit = match[2] ?? 's';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1_000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(value * factor);
}

/** `850 ms`, `12.3 s`, `2m 05s`, `1h 02m`: short and sortable by eye. */
export function formatDuration(ms: number): string {
  const value = Math.max(0, Math.round(ms));
  if (value < 1_000) return `${value} ms`;
  if (value < 60_000) return `${(value / 1_000).toFixed(1)} s`;
  const minutes = Math.floor(value / 60_000);
  if (minutes < 60) return `${minutes}m ${String(Math.floor((value % 60_000) / 1_000)).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, '0')}m`;
}

export function parseCount(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new UsageError(`${flag} takes a whole number >= 0, got "${text}"`);
  return value;
}

/** True when an AWS region is configured (AWS_REGION or AWS_DEFAULT_REGION). */
export function awsRegionConfigured(env: Env): boolean {
  return Boolean(SETTINGS.aws.region.read(env) ?? env.AWS_DEFAULT_REGION?.trim());
}

/** True when Secrets Manager is an emulator (LocalStack, moto_server): an endpoint override is set. */
export function secretsManagerEmulated(env: Env): boolean {
  return Boolean(SETTINGS.aws.endpoint.read(env) ?? SETTINGS.aws.secretsManagerEndpoint.read(env));
}

/** How long a fleet command without a deadline of its own waits for Redis. */
export const REDIS_READY_TIMEOUT_MS = 10_000;

/**
 * The CLI's Redis connection, ready, with the rotating password when one is configured. The
 * password read (GetSecretValue) and the connection both count against `deadline` (default
 * {@link REDIS_READY_TIMEOUT_MS} from now): `wait-converged --timeout` is the whole deadline.
 * A failure names the Redis target (scheme, host, port), never the URL's credentials.
 */
export async function openRedis(env: Env, deadline: Deadline = Deadline.in(REDIS_READY_TIMEOUT_MS)): Promise<{ redis: RedisClient; config: RedisConfig }> {
  const config = loadRedisConfig(env);
  const target = redisTarget(config);
  const password = await deadline.bound(currentRedisPassword(config, env), `reading the Redis password (ROTATION_RELAY_REDIS_PASSWORD_SECRET_ID) for ${target}`);
  const redis = connectRedis(config, { connectionName: 'rotation-relay:cli', offlineQueue: false, ...(password ? { password } : {}) });
  redis.on('error', () => undefined);
  const waitMs = deadline.remainingMs();
  try {
    await waitForReady(redis, waitMs, target);
  } catch (error) {
    redis.disconnect();
    // The last reason the connection gave (refused, WRONGPASS, a certificate error), told safely.
    throw new FleetReadError(`Redis at ${target} not ready within ${waitMs} ms: ${describeCause(error) ?? 'no answer'}`, { cause: error });
  }
  return { redis, config };
}

/** The Redis a command talks to, as its errors name it: scheme, host, port, never credentials. */
export function redisTarget(config: RedisConfig): string {
  return `${describeRedisTarget(config.url)}${config.cluster ? ' (cluster)' : ''}`;
}

/**
 * A read that failed once connected (NOPERM on a key, a command the ACL refuses) names the key
 * but not the server: the CLI line must say which Redis refused, so it is wrapped with the target.
 */
export function atRedisTarget(config: RedisConfig, error: unknown): unknown {
  if (!(error instanceof FleetReadError)) return error;
  const target = redisTarget(config);
  return error.message.includes(target) ? error : new FleetReadError(`Redis at ${target}: ${error.message}`, { cause: error });
}

/** An ISO time without milliseconds, for tables. */
export function shortTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** "3 subscribers on the channel, 2 report presence (1 unaccounted for)": shared with status. */
export function channelLine(account: SubscriberAccount): string {
  const counted = account.complete ? String(account.subscribers) : `at least ${account.subscribers}`;
  const listen = account.cliListeners > 0 ? `, ${account.cliListeners} rotation-relay listen not counted` : '';
  const gap = account.unaccounted > 0 ? ` (${account.unaccounted} unaccounted for)` : '';
  return `${counted} subscriber${account.subscribers === 1 ? '' : 's'} on the channel${listen}, ${account.reporting} report presence${gap}`;
}

/** The connections that can be the unaccounted subscribers, as a table: shared with status. */
export function unaccountedTable(account: SubscriberAccount): string {
  return formatTable(
    ['CONNECTION', 'FROM', 'NODE', 'NOTE'],
    account.candidates.map((c) => [c.name ?? '(unnamed)', c.addr ?? '-', c.node, c.instanceId !== undefined ? `no live presence for ${c.instanceId}` : '-']),
  );
}

/** The channel cross-check as `status --json` and `wait-converged --json` print it. */
export function subscribersJson(account: SubscriberAccount): Record<string, unknown> {
  return {
    channel: account.channel,
    subscribers: account.subscribers,
    complete: account.complete,
    reporting: account.reporting,
    unaccounted: account.unaccounted,
    method: account.method,
    ...(account.clientListError !== undefined ? { clientListError: account.clientListError } : {}),
    cliListeners: account.cliListeners,
    candidates: account.candidates.map((c) => ({ ...c, description: describeConnection(c) })),
    reportingWithoutConnection: account.reportingWithoutConnection,
    ...(account.failedNodes.length > 0 ? { failedNodes: account.failedNodes } : {}),
  };
}
