import { createHash } from 'node:crypto';
import { PublishError, VersionsReadError } from './errors.js';
import { assertInvalidation, parseInvalidation, serializeInvalidation, type Invalidation } from './invalidation.js';
import { protocolKeys } from './keys.js';
import type { RedisClient } from '../common/index.js';

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
 * KEYS[1] = {P}:event:<eventId>, KEYS[2] = {P}:versions, KEYS[3] = {P}:versions-as-of
 * ARGV[1] = dedupe TTL (s), ARGV[2] = secret ARN, ARGV[3] = versionId ('' = none),
 * ARGV[4] = '1' to force, ARGV[5] = message JSON, ARGV[6] = channel (not a key: PUBLISH
 * channels are outside the keyspace, so declaring it would only confuse Cluster routing),
 * ARGV[7] = mode: 'read' (the version was confirmed by a DescribeSecret read), 'event' (fast
 * publish: an event says this version became AWSCURRENT at ARGV[8]) or '' (no basis: the CLI),
 * ARGV[8] = time of that read or event (ms since the epoch, '' = unknown), ARGV[9] = margin (ms,
 * mode 'event'), ARGV[10] = id of this invalidation, ARGV[11..] = versions the read showed as
 * superseded (AWSPREVIOUS or no label).
 *
 * `{P}:versions-as-of` (field = secret ARN) holds `{"id","asOf","old"}` for the entry in
 * `{P}:versions` whose `id` it names: the latest time that version is known to be AWSCURRENT,
 * and versions known to be older than it. An event-id key holds '1' once an event is handled and
 * 'fast' while a fast publish still awaits its DescribeSecret confirmation (a redelivery then
 * confirms instead of counting as a duplicate). See docs/protocol.md, "Fast publish".
 */
export const PUBLISH_SCRIPT = `
local ttl = tonumber(ARGV[1])
if not ttl or ttl < 1 or ttl % 1 ~= 0 then
  return redis.error_reply('ERR rotation-relay publish: dedupe TTL must be a positive integer')
end
local mode = ARGV[7]
local marker = redis.call('GET', KEYS[1])
if marker then
  if marker ~= 'fast' then
    return {'duplicate-event'}
  end
  if mode == 'event' then
    return {'confirm-pending'}
  end
end
local stored = redis.call('HGET', KEYS[2], ARGV[2])
local storedVersion = false
local storedId = false
if stored then
  -- A corrupt entry must not block publishing: it counts as "different" and gets overwritten.
  local ok, decoded = pcall(cjson.decode, stored)
  if ok and type(decoded) == 'table' then
    if type(decoded.versionId) == 'string' then storedVersion = decoded.versionId end
    if type(decoded.id) == 'string' then storedId = decoded.id end
  end
end
local asOf = false
local old = {}
local record = redis.call('HGET', KEYS[3], ARGV[2])
if record and storedId then
  local ok, decoded = pcall(cjson.decode, record)
  if ok and type(decoded) == 'table' and decoded.id == storedId then
    if type(decoded.asOf) == 'number' then asOf = decoded.asOf end
    if type(decoded.old) == 'table' then
      for _, v in ipairs(decoded.old) do
        if type(v) == 'string' then old[#old + 1] = v end
      end
    end
  end
end
local at = tonumber(ARGV[8])
local version = ARGV[3]

-- old versions: add, without duplicates and never the current one; keep the newest 16
local function withOld(list, extra, current)
  local out = {}
  local seen = {}
  local all = {}
  for _, v in ipairs(list) do all[#all + 1] = v end
  for _, v in ipairs(extra) do all[#all + 1] = v end
  for i = #all, 1, -1 do
    local v = all[i]
    if v ~= current and v ~= '' and not seen[v] and #out < 16 then
      seen[v] = true
      table.insert(out, 1, v)
    end
  end
  return out
end
local superseded = {}
for i = 11, #ARGV do superseded[#superseded + 1] = ARGV[i] end

if mode == 'event' then
  if storedVersion == version then
    return {'unchanged-version', storedVersion}
  end
  for _, v in ipairs(old) do
    if v == version then return {'not-newer', 'known'} end
  end
  -- Newer than what is known, by a margin; an entry with no known time never is.
  if stored and (not asOf or not at or at <= asOf + tonumber(ARGV[9])) then
    return {'not-newer', 'older'}
  end
  redis.call('SET', KEYS[1], 'fast', 'EX', ttl)
else
  redis.call('SET', KEYS[1], '1', 'EX', ttl)
  -- Without a versionId nothing can be compared: publish (a spare refresh beats a missed one).
  if ARGV[4] ~= '1' and version ~= '' and storedVersion == version then
    if mode == 'read' and at and storedId then
      local known = asOf
      if not known or at > known then known = at end
      redis.call('HSET', KEYS[3], ARGV[2], cjson.encode({id = storedId, asOf = known, old = withOld(old, superseded, version)}))
    end
    return {'unchanged-version', storedVersion}
  end
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[5])
if at and mode ~= '' then
  local replaced = {}
  if storedVersion then replaced[1] = storedVersion end
  redis.call('HSET', KEYS[3], ARGV[2], cjson.encode({id = ARGV[10], asOf = at, old = withOld(withOld(old, superseded, version), replaced, version)}))
end
local receivers = redis.call('PUBLISH', ARGV[6], ARGV[5])
if storedVersion then
  return {'published', receivers, storedVersion}
end
return {'published', receivers}
`;

const PUBLISH_SCRIPT_SHA = createHash('sha1').update(PUBLISH_SCRIPT).digest('hex');

export interface PublishOptions {
  /** Seconds the event id is remembered. @defaultValue {@link DEFAULT_DEDUPE_TTL_SECONDS} */
  dedupeTtlSeconds?: number;
  /** Publish even when `{P}:versions` already holds this version (a manual fleet-wide refresh). @defaultValue `false` */
  force?: boolean;
  /**
   * The DescribeSecret read that confirmed this version (the worker): recorded in
   * `{P}:versions-as-of` so a later event can be published at once only when it is newer.
   * Without it (a manual publish) no such record is written, and the next event for the secret
   * waits for its own DescribeSecret.
   */
  confirmedBy?: ConfirmingRead;
}

/** What a DescribeSecret read knew, for the fast-publish bookkeeping. */
export interface ConfirmingRead {
  /** When the read was started (ms since the epoch, the worker's clock). */
  startedAt: number;
  /** Versions the read showed as AWSPREVIOUS or without a label: older than the current one. */
  supersededVersionIds?: readonly string[];
}

export interface FastPublishOptions {
  /** Seconds the event id is remembered. @defaultValue {@link DEFAULT_DEDUPE_TTL_SECONDS} */
  dedupeTtlSeconds?: number;
  /** When the event says the version became AWSCURRENT (ms since the epoch, AWS's clock). */
  eventTime: number;
  /** How much newer than what is known about the secret the event must be (ms). */
  marginMs: number;
}

export type FastPublishOutcome =
  /** Stored and broadcast before any DescribeSecret; `previousVersionId` is what it replaced. */
  | { outcome: 'published'; receivers: number; previousVersionId?: string }
  /** This event id was fully handled within the TTL: nothing written. */
  | { outcome: 'duplicate-event' }
  /** This event was published at once before and its confirmation never finished (a redelivery): confirm it. */
  | { outcome: 'confirm-pending' }
  /** `{P}:versions` already holds this version: nothing written; confirm as usual. */
  | { outcome: 'unchanged-version'; publishedVersionId?: string }
  /**
   * Not provably newer than what is known about the secret (an older or too close event time, a
   * version known to be older, an entry with no known time): nothing written; confirm as usual.
   */
  | { outcome: 'not-newer'; why: 'older' | 'known' };

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
  const read = options.confirmedBy;
  const basis = read && Number.isFinite(read.startedAt) ? ['read', String(Math.round(read.startedAt)), '0'] : ['', '', '0'];
  const args = [
    keys.event(valid.eventId), keys.versions, keys.versionsAsOf,
    String(ttl), valid.secretArn, valid.versionId ?? '', options.force ? '1' : '0', serializeInvalidation(valid), keys.channel,
    ...basis, valid.id, ...(read?.supersededVersionIds ?? []),
  ];
  const reply = await run(redis, args, valid.secretArn);
  return toOutcome(reply);
}

/**
 * The fast path: publishes `invalidation` (which must name a `versionId`) at once when the event
 * that says this version became AWSCURRENT at `eventTime` is provably newer than everything
 * `{P}:versions-as-of` knows about the secret, and the version is not one known to be older.
 * Marks the event id as awaiting confirmation: the caller must still confirm with DescribeSecret
 * and then call {@link publishInvalidation} with the confirmed version (same event id), which
 * publishes a correction if it differs. Throws like {@link publishInvalidation}.
 */
export async function publishIfNewer(redis: RedisClient, prefix: string, invalidation: Invalidation, options: FastPublishOptions): Promise<FastPublishOutcome> {
  const keys = protocolKeys(prefix);
  const valid = assertInvalidation(invalidation);
  const ttl = options.dedupeTtlSeconds ?? DEFAULT_DEDUPE_TTL_SECONDS;
  if (!Number.isSafeInteger(ttl) || ttl < 1) {
    throw new PublishError('dedupeTtlSeconds must be a positive whole number of seconds');
  }
  if (valid.versionId === undefined) throw new PublishError('a fast publish needs the versionId the event names');
  if (!Number.isFinite(options.eventTime) || !Number.isSafeInteger(options.marginMs) || options.marginMs < 0) {
    throw new PublishError('a fast publish needs a finite eventTime and a whole, non-negative marginMs');
  }
  const args = [
    keys.event(valid.eventId), keys.versions, keys.versionsAsOf,
    String(ttl), valid.secretArn, valid.versionId, '0', serializeInvalidation(valid), keys.channel,
    'event', String(Math.round(options.eventTime)), String(options.marginMs), valid.id,
  ];
  const reply = await run(redis, args, valid.secretArn);
  if (Array.isArray(reply)) {
    const [outcome, detail] = reply as unknown[];
    if (outcome === 'confirm-pending') return { outcome };
    if (outcome === 'not-newer' && (detail === 'older' || detail === 'known')) return { outcome, why: detail };
    const previous = (reply as unknown[])[2];
    if (outcome === 'published' && typeof detail === 'number' && typeof previous === 'string') {
      return { outcome, receivers: detail, previousVersionId: previous };
    }
  }
  return toOutcome(reply);
}

async function run(redis: RedisClient, args: string[], secretArn: string): Promise<unknown> {
  try {
    return await runScript(redis, args);
  } catch (error) {
    throw new PublishError(`publishing the invalidation for ${secretArn} failed: ${errorMessage(error)}`, { cause: error });
  }
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
    return await redis.evalsha(PUBLISH_SCRIPT_SHA, 3, ...args);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return await redis.eval(PUBLISH_SCRIPT, 3, ...args);
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
