import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { isSecretsManagerArn, secretIdMatches } from '../events/secret-id.js';
import { DEFAULT_KEY_PREFIX, readPublishedVersion, readPublishedVersions, type RedisClient } from '../protocol/index.js';
import { describeCurrentVersion } from '../secrets/describe-current-version.js';
import { convergenceOf, type SecretConvergence } from './convergence.js';
import { FleetOptionsError, NotConvergedError } from './errors.js';
import { readFleet } from './read-fleet.js';

/** Defaults of {@link waitConverged}. */
export const WAIT_CONVERGED_DEFAULTS = {
  timeoutMs: 60_000,
  pollMs: 1_000,
  minInstances: 1,
} as const;

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
  /** @defaultValue 60 000 ms */
  timeoutMs?: number;
  /** Pause between two reads of the fleet. @defaultValue 1 000 ms */
  pollMs?: number;
  /**
   * Converged only once at least this many live instances report the secret: with 0, a fleet
   * that does not report at all (presence off, wrong prefix, an older SDK) would count as
   * converged and old credentials would be revoked blind. @defaultValue 1
   */
  minInstances?: number;
  /** Called after every read with the state of the fleet. */
  onProgress?: (convergence: SecretConvergence) => void;
  /** Aborts the wait (rejects with the signal's reason). */
  signal?: AbortSignal;
}

export interface WaitConvergedResult extends SecretConvergence {
  /** From the call to convergence. */
  elapsedMs: number;
}

/**
 * Resolves once every live instance that uses the secret holds `versionId` (and at least
 * `minInstances` do); rejects with {@link NotConvergedError} — listing the stale instances in
 * `error.result.stale` — when `timeoutMs` runs out. Meant for the last step before revoking old
 * credentials: a rotation Lambda's finishSecret, or a deploy pipeline between ElastiCache ROTATE
 * and SET. Rejection is the safe default: a caller that forgets to check cannot revoke early.
 *
 * Reads only Redis (plus one DescribeSecret when `versionId` or the ARN must be looked up).
 */
export async function waitConverged(options: WaitConvergedOptions): Promise<WaitConvergedResult> {
  const started = Date.now();
  const keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
  const timeoutMs = nonNegative('timeoutMs', options.timeoutMs ?? WAIT_CONVERGED_DEFAULTS.timeoutMs);
  const pollMs = nonNegative('pollMs', options.pollMs ?? WAIT_CONVERGED_DEFAULTS.pollMs);
  const minInstances = nonNegative('minInstances', options.minInstances ?? WAIT_CONVERGED_DEFAULTS.minInstances);
  const { secretArn, versionId } = await resolveTarget(options, keyPrefix);
  const deadline = started + timeoutMs;
  for (;;) {
    options.signal?.throwIfAborted();
    const fleet = await readFleet(options.redis, keyPrefix);
    const convergence = convergenceOf(fleet, { secretArn, versionId, ...(await publishedAt(options.redis, keyPrefix, secretArn, versionId)) });
    options.onProgress?.(convergence);
    const elapsedMs = Date.now() - started;
    if (convergence.converged && convergence.instances >= minInstances) return { ...convergence, elapsedMs };
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      const why =
        convergence.stale.length > 0
          ? `${convergence.stale.length} of ${convergence.instances} live instances still hold another version: ${convergence.stale
              .slice(0, 5)
              .map((s) => `${s.instanceId} (${s.versionId})`)
              .join(', ')}${convergence.stale.length > 5 ? ', …' : ''}`
          : `only ${convergence.instances} live instances report the secret, fewer than minInstances (${minInstances})`;
      throw new NotConvergedError(`${secretArn} did not converge on version ${versionId} within ${timeoutMs} ms: ${why}`, { ...convergence, elapsedMs });
    }
    await sleep(Math.min(pollMs, remaining), options.signal);
  }
}

/** The ARN and version to wait for, looked up as little as possible. */
async function resolveTarget(options: WaitConvergedOptions, keyPrefix: string): Promise<{ secretArn: string; versionId: string }> {
  const id = options.secretArn ?? options.secretId;
  if (!id) throw new FleetOptionsError('waitConverged needs secretArn or secretId');
  if (options.versionId !== undefined && isSecretsManagerArn(id)) return { secretArn: id, versionId: options.versionId };
  if (options.secretsClient) {
    const current = await describeCurrentVersion(options.secretsClient, id);
    return { secretArn: current.arn, versionId: options.versionId ?? current.versionId };
  }
  if (options.versionId === undefined) {
    throw new FleetOptionsError('waitConverged needs versionId, or a secretsClient to read AWSCURRENT with DescribeSecret');
  }
  const matches = [...(await readPublishedVersions(options.redis, keyPrefix)).keys()].filter((arn) => secretIdMatches(id, arn));
  if (matches.length !== 1) {
    throw new FleetOptionsError(
      matches.length === 0
        ? `no broadcast for "${id}" in the versions hash: pass its full ARN, or a secretsClient to look it up`
        : `"${id}" matches several secrets (${matches.join(', ')}): pass the full ARN`,
    );
  }
  return { secretArn: matches[0] as string, versionId: options.versionId };
}

/** The broadcast time of `versionId`, the origin of "stale for" (absent when it was not broadcast). */
async function publishedAt(redis: RedisClient, keyPrefix: string, secretArn: string, versionId: string): Promise<{ since?: number }> {
  const entry = await readPublishedVersion(redis, keyPrefix, secretArn).catch(() => undefined);
  const at = entry?.versionId === versionId ? Date.parse(entry.publishedAt) : Number.NaN;
  return Number.isFinite(at) ? { since: at } : {};
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
