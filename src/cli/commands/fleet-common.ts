// Small helpers shared by the fleet commands (status, wait-converged, drill).
import { loadRedisConfig, SETTINGS, type Env, type RedisConfig } from '../../config/index.js';
import { connectRedis, waitForReady, type RedisClient } from '../../redis/connect.js';
import { UsageError } from '../exit-codes.js';
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

/** The CLI's Redis connection, ready, with the rotating password when one is configured. */
export async function openRedis(env: Env): Promise<{ redis: RedisClient; config: RedisConfig }> {
  const config = loadRedisConfig(env);
  const password = await currentRedisPassword(config, env);
  const redis = connectRedis(config, { connectionName: 'rotation-relay:cli', offlineQueue: false, ...(password ? { password } : {}) });
  redis.on('error', () => undefined);
  try {
    await waitForReady(redis, 10_000);
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  return { redis, config };
}

/** An ISO time without milliseconds, for tables. */
export function shortTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
