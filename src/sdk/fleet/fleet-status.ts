import { isSecretsManagerArn, secretIdMatches, secretNameFromId } from '../../secrets/index.js';
import { readPublishedVersions, type Invalidation } from '../../protocol/index.js';
import { accountSubscribers, type ChannelReading, type SubscriberAccount } from './channel-subscribers.js';
import { ackFor, convergenceOf, type SecretConvergence } from './convergence.js';
import { FleetReadError } from './errors.js';
import { readChannel } from './read-channel.js';
import { readFleet, type FleetSnapshot, type ReadFleetOptions } from './read-fleet.js';
import { readTimeline } from './timeline.js';
import type { RedisClient } from '../../common/index.js';

/** One secret as `rotation-relay status` shows it. */
export interface SecretFleetStatus {
  secretArn: string;
  secretName: string;
  /** The last broadcast for it (`{P}:versions`), if any. */
  published?: Invalidation;
  /** AWSCURRENT as DescribeSecret reported it, when asked for. */
  awsCurrentVersionId?: string;
  /** The version convergence is measured against: AWSCURRENT when known, else the last broadcast's. */
  targetVersionId?: string;
  /** Live instances that ack this secret, per version they hold. */
  versions: Record<string, number>;
  /** Against `targetVersionId`; absent when there is no target. */
  convergence?: SecretConvergence;
  /**
   * The worker's last PUBLISH for it (its timeline): when, and the receiver count PUBLISH
   * returned — on Redis Cluster only the subscribers of the node that ran it. With `timeline`.
   */
  lastPublish?: { at: number; versionId?: string; receivers: number };
}

export interface FleetStatus {
  readAt: number;
  secrets: SecretFleetStatus[];
  fleet: FleetSnapshot;
  /** The channel's subscribers cross-checked against presence; with `channel`. */
  subscribers?: SubscriberAccount;
}

export interface ReadFleetStatusOptions extends ReadFleetOptions {
  /** AWSCURRENT per secret ARN (DescribeSecret); omit to measure against the last broadcast. */
  awsCurrent?: (secretArn: string) => Promise<string | undefined>;
  /** Also count the channel's subscribers (PUBSUB NUMSUB, CLIENT LIST on every node). @defaultValue false */
  channel?: boolean;
  /** Also read each secret's last PUBLISH receiver count from the worker's timeline (one LRANGE per secret). @defaultValue false */
  timeline?: boolean;
}

/**
 * Every secret known to the versions hash or acked by a live instance, with how many live
 * instances hold which version and who is stale. Secrets an instance acks only by name (it has
 * not reached Secrets Manager) are attached to the matching ARN when there is one.
 */
export async function readFleetStatus(redis: RedisClient, keyPrefix: string, options: ReadFleetStatusOptions = {}): Promise<FleetStatus> {
  let published: Map<string, Invalidation>;
  try {
    published = await readPublishedVersions(redis, keyPrefix);
  } catch (error) {
    throw new FleetReadError(error instanceof Error ? error.message : String(error), { cause: error });
  }
  // The channel before presence: a subscriber that joins in between is then seen in both.
  const channel = options.channel ? await readChannel(redis, keyPrefix) : undefined;
  const fleet = await readFleet(redis, keyPrefix, options);
  const status = fleetStatusOf(fleet, published, options.awsCurrent ? await readAwsCurrent(published, fleet, options.awsCurrent) : undefined, channel);
  if (options.timeline) await addLastPublish(redis, keyPrefix, status);
  return status;
}

/** The pure part of {@link readFleetStatus}. */
export function fleetStatusOf(
  fleet: FleetSnapshot,
  published: ReadonlyMap<string, Invalidation>,
  awsCurrent?: ReadonlyMap<string, string>,
  channel?: ChannelReading,
): FleetStatus {
  const secrets: SecretFleetStatus[] = [];
  for (const secretArn of secretIdsOf(fleet, published)) {
    const entry = published.get(secretArn);
    const aws = awsCurrent?.get(secretArn);
    const target = aws ?? entry?.versionId;
    const versions: Record<string, number> = {};
    for (const instance of fleet.live) {
      const ack = ackFor(instance, secretArn);
      if (ack) versions[ack.versionId] = (versions[ack.versionId] ?? 0) + 1;
    }
    const publishedAt = entry ? Date.parse(entry.publishedAt) : Number.NaN;
    const status: SecretFleetStatus = {
      secretArn,
      secretName: entry?.secretName ?? secretNameFromId(secretArn) ?? secretArn,
      versions,
      ...(entry ? { published: entry } : {}),
      ...(aws !== undefined ? { awsCurrentVersionId: aws } : {}),
      ...(target !== undefined ? { targetVersionId: target } : {}),
    };
    if (target !== undefined) {
      const since = entry?.versionId === target && Number.isFinite(publishedAt) ? publishedAt : undefined;
      status.convergence = convergenceOf(fleet, { secretArn, versionId: target, ...(since !== undefined ? { since } : {}) });
    }
    secrets.push(status);
  }
  secrets.sort((a, b) => a.secretName.localeCompare(b.secretName) || a.secretArn.localeCompare(b.secretArn));
  return { readAt: fleet.readAt, secrets, fleet, ...(channel ? { subscribers: accountSubscribers(channel, fleet) } : {}) };
}

/** Distinct live instances on another version than the last broadcast for longer than `graceMs`. */
export function staleInstanceIds(status: FleetStatus, graceMs: number): Set<string> {
  const ids = new Set<string>();
  for (const secret of status.secrets) {
    for (const stale of secret.convergence?.stale ?? []) {
      if (stale.staleForMs !== undefined && stale.staleForMs > graceMs) ids.add(stale.instanceId);
    }
  }
  return ids;
}

/** Versions-hash ARNs, plus secrets acked by full ARN, plus names/partial ARNs that match none of them. */
function secretIdsOf(fleet: FleetSnapshot, published: ReadonlyMap<string, Invalidation>): string[] {
  const ids = new Set(published.keys());
  const loose = new Set<string>();
  for (const instance of fleet.live) {
    for (const ack of instance.acks) {
      if (isSecretsManagerArn(ack.secret)) ids.add(ack.secret);
      else loose.add(ack.secret);
    }
  }
  for (const id of loose) if (![...ids].some((arn) => secretIdMatches(id, arn))) ids.add(id);
  return [...ids];
}

async function readAwsCurrent(
  published: ReadonlyMap<string, Invalidation>,
  fleet: FleetSnapshot,
  describe: (secretArn: string) => Promise<string | undefined>,
): Promise<Map<string, string>> {
  const arns = secretIdsOf(fleet, published).filter((id) => isSecretsManagerArn(id));
  const entries = await Promise.all(arns.map(async (arn) => [arn, await describe(arn)] as const));
  return new Map(entries.filter((entry): entry is readonly [string, string] => entry[1] !== undefined));
}

/** The last `published` entry of each secret's timeline, where the worker recorded its receivers. */
async function addLastPublish(redis: RedisClient, keyPrefix: string, status: FleetStatus): Promise<void> {
  await Promise.all(
    status.secrets
      .filter((secret) => isSecretsManagerArn(secret.secretArn))
      .map(async (secret) => {
        const entries = await readTimeline(redis, keyPrefix, secret.secretArn).catch(() => []);
        const last = entries.filter((entry) => entry.outcome === 'published' && typeof entry.receivers === 'number').at(-1);
        if (last?.receivers !== undefined) {
          secret.lastPublish = { at: last.handledAt, receivers: last.receivers, ...(last.versionId !== undefined ? { versionId: last.versionId } : {}) };
        }
      }),
  );
}
