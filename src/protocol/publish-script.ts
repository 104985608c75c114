import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { PublishError, VersionsReadError } from './errors.js';
import { assertInvalidation, parseInvalidation, serializeInvalidation, type Invalidation } from './invalidation.js';
import { protocolKeys } from './keys.js';

/** A standalone or cluster ioredis client; both route the script by its (single-slot) keys. */
export type RedisClient = Redis | Cluster;

/** How long an event id is remembered: one day outlives SQS redeliveries of any sane queue. */
export const DEFAULT_DEDUPE_TTL_SECONDS = 86_400;

/**
 * Dedupe + compare-and-set + publish, atomically (a Lua script runs without interleaving).
 *
 * Reads and checks come first, writes last. Redis does not roll back a script that fails
 * midway, but once a script has written it is no longer refused further writes (not even when
 * out of memory), so a run that got past its checks writes everything, and one that fails —
 * wrong key type, bad TTL, OOM or READONLY on the first write — writes nothing.
 *
 * KEYS[1] = {P}:event:<eventId>, KEYS[2] = {P}:versions
 * ARGV[1] = dedupe TTL (s), ARGV[2] = secret ARN, ARGV[3] = versionId ('' = none),
 * ARGV[4] = '1' to force, ARGV[5] = message JSON, ARGV[6] = channel (not a key: PUBLISH
 * channels are outside the keyspace, so declaring it would only confuse Cluster routing).
 */
export const PUBLISH_SCRIPT = `
local ttl = tonumber(ARGV[1])
if not ttl or ttl < 1 or ttl % 1 ~= 0 then
  return redis.error_reply('ERR rotation-relay publish: dedupe TTL must be a positive integer')
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {'duplicate-event'}
end
local stored = redis.call('HGET', KEYS[2], ARGV[2])
local storedVersion = false
if stored then
  -- A corrupt entry must not block publishing: it counts as "different" and gets overwritten.
  local ok, decoded = pcall(cjson.decode, stored)
  if ok and type(decoded) == 'table' and type(decoded.versionId) == 'string' then
    storedVersion = decoded.versionId
  end
end
redis.call('SET', KEYS[1], '1', 'NX', 'EX', ttl)
-- Without a versionId nothing can be compared: publish (a spare refresh beats a missed one).
if ARGV[4] ~= '1' and ARGV[3] ~= '' and storedVersion == ARGV[3] then
  return {'unchanged-version', storedVersion}
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[5])
return {'published', redis.call('PUBLISH', ARGV[6], ARGV[5])}
`;

const PUBLISH_SCRIPT_SHA = createHash('sha1').update(PUBLISH_SCRIPT).digest('hex');

export interface PublishOptions {
  /** Seconds the event id is remembered. @defaultValue {@link DEFAULT_DEDUPE_TTL_SECONDS} */
  dedupeTtlSeconds?: number;
  /** Publish even when `{P}:versions` already holds this version (a manual fleet-wide refresh). @defaultValue `false` */
  force?: boolean;
}

export type PublishOutcome =
  /** Stored and broadcast; `receivers` is PUBLISH's count (on Cluster: subscribers of the node that ran it). */
  | { outcome: 'published'; receivers: number }
  /** This event id was seen within the TTL: nothing written. */
  | { outcome: 'duplicate-event' }
  /** The stored version equals this one: only the event id was remembered. */
  | { outcome: 'unchanged-version'; publishedVersionId?: string };

/**
 * Publishes `invalidation` (already signed when signing is on: the stored and published JSON is
 * exactly `serializeInvalidation(invalidation)`, so it carries the signed fields byte for byte).
 * Throws {@link InvalidInvalidationError} for an invalid invalidation and {@link PublishError}
 * when Redis fails; in both cases nothing was written.
 */
export async function publishInvalidation(
  redis: RedisClient,
  prefix: string,
  invalidation: Invalidation,
  options: PublishOptions = {},
): Promise<PublishOutcome> {
  const keys = protocolKeys(prefix);
  const valid = assertInvalidation(invalidation);
  const ttl = options.dedupeTtlSeconds ?? DEFAULT_DEDUPE_TTL_SECONDS;
  if (!Number.isSafeInteger(ttl) || ttl < 1) {
    throw new PublishError('dedupeTtlSeconds must be a positive whole number of seconds');
  }
  const message = serializeInvalidation(valid);
  const args = [keys.event(valid.eventId), keys.versions, String(ttl), valid.secretArn, valid.versionId ?? '', options.force ? '1' : '0', message, keys.channel];

  let reply: unknown;
  try {
    reply = await runScript(redis, args);
  } catch (error) {
    throw new PublishError(`publishing the invalidation for ${valid.secretArn} failed: ${errorMessage(error)}`, { cause: error });
  }
  return toOutcome(reply);
}

/**
 * The last published invalidation per secret ARN. Entries that do not parse, or whose
 * `secretArn` differs from their field, are skipped and reported to `onCorruptEntry`.
 */
export async function readPublishedVersions(
  redis: RedisClient,
  prefix: string,
  options: { onCorruptEntry?: (field: string, reason: string) => void } = {},
): Promise<Map<string, Invalidation>> {
  const keys = protocolKeys(prefix);
  let entries: Record<string, string>;
  try {
    entries = await redis.hgetall(keys.versions);
  } catch (error) {
    throw new VersionsReadError(`reading ${keys.versions} failed: ${errorMessage(error)}`, { cause: error });
  }
  const versions = new Map<string, Invalidation>();
  for (const [field, raw] of Object.entries(entries)) {
    const parsed = parseEntry(field, raw);
    if (parsed.ok) versions.set(field, parsed.invalidation);
    else options.onCorruptEntry?.(field, parsed.reason);
  }
  return versions;
}

/**
 * The last published invalidation for one secret ARN; undefined when none was published or the
 * entry is corrupt (the worker then publishes, which overwrites it).
 */
export async function readPublishedVersion(redis: RedisClient, prefix: string, secretArn: string): Promise<Invalidation | undefined> {
  const keys = protocolKeys(prefix);
  let raw: string | null;
  try {
    raw = await redis.hget(keys.versions, secretArn);
  } catch (error) {
    throw new VersionsReadError(`reading ${keys.versions} for ${secretArn} failed: ${errorMessage(error)}`, { cause: error });
  }
  if (raw === null) return undefined;
  const parsed = parseEntry(secretArn, raw);
  return parsed.ok ? parsed.invalidation : undefined;
}

// EVALSHA first (only the 40-byte hash travels); on NOSCRIPT — a restarted or flushed server, or
// a Cluster node that never saw it — EVAL sends the body once, which also caches it again.
async function runScript(redis: RedisClient, args: string[]): Promise<unknown> {
  try {
    return await redis.evalsha(PUBLISH_SCRIPT_SHA, 2, ...args);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return await redis.eval(PUBLISH_SCRIPT, 2, ...args);
  }
}

function toOutcome(reply: unknown): PublishOutcome {
  if (Array.isArray(reply)) {
    const [outcome, detail] = reply as unknown[];
    if (outcome === 'duplicate-event') return { outcome };
    if (outcome === 'published' && typeof detail === 'number') return { outcome, receivers: detail };
    if (outcome === 'unchanged-version') {
      return typeof detail === 'string' ? { outcome, publishedVersionId: detail } : { outcome };
    }
  }
  throw new PublishError('the publish script returned an unexpected reply');
}

function parseEntry(field: string, raw: string): { ok: true; invalidation: Invalidation } | { ok: false; reason: string } {
  const parsed = parseInvalidation(raw);
  if (!parsed.ok) return parsed;
  if (parsed.invalidation.secretArn !== field) return { ok: false, reason: 'secretArn differs from the hash field' };
  return parsed;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
