import { parseArgs } from 'node:util';
import { loadAwsConfig } from '../../config/index.js';
import { readFleetStatus, type FleetStatus, type SecretFleetStatus } from '../../fleet/index.js';
import { createSecretsClient, describeCurrentVersion } from '../../secrets/index.js';
import { EXIT } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { formatTable } from '../table.js';
import { formatDuration, openRedis, shortTime } from './fleet-common.js';

export const statusHelp = `Usage: rotation-relay status [--json] [--aws]

Show every secret's last broadcast version, read from the versions hash in Redis (secret name,
version, when it was published and why), and — once app instances report their presence — how
many live instances use it, how many hold that version, which ones are stale and for how long,
and which instances stopped heartbeating (presence expired within the last hour). Secret values
are never stored in Redis.

Options:
  --aws       also read each secret's AWSCURRENT with DescribeSecret and measure staleness against
              it instead of the last broadcast (needs AWS configuration and
              secretsmanager:DescribeSecret); without it, status reads only Redis
  --json      one JSON document instead of tables
  -h, --help  show this help`;

export async function status(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean', default: false }, aws: { type: 'boolean', default: false } } });
  const aws = values.aws ? loadAwsConfig(io.env) : undefined;
  const { redis, config } = await openRedis(io.env);
  const secrets = aws ? createSecretsClient(aws) : undefined;
  const awsErrors: string[] = [];
  try {
    const fleet = await readFleetStatus(redis, config.keyPrefix, {
      ...(secrets
        ? {
            awsCurrent: async (arn: string) => {
              try {
                return (await describeCurrentVersion(secrets, arn)).versionId;
              } catch (error) {
                awsErrors.push(`${arn}: ${error instanceof Error ? error.message : String(error)}`);
                return undefined;
              }
            },
          }
        : {}),
    });
    for (const line of awsErrors) io.err(`rotation-relay status: DescribeSecret failed for ${line}`);
    if (values.json) io.out(JSON.stringify(toJson(fleet)));
    else io.out(render(fleet, values.aws));
    return EXIT.ok;
  } finally {
    secrets?.destroy();
    redis.disconnect();
  }
}

function render(status: FleetStatus, aws: boolean): string {
  const { fleet } = status;
  const published = status.secrets.filter((s) => s.published);
  if (fleet.live.length === 0 && fleet.stopped.length === 0) {
    // No app instance reports its presence: the table this command always printed.
    if (published.length === 0) return 'no invalidation published yet';
    return formatTable(
      ['SECRET', 'VERSION', ...(aws ? ['AWSCURRENT'] : []), 'PUBLISHED', 'REASON'],
      published.map((s) => [s.secretName, s.published?.versionId ?? '-', ...(aws ? [s.awsCurrentVersionId ?? '?'] : []), s.published?.publishedAt ?? '-', s.published?.reason ?? '-']),
    );
  }
  const blocks: string[] = [];
  blocks.push(
    `${fleet.live.length} live instance${fleet.live.length === 1 ? '' : 's'}, ${fleet.stopped.length} stopped heartbeating` +
      (aws ? '; staleness measured against AWSCURRENT' : '; staleness measured against the last broadcast'),
  );
  blocks.push(
    formatTable(
      ['SECRET', 'VERSION', ...(aws ? ['AWSCURRENT'] : []), 'PUBLISHED', 'INSTANCES', 'ON VERSION', 'STALE'],
      status.secrets.map((s) => [
        s.secretName,
        s.published?.versionId ?? '-',
        ...(aws ? [s.awsCurrentVersionId ?? '?'] : []),
        s.published ? shortTime(Date.parse(s.published.publishedAt)) : '-',
        String(Object.values(s.versions).reduce((a, b) => a + b, 0)),
        s.convergence ? String(s.convergence.holders.length) : '-',
        s.convergence ? String(s.convergence.stale.length) : '-',
      ]),
    ),
  );
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

function toJson(status: FleetStatus): unknown {
  return {
    readAt: new Date(status.readAt).toISOString(),
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
