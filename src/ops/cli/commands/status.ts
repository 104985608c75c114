import { describeError } from '../../../common/index.js';
import { parseArgs } from 'node:util';
import { Cluster } from 'ioredis';
import { loadAwsConfig } from '../../../config/index.js';
import { readFleetStatus, UNACCOUNTED_CAUSES, type FleetStatus, type SecretFleetStatus, type SubscriberAccount } from '../../../sdk/fleet/index.js';
import { describeCurrentVersion, SecretsManagerUnavailableError } from '../../../secrets/index.js';
import { CLI_AWS_HELP, cliSecretsClient } from '../aws-clients.js';
import { EXIT } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { formatTable } from '../table.js';
import { atRedisTarget, channelLine, formatDuration, openRedis, shortTime, subscribersJson, unaccountedTable } from './fleet-common.js';

export const statusHelp = `Usage: rotation-relay status [--json] [--aws]

Show every secret's last broadcast version, read from the versions hash in Redis (secret name,
version, when it was published and why), and — once app instances report their presence — how
many live instances use it, how many hold that version, which ones are stale and for how long,
and which instances stopped heartbeating (presence expired within the last hour). Secret values
are never stored in Redis.

It also cross-checks presence against what Redis itself knows: "N subscribers on the channel, M
report presence", where N is PUBSUB NUMSUB of the invalidation channel summed over every node (a
cluster's masters and replicas). A subscriber that reports no presence is unaccounted for; where
the ACL allows CLIENT LIST, status names it (an SDK subscriber's connection is called
rotation-relay:listener:<instance id>) and leaves out "rotation-relay listen" sessions; without
CLIENT LIST those count as unaccounted. REACHED is the receiver count of the worker's last
PUBLISH of the secret (on a cluster: the subscribers of the node that ran it). The state is shown
as read: an instance that subscribed a moment before its first presence write shows as a gap.

Options:
  --aws       also read each secret's AWSCURRENT with DescribeSecret and measure staleness against
              it instead of the last broadcast (needs AWS configuration and
              secretsmanager:DescribeSecret); without it, status reads only Redis.
              When Secrets Manager cannot be reached, the tables are printed with
              AWSCURRENT "?", and status exits 1
  --json      one JSON document instead of tables
  -h, --help  show this help

Redis gets 10 s to be ready. ${CLI_AWS_HELP}`;

export async function status(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean', default: false }, aws: { type: 'boolean', default: false } } });
  const aws = values.aws ? loadAwsConfig(io.env) : undefined;
  const { redis, config } = await openRedis(io.env);
  const secrets = aws ? cliSecretsClient(aws) : undefined;
  const awsErrors: string[] = [];
  // Secrets Manager unreachable (or timing out) fails every secret alike: ask once, not once per
  // secret, so the bound of one call is the bound of the command.
  let unavailable: SecretsManagerUnavailableError | undefined;
  try {
    const reading = readFleetStatus(redis, config.keyPrefix, {
      channel: true,
      timeline: true,
      ...(secrets
        ? {
            awsCurrent: async (arn: string) => {
              if (unavailable) return undefined;
              try {
                return (await describeCurrentVersion(secrets, arn)).versionId;
              } catch (error) {
                if (error instanceof SecretsManagerUnavailableError) unavailable = error;
                else awsErrors.push(`${arn}: ${describeError(error)}`);
                return undefined;
              }
            },
          }
        : {}),
    });
    const fleet = await reading.catch((error: unknown) => {
      throw atRedisTarget(config, error);
    });
    for (const line of awsErrors) io.err(`rotation-relay status: DescribeSecret failed for ${line}`);
    if (values.json) io.out(JSON.stringify(toJson(fleet)));
    else io.out(render(fleet, values.aws, redis instanceof Cluster));
    // What Redis says is printed (AWSCURRENT "?"), but --aws was not done: a runtime failure,
    // reported as one line by the CLI with its cause.
    if (unavailable) throw unavailable;
    return EXIT.ok;
  } finally {
    secrets?.destroy();
    redis.disconnect();
  }
}

function render(status: FleetStatus, aws: boolean, cluster: boolean): string {
  const { fleet, subscribers } = status;
  const published = status.secrets.filter((s) => s.published);
  if (fleet.live.length === 0 && fleet.stopped.length === 0) {
    // No app instance reports its presence: the table this command always printed, after what
    // the channel says when someone listens there all the same (an ACL without presence rights).
    const channel = subscribers && (subscribers.subscribers > 0 || !subscribers.complete) ? channelBlocks(subscribers) : [];
    if (published.length === 0) return [...channel, 'no invalidation published yet'].join('\n\n');
    return [
      ...channel,
      formatTable(
        ['SECRET', 'VERSION', ...(aws ? ['AWSCURRENT'] : []), 'PUBLISHED', 'REASON'],
        published.map((s) => [s.secretName, s.published?.versionId ?? '-', ...(aws ? [s.awsCurrentVersionId ?? '?'] : []), s.published?.publishedAt ?? '-', s.published?.reason ?? '-']),
      ),
    ].join('\n\n');
  }
  const blocks: string[] = [];
  const [channelSummary, ...channelDetails] = subscribers ? channelBlocks(subscribers) : [];
  blocks.push(
    `${fleet.live.length} live instance${fleet.live.length === 1 ? '' : 's'}, ${fleet.stopped.length} stopped heartbeating` +
      (aws ? '; staleness measured against AWSCURRENT' : '; staleness measured against the last broadcast') +
      (channelSummary !== undefined ? `\n${channelSummary}` : '') +
      (fleet.live.length > 0 ? `\n${sdkLine(fleet.live)}` : ''),
  );
  blocks.push(
    formatTable(
      ['SECRET', 'VERSION', ...(aws ? ['AWSCURRENT'] : []), 'PUBLISHED', 'INSTANCES', 'ON VERSION', 'STALE', 'REACHED'],
      status.secrets.map((s) => [
        s.secretName,
        s.published?.versionId ?? '-',
        ...(aws ? [s.awsCurrentVersionId ?? '?'] : []),
        s.published ? shortTime(Date.parse(s.published.publishedAt)) : '-',
        String(Object.values(s.versions).reduce((a, b) => a + b, 0)),
        s.convergence ? String(s.convergence.holders.length) : '-',
        s.convergence ? String(s.convergence.stale.length) : '-',
        s.lastPublish ? String(s.lastPublish.receivers) : '-',
      ]),
    ),
  );
  if (cluster && status.secrets.some((s) => s.lastPublish)) blocks.push('note: on Redis Cluster, REACHED counts only the subscribers of the node that ran the PUBLISH');
  const differs = status.secrets.filter((s) => s.awsCurrentVersionId !== undefined && s.published?.versionId !== undefined && s.awsCurrentVersionId !== s.published.versionId);
  for (const s of differs) {
    blocks.push(`note: AWSCURRENT of ${s.secretName} is not the last broadcast version: the worker has not (yet) relayed a change`);
  }
  const stale = status.secrets.flatMap((s) => (s.convergence?.stale ?? []).map((i) => ({ secret: s, instance: i })));
  if (stale.length > 0) {
    blocks.push(
      'Stale instances (live, holding another version):\n' +
        formatTable(
          ['SECRET', 'INSTANCE', 'HOLDS', 'STALE FOR', 'LAST SEEN'],
          stale.map(({ secret, instance }) => [
            secret.secretName,
            instance.instanceId,
            instance.versionId,
            instance.staleForMs !== undefined ? formatDuration(instance.staleForMs) : '?',
            `${formatDuration(status.readAt - instance.lastSeenAt)} ago`,
          ]),
        ),
    );
  }
  blocks.push(...channelDetails);
  if (fleet.stopped.length > 0) {
    blocks.push(
      'Stopped heartbeating (presence expired; they no longer count):\n' +
        formatTable(
          ['INSTANCE', 'LAST SEEN', 'AGO'],
          fleet.stopped.map((i) => [i.id, shortTime(i.lastSeenAt), formatDuration(status.readAt - i.lastSeenAt)]),
        ),
    );
  }
  return blocks.join('\n\n');
}

/**
 * The channel summary line, then (when there is something to say) the unaccounted connections and
 * the live instances whose subscriber connection is on no node.
 */
function channelBlocks(account: SubscriberAccount): string[] {
  const summary =
    channelLine(account) +
    (account.method === 'counts' ? ` [counts only: CLIENT LIST not allowed (${account.clientListError ?? 'failed'}), so nothing can be named and rotation-relay listen counts too]` : '');
  const blocks = [summary];
  if (!account.complete) blocks.push(`not counted (their subscribers are missing from the count): ${account.failedNodes.map((n) => `${n.node} (${n.error})`).join(', ')}`);
  if (account.unaccounted > 0) {
    blocks.push(
      account.candidates.length > 0
        ? `Subscribers that report no presence (${UNACCOUNTED_CAUSES}):\n${unaccountedTable(account)}`
        : `${account.unaccounted} subscriber${account.unaccounted === 1 ? '' : 's'} report no presence: ${UNACCOUNTED_CAUSES}`,
    );
  }
  if (account.reportingWithoutConnection.length > 0) {
    blocks.push(`Live instances with no subscriber connection on any node (crashed with presence not expired yet, or cut off from Redis): ${account.reportingWithoutConnection.join(', ')}`);
  }
  return blocks;
}

/** Which SDKs the live instances run ("rotation-relay/0.1.0 × 3, rotation-relay-python/0.1.0 × 1"): a Django process shows here. */
function sdkLine(live: FleetStatus['fleet']['live']): string {
  const bySdk = new Map<string, number>();
  for (const instance of live) bySdk.set(instance.sdk ?? 'unknown SDK', (bySdk.get(instance.sdk ?? 'unknown SDK') ?? 0) + 1);
  const sorted = [...bySdk].sort(([a, n], [b, m]) => m - n || a.localeCompare(b)); // most first: a stable line to read and to match
  return `by SDK: ${sorted.map(([sdk, n]) => `${sdk} × ${n}`).join(', ')}`;
}

function toJson(status: FleetStatus): unknown {
  return {
    readAt: new Date(status.readAt).toISOString(),
    ...(status.subscribers ? { subscribers: subscribersJson(status.subscribers) } : {}),
    secrets: status.secrets.map((s) => secretJson(s)),
    instances: {
      live: status.fleet.live.map((i) => ({
        id: i.id,
        ...(i.host !== undefined ? { host: i.host } : {}),
        ...(i.pid !== undefined ? { pid: i.pid } : {}),
        ...(i.sdk !== undefined ? { sdk: i.sdk } : {}),
        ...(i.runtime !== undefined ? { runtime: i.runtime } : {}),
        ...(i.startedAt !== undefined ? { startedAt: new Date(i.startedAt).toISOString() } : {}),
        ...(i.subscribed !== undefined ? { subscribed: i.subscribed } : {}),
        lastSeenAt: new Date(i.lastSeenAt).toISOString(),
        acks: i.acks.map((a) => ({ secret: a.secret, versionId: a.versionId, ackedAt: new Date(a.ackedAt).toISOString() })),
      })),
      stopped: status.fleet.stopped.map((i) => ({ id: i.id, lastSeenAt: new Date(i.lastSeenAt).toISOString(), agoMs: status.readAt - i.lastSeenAt })),
    },
  };
}

function secretJson(s: SecretFleetStatus): unknown {
  const c = s.convergence;
  return {
    // The fields this command printed before fleet presence existed, unchanged.
    secretName: s.secretName,
    secretArn: s.secretArn,
    versionId: s.published?.versionId ?? null,
    publishedAt: s.published?.publishedAt ?? null,
    reason: s.published?.reason ?? null,
    eventId: s.published?.eventId ?? null,
    ...(s.awsCurrentVersionId !== undefined ? { awsCurrentVersionId: s.awsCurrentVersionId } : {}),
    fleet: {
      targetVersionId: s.targetVersionId ?? null,
      instances: Object.values(s.versions).reduce((a, b) => a + b, 0),
      holding: c ? c.holders.length : null,
      versions: s.versions,
      ...(s.lastPublish ? { lastPublish: { at: new Date(s.lastPublish.at).toISOString(), receivers: s.lastPublish.receivers, ...(s.lastPublish.versionId !== undefined ? { versionId: s.lastPublish.versionId } : {}) } } : {}),
      stale: (c?.stale ?? []).map((i) => ({
        instanceId: i.instanceId,
        ...(i.host !== undefined ? { host: i.host } : {}),
        ...(i.pid !== undefined ? { pid: i.pid } : {}),
        versionId: i.versionId,
        ackedAt: new Date(i.ackedAt).toISOString(),
        ...(i.staleForMs !== undefined ? { staleForMs: i.staleForMs } : {}),
        lastSeenAt: new Date(i.lastSeenAt).toISOString(),
      })),
    },
  };
}
