import { silentLogger, type Logger } from '../../common/index.js';
import { NoopMetrics, type Metrics } from '../../metrics/index.js';
import { DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_LAST_SEEN_RETENTION_MS, DEFAULT_MAX_AGE_MS, DEFAULT_PRESENCE_TTL_MS, isValidInstanceId, DEFAULT_CLOCK_SKEW_TOLERANCE_MS } from '../../protocol/index.js';
import { DEFAULT_BACKOFF, type BackoffBounds } from './backoff.js';
import type { Env } from './env-fallback.js';
import { CredentialCacheConfigError } from './errors.js';
import { defaultInstanceId } from './presence.js';
import { DEFAULT_LOST_STATE_JITTER_MS } from './reconcile.js';
import { DEFAULT_REFRESH_LIMITS, type RefreshLimits } from './secret-state.js';
import type { CredentialCacheOptions } from './types.js';

/** The defaults documented on `CredentialCacheOptions`, in one place. */
export const CACHE_DEFAULTS = {
  pollIntervalMs: 30 * 60_000,
  pollJitter: 0.1,
  consistencyWindowMs: 5_000,
  authFailureMinIntervalMs: 1_000,
  pendingTtlMs: 2_000,
  subscribeWaitMs: 5_000,
  lostStateJitterMs: DEFAULT_LOST_STATE_JITTER_MS,
  missedByEventsGraceMs: 60_000,
  maxAgeMs: DEFAULT_MAX_AGE_MS,
  clockSkewToleranceMs: DEFAULT_CLOCK_SKEW_TOLERANCE_MS,
  refreshStartQuietMs: 2,
  refreshBudget: {
    burst: DEFAULT_REFRESH_LIMITS.burst,
    refillIntervalMs: DEFAULT_REFRESH_LIMITS.refillIntervalMs,
    rememberVersionsMs: DEFAULT_REFRESH_LIMITS.rememberVersionsMs,
  },
  presence: {
    heartbeatIntervalMs: DEFAULT_HEARTBEAT_INTERVAL_MS,
    ttlMs: DEFAULT_PRESENCE_TTL_MS,
    lastSeenRetentionMs: DEFAULT_LAST_SEEN_RETENTION_MS,
  },
} as const;

/** Presence settings once defaults are applied; undefined in `ResolvedCacheOptions` when off. */
export interface ResolvedPresenceOptions {
  instanceId: string;
  heartbeatIntervalMs: number;
  ttlMs: number;
  lastSeenRetentionMs: number;
}

/** `refreshBudget` once defaults are applied. */
export interface ResolvedRefreshBudget {
  burst: number;
  refillIntervalMs: number;
  rememberVersionsMs: number;
}

export interface ResolvedCacheOptions {
  pollIntervalMs: number;
  pollJitter: number;
  backoff: BackoffBounds;
  consistencyWindowMs: number;
  authFailureMinIntervalMs: number;
  pendingTtlMs: number;
  subscribeWaitMs: number;
  lostStateJitterMs: number;
  missedByEventsGraceMs: number;
  maxAgeMs: number;
  clockSkewToleranceMs: number;
  refreshStartQuietMs: number;
  refreshBudget: ResolvedRefreshBudget;
  signingKeys: readonly string[];
  presence: ResolvedPresenceOptions | undefined;
  env: Env;
  now: () => number;
  logger: Logger;
  metrics: Metrics;
}

/** Applies the defaults and refuses options that cannot work, naming the option. */
export function resolveCacheOptions(options: CredentialCacheOptions): ResolvedCacheOptions {
  const names = Object.keys(options.secrets ?? {});
  if (names.length === 0) throw new CredentialCacheConfigError('options.secrets must name at least one secret');
  for (const [name, spec] of Object.entries(options.secrets)) {
    if (!spec || typeof spec.secretId !== 'string' || spec.secretId.length === 0) {
      throw new CredentialCacheConfigError(`secrets.${name}.secretId must be a non-empty secret name or ARN`);
    }
    if (spec.envFallback !== undefined && typeof spec.envFallback !== 'string' && !spec.json) {
      throw new CredentialCacheConfigError(`secrets.${name}.envFallback is a field map, which needs json: true (or name one variable holding the whole string)`);
    }
  }
  const passwordSecret = options.redis?.passwordSecret;
  if (passwordSecret !== undefined && !names.includes(passwordSecret)) {
    throw new CredentialCacheConfigError(`redis.passwordSecret "${passwordSecret}" is not one of the configured secrets (${names.join(', ')})`);
  }
  const signingKeys = options.signingKeys ?? [];
  if (options.redis !== undefined && signingKeys.length === 0 && options.allowUnsigned !== true) {
    throw new CredentialCacheConfigError(
      'signingKeys is empty: give the worker\'s keys (ROTATION_RELAY_SIGNING_KEYS, generated with `openssl rand -base64 48`), or set allowUnsigned: true to accept unsigned invalidations on purpose',
    );
  }
  const backoff = { minMs: options.backoff?.minMs ?? DEFAULT_BACKOFF.minMs, maxMs: options.backoff?.maxMs ?? DEFAULT_BACKOFF.maxMs };
  if (backoff.maxMs < backoff.minMs) throw new CredentialCacheConfigError(`backoff.maxMs (${backoff.maxMs}) must be >= backoff.minMs (${backoff.minMs})`);
  const resolved: ResolvedCacheOptions = {
    pollIntervalMs: timerDelay('pollIntervalMs', options.pollIntervalMs ?? CACHE_DEFAULTS.pollIntervalMs),
    pollJitter: fraction('pollJitter', options.pollJitter ?? CACHE_DEFAULTS.pollJitter),
    backoff: { minMs: timerDelay('backoff.minMs', backoff.minMs), maxMs: timerDelay('backoff.maxMs', backoff.maxMs) },
    consistencyWindowMs: nonNegative('consistencyWindowMs', options.consistencyWindowMs ?? CACHE_DEFAULTS.consistencyWindowMs),
    authFailureMinIntervalMs: nonNegative('authFailureMinIntervalMs', options.authFailureMinIntervalMs ?? CACHE_DEFAULTS.authFailureMinIntervalMs),
    pendingTtlMs: nonNegative('pendingTtlMs', options.pendingTtlMs ?? CACHE_DEFAULTS.pendingTtlMs),
    subscribeWaitMs: nonNegative('redis.subscribeWaitMs', options.redis?.subscribeWaitMs ?? CACHE_DEFAULTS.subscribeWaitMs),
    lostStateJitterMs: nonNegative('redis.lostStateJitterMs', options.redis?.lostStateJitterMs ?? CACHE_DEFAULTS.lostStateJitterMs),
    missedByEventsGraceMs: nonNegative('missedByEventsGraceMs', options.missedByEventsGraceMs ?? CACHE_DEFAULTS.missedByEventsGraceMs),
    maxAgeMs: positive('maxAgeMs', options.maxAgeMs ?? CACHE_DEFAULTS.maxAgeMs),
    clockSkewToleranceMs: nonNegative('clockSkewToleranceMs', options.clockSkewToleranceMs ?? CACHE_DEFAULTS.clockSkewToleranceMs),
    refreshStartQuietMs: nonNegative('refreshStartQuietMs', options.refreshStartQuietMs ?? CACHE_DEFAULTS.refreshStartQuietMs),
    refreshBudget: resolveRefreshBudget(options),
    signingKeys,
    presence: resolvePresence(options),
    env: options.env ?? process.env,
    now: options.now ?? (() => Date.now()),
    logger: options.logger ?? silentLogger(),
    metrics: options.metrics ?? new NoopMetrics(),
  };
  return resolved;
}

function resolveRefreshBudget(options: CredentialCacheOptions): ResolvedRefreshBudget {
  const given = options.refreshBudget ?? {};
  const defaults = CACHE_DEFAULTS.refreshBudget;
  const burst = given.burst ?? defaults.burst;
  if (typeof burst !== 'number' || !Number.isInteger(burst) || burst < 1) {
    throw new CredentialCacheConfigError(`refreshBudget.burst must be a whole number >= 1, got ${String(burst)}`);
  }
  return {
    burst,
    refillIntervalMs: timerDelay('refreshBudget.refillIntervalMs', given.refillIntervalMs ?? defaults.refillIntervalMs),
    rememberVersionsMs: nonNegative('refreshBudget.rememberVersionsMs', given.rememberVersionsMs ?? defaults.rememberVersionsMs),
  };
}

/** What each secret's state needs to bound its refresh work (`SecretState`). */
export function refreshLimitsFrom(options: ResolvedCacheOptions): RefreshLimits {
  const { burst, refillIntervalMs, rememberVersionsMs } = options.refreshBudget;
  return {
    burst,
    refillIntervalMs,
    rememberVersionsMs,
    // A replay is accepted only within maxAgeMs (Infinity: until the 256 most recent evict it).
    rememberIdsMs: Math.max(rememberVersionsMs, options.maxAgeMs),
    publishedMarginMs: options.clockSkewToleranceMs,
    now: options.now,
  };
}

function resolvePresence(options: CredentialCacheOptions): ResolvedPresenceOptions | undefined {
  const presence = options.presence;
  if (presence === false) return undefined;
  if (options.redis === undefined) {
    if (presence !== undefined) throw new CredentialCacheConfigError('presence needs redis: it is written to the same Redis as the invalidations');
    return undefined;
  }
  const instanceId = presence?.instanceId ?? defaultInstanceId();
  if (!isValidInstanceId(instanceId)) {
    throw new CredentialCacheConfigError(`presence.instanceId must be 1–200 printable characters without whitespace, got ${JSON.stringify(instanceId)}`);
  }
  const defaults = CACHE_DEFAULTS.presence;
  const heartbeatIntervalMs = timerDelay('presence.heartbeatIntervalMs', presence?.heartbeatIntervalMs ?? defaults.heartbeatIntervalMs);
  const ttlMs = timerDelay('presence.ttlMs', presence?.ttlMs ?? defaults.ttlMs);
  if (!Number.isInteger(ttlMs) || ttlMs <= heartbeatIntervalMs) {
    throw new CredentialCacheConfigError(`presence.ttlMs (${ttlMs}) must be a whole number of ms greater than presence.heartbeatIntervalMs (${heartbeatIntervalMs})`);
  }
  const lastSeenRetentionMs = nonNegative('presence.lastSeenRetentionMs', presence?.lastSeenRetentionMs ?? defaults.lastSeenRetentionMs);
  if (lastSeenRetentionMs < ttlMs) {
    throw new CredentialCacheConfigError(`presence.lastSeenRetentionMs (${lastSeenRetentionMs}) must be at least presence.ttlMs (${ttlMs})`);
  }
  return { instanceId, heartbeatIntervalMs, ttlMs, lastSeenRetentionMs };
}

/** Node clamps timer delays above 2^31 − 1 ms to 1 ms: a "25-day poll" would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function timerDelay(name: string, value: number): number {
  if (typeof value !== 'number' || !(value > 0) || value > MAX_TIMER_MS) {
    throw new CredentialCacheConfigError(`${name} must be a positive number of milliseconds up to ${MAX_TIMER_MS}, got ${String(value)}`);
  }
  return value;
}

/** Positive; Infinity allowed (maxAgeMs: Infinity turns the age check off). */
function positive(name: string, value: number): number {
  if (typeof value !== 'number' || !(value > 0)) throw new CredentialCacheConfigError(`${name} must be a positive number, got ${String(value)}`);
  return value;
}

function nonNegative(name: string, value: number): number {
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) {
    throw new CredentialCacheConfigError(`${name} must be a finite number >= 0, got ${String(value)}`);
  }
  return value;
}

function fraction(name: string, value: number): number {
  if (typeof value !== 'number' || !(value >= 0 && value < 1)) throw new CredentialCacheConfigError(`${name} must be in [0, 1), got ${String(value)}`);
  return value;
}
