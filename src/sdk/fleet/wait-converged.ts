import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Cluster } from 'ioredis';
import { isSecretsManagerArn, secretIdMatches, describeCurrentVersion } from '../../secrets/index.js';
import { DEFAULT_KEY_PREFIX, readPublishedVersion, readPublishedVersions } from '../../protocol/index.js';
import { accountSubscribers, type SubscriberAccount } from './channel-subscribers.js';
import { convergenceOf, type SecretConvergence } from './convergence.js';
import { Deadline } from './deadline.js';
import { FleetOptionsError, NotConvergedError } from './errors.js';
import { readChannel } from './read-channel.js';
import { readFleet } from './read-fleet.js';
import { verdictOf, type Verdict } from './verdict.js';
import type { RedisClient } from '../../common/index.js';

/** Defaults of {@link waitConverged}. */
export const WAIT_CONVERGED_DEFAULTS = {
  timeoutMs: 60_000,
  pollMs: 1_000,
  minInstances: 1,
  allowUnaccounted: 0,
} as const;

/**
 * A `timeoutMs` below this still gets one whole check of up to this long, so `timeoutMs: 0`
 * means "check once, do not wait" rather than "fail before the first read".
 */
export const MIN_CHECK_MS = 1_000;

export interface WaitConvergedOptions {
  /** A connection to the Redis the subscribers heartbeat to (standalone or cluster). */
  redis: RedisClient;
  /** @defaultValue `rotation-relay` */
  keyPrefix?: string;
  /** The secret's full ARN. Either this or `secretId`. */
  secretArn?: string;
  /**
   * The secret's name or ARN. A name is resolved to the ARN with DescribeSecret when
   * `secretsClient` is given, else through the versions hash.
   */
  secretId?: string;
  /** The version every live instance must hold. @defaultValue AWSCURRENT, read with DescribeSecret (needs `secretsClient`) */
  versionId?: string;
  /** For the default `versionId` and for resolving a name; needs `secretsmanager:DescribeSecret`. */
  secretsClient?: SecretsManagerClient;
  /**
   * The whole deadline, from the call: the DescribeSecret and every Redis read are bounded by
   * what is left of it (a check still gets {@link MIN_CHECK_MS} when less is given).
   * @defaultValue 60 000 ms
   */
  timeoutMs?: number;
  /**
   * When the deadline started (ms, Date.now() clock), for a caller whose own work before the call
   * belongs to the same deadline (the CLI connects to Redis first). `elapsedMs` counts from it too.
   * @defaultValue the time of the call
   */
  startedAt?: number;
  /** Pause between two reads of the fleet. @defaultValue 1 000 ms */
  pollMs?: number;
  /**
   * Converged only once at least this many live instances report the secret: with 0, a fleet
   * that does not report at all (presence off, wrong prefix, an older SDK) would count as
   * converged and old credentials would be revoked blind. @defaultValue 1
   */
  minInstances?: number;
  /**
   * Subscribers on the invalidation channel that report no presence, tolerated: for listeners you
   * know hold none of the secret's credentials (a monitoring subscriber in another language).
   * Any more and the fleet is not converged: they may hold the old version. @defaultValue 0
   */
  allowUnaccounted?: number;
  /** Called after every read with the state of the fleet and of the channel. */
  onProgress?: (convergence: SecretConvergence, subscribers: SubscriberAccount) => void;
  /** Aborts the wait (rejects with the signal's reason). */
  signal?: AbortSignal;
}

export interface WaitConvergedResult extends SecretConvergence {
  /** From the call to convergence. */
  elapsedMs: number;
  /** The channel's subscribers cross-checked against presence, at the converging read. */
  subscribers: SubscriberAccount;
}

interface Check {
  convergence: SecretConvergence;
  subscribers: SubscriberAccount;
  verdict: Verdict;
}

/**
 * Resolves once every live instance that uses the secret holds `versionId`, at least
 * `minInstances` do, and every subscriber on the invalidation channel (PUBSUB NUMSUB, summed over
 * every node of a cluster) is a live instance that reports presence; rejects with
 * {@link NotConvergedError} — `error.reason` says which rule failed, `error.result.stale` and
 * `error.result.subscribers` list who — when `timeoutMs` runs out. Meant for the last step before
 * revoking old credentials: a rotation Lambda's finishSecret, or a deploy pipeline between
 * ElastiCache ROTATE and SET. Rejection is the safe default: a caller that forgets to check
 * cannot revoke early.
 *
 * Reads only Redis (plus one DescribeSecret when `versionId` or the ARN must be looked up), all
 * within `timeoutMs`.
 */
export async function waitConverged(options: WaitConvergedOptions): Promise<WaitConvergedResult> {
  const started = options.startedAt === undefined ? Date.now() : nonNegative('startedAt', options.startedAt);
  const keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
  const timeoutMs = nonNegative('timeoutMs', options.timeoutMs ?? WAIT_CONVERGED_DEFAULTS.timeoutMs);
  const pollMs = nonNegative('pollMs', options.pollMs ?? WAIT_CONVERGED_DEFAULTS.pollMs);
  const minInstances = nonNegative('minInstances', options.minInstances ?? WAIT_CONVERGED_DEFAULTS.minInstances);
  const allowUnaccounted = nonNegative('allowUnaccounted', options.allowUnaccounted ?? WAIT_CONVERGED_DEFAULTS.allowUnaccounted);
  // `deadline` decides whether to read again; `budget` bounds each call (the first check included).
  const deadline = Deadline.in(timeoutMs, started);
  const budget = Deadline.in(Math.max(timeoutMs, MIN_CHECK_MS), started);
  const { secretArn, versionId } = await resolveTarget(options, keyPrefix, budget);
  let last: Check | undefined;
  for (;;) {
    options.signal?.throwIfAborted();
    let check: Check;
    try {
      check = await checkOnce(options.redis, keyPrefix, secretArn, versionId, budget, { minInstances, allowUnaccounted });
    } catch (error) {
      // The deadline ran out during a read: the last complete read is the answer.
      if (last && !last.verdict.converged && budget.remainingMs() === 0) throw notConverged(last, secretArn, versionId, timeoutMs, started, error);
      throw error;
    }
    last = check;
    options.onProgress?.(check.convergence, check.subscribers);
    if (check.verdict.converged) return { ...check.convergence, elapsedMs: Date.now() - started, subscribers: check.subscribers };
    const remaining = deadline.remainingMs();
    if (remaining <= 0) throw notConverged(check, secretArn, versionId, timeoutMs, started);
    await sleep(Math.min(pollMs, remaining), options.signal);
  }
}

/** One read: the channel first, then presence, so a subscriber that joins in between is in both. */
async function checkOnce(redis: RedisClient, keyPrefix: string, secretArn: string, versionId: string, budget: Deadline, rules: { minInstances: number; allowUnaccounted: number }): Promise<Check> {
  const reading = await readChannel(redis, keyPrefix, { deadline: budget });
  const [fleet, since] = await Promise.all([
    budget.bound(readFleet(redis, keyPrefix), `reading presence from Redis ${targetOf(redis)}`),
    publishedAt(redis, keyPrefix, secretArn, versionId, budget),
  ]);
  const convergence = convergenceOf(fleet, { secretArn, versionId, ...since });
  const subscribers = accountSubscribers(reading, fleet);
  return { convergence, subscribers, verdict: verdictOf(convergence, subscribers, rules) };
}

function notConverged(check: Check, secretArn: string, versionId: string, timeoutMs: number, started: number, cause?: unknown): NotConvergedError {
  const verdict = check.verdict.converged ? { reason: 'stale' as const, why: 'no complete read' } : check.verdict;
  return new NotConvergedError(
    `${secretArn} did not converge on version ${versionId} within ${timeoutMs} ms: ${verdict.why}`,
    { ...check.convergence, elapsedMs: Date.now() - started, subscribers: check.subscribers },
    verdict.reason,
    cause === undefined ? undefined : { cause },
  );
}

/** The ARN and version to wait for, looked up as little as possible. */
async function resolveTarget(options: WaitConvergedOptions, keyPrefix: string, budget: Deadline): Promise<{ secretArn: string; versionId: string }> {
  const id = options.secretArn ?? options.secretId;
  if (!id) throw new FleetOptionsError('waitConverged needs secretArn or secretId');
  if (options.versionId !== undefined && isSecretsManagerArn(id)) return { secretArn: id, versionId: options.versionId };
  if (options.secretsClient) {
    const current = await budget.bound(describeCurrentVersion(options.secretsClient, id), `DescribeSecret of ${id}`);
    return { secretArn: current.arn, versionId: options.versionId ?? current.versionId };
  }
  if (options.versionId === undefined) {
    throw new FleetOptionsError('waitConverged needs versionId, or a secretsClient to read AWSCURRENT with DescribeSecret');
  }
  const published = await budget.bound(readPublishedVersions(options.redis, keyPrefix), `reading the versions hash from Redis ${targetOf(options.redis)}`);
  const matches = [...published.keys()].filter((arn) => secretIdMatches(id, arn));
  if (matches.length !== 1) {
    throw new FleetOptionsError(
      matches.length === 0
        ? `no broadcast for "${id}" in the versions hash: pass its full ARN, or a secretsClient to look it up`
        : `"${id}" matches several secrets (${matches.join(', ')}): pass the full ARN`,
    );
  }
  return { secretArn: matches[0] as string, versionId: options.versionId };
}

/** The broadcast time of `versionId`, the origin of "stale for" (absent when it was not broadcast or not read in time). */
async function publishedAt(redis: RedisClient, keyPrefix: string, secretArn: string, versionId: string, budget: Deadline): Promise<{ since?: number }> {
  const entry = await budget.bound(readPublishedVersion(redis, keyPrefix, secretArn), 'reading the versions hash').catch(() => undefined);
  const at = entry?.versionId === versionId ? Date.parse(entry.publishedAt) : Number.NaN;
  return Number.isFinite(at) ? { since: at } : {};
}

/** `host:port` of the client (of a node, for a cluster): what a timeout names, never credentials. */
function targetOf(redis: RedisClient): string {
  const node = redis instanceof Cluster ? redis.nodes('all')[0] : redis;
  const where = node ? `${node.options.host ?? '?'}:${node.options.port ?? '?'}` : '(no node known)';
  return redis instanceof Cluster ? `cluster ${where}` : where;
}

function nonNegative(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new FleetOptionsError(`${name} must be a finite number >= 0, got ${String(value)}`);
  return value;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
