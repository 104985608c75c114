import { InvalidKeyPrefixError } from './errors.js';

/** Prefix `P` of every key and channel when none is configured. */
export const DEFAULT_KEY_PREFIX = 'rotation-relay';

/** The Redis names of the protocol for one prefix. */
export interface ProtocolKeys {
  /** The prefix as given (`rotation-relay`). */
  readonly prefix: string;
  /**
   * The hash tag every key starts with (`{rotation-relay}`). Redis Cluster hashes only the part
   * inside the first `{…}`, so all keys land in one slot and one Lua script may touch them all.
   * Keys added later (presence, acks for fleet convergence) must start with this tag too.
   */
  readonly tag: string;
  /** Pub/sub channel carrying `Invalidation` JSON messages. */
  readonly channel: string;
  /** Hash: field = secret ARN, value = JSON of the last published `Invalidation` for it. */
  readonly versions: string;
  /**
   * Hash: field = secret ARN, value = `{"id","asOf","old"}` about the `{P}:versions` entry with that
   * `id`: when its version is last known to be AWSCURRENT and which versions are older (worker
   * only; subscribers never read it). See docs/protocol.md, "Fast publish".
   */
  readonly versionsAsOf: string;
  /** Exact-duplicate guard for one EventBridge event id (`SET NX EX`). */
  event(eventId: string): string;
  /**
   * Fleet presence: sorted set, member = instance id, score = time of its last heartbeat (ms since
   * the epoch, the instance's clock). Members stay after they stop heartbeating, for a retention
   * period, so readers can list instances that stopped (see docs/protocol.md, "Presence").
   */
  readonly instances: string;
  /**
   * Hash of one live instance: its metadata and, per secret, the version it holds
   * (`secretArn → versionId@ackedAtMs`). Expires (PEXPIRE = the instance's TTL) unless refreshed.
   */
  instance(instanceId: string): string;
  /** List of what the worker did with the events about one secret (newest last, capped, expiring). */
  timeline(secretArn: string): string;
}

/**
 * Builds the key names for `prefix`. Throws {@link InvalidKeyPrefixError} for a prefix that
 * would break the hash tag (braces), is empty, or holds whitespace (a channel name a shell or a
 * config file would mangle; the config module refuses it too).
 */
export function protocolKeys(prefix: string = DEFAULT_KEY_PREFIX): ProtocolKeys {
  assertKeyPrefix(prefix);
  const tag = `{${prefix}}`;
  return {
    prefix,
    tag,
    channel: `${tag}:invalidations`,
    versions: `${tag}:versions`,
    versionsAsOf: `${tag}:versions-as-of`,
    event: (eventId: string) => `${tag}:event:${eventId}`,
    instances: `${tag}:instances`,
    instance: (instanceId: string) => `${tag}:instance:${instanceId}`,
    timeline: (secretArn: string) => `${tag}:timeline:${secretArn}`,
  };
}

function assertKeyPrefix(prefix: string): void {
  const name = 'Redis key prefix (ROTATION_RELAY_KEY_PREFIX)';
  if (typeof prefix !== 'string' || prefix.length === 0) {
    throw new InvalidKeyPrefixError(`${name} must be a non-empty string`);
  }
  // The prefix itself is not secret, so naming it helps whoever has to fix the configuration.
  if (/[{}]/.test(prefix)) {
    throw new InvalidKeyPrefixError(`${name} "${prefix}" must not contain "{" or "}": it is wrapped in a hash tag`);
  }
  if (/\s/.test(prefix)) {
    throw new InvalidKeyPrefixError(`${name} "${prefix}" must not contain whitespace`);
  }
}
