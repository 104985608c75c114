import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { PutSecretValueCommand, RotateSecretCommand, UpdateSecretVersionStageCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { loadAwsConfig, SETTINGS, type AwsConfig } from '../../../config/index.js';
import { parseSecretArn, classifySecretsManagerError, describeCurrentVersion, getSecretValue, type CurrentVersion } from '../../../secrets/index.js';
import { convergenceOf, readFleet, readTimeline, type SecretConvergence } from '../../../sdk/fleet/index.js';
import { readPublishedVersion } from '../../../protocol/index.js';
import { RotationRelayError, type RedisClient } from '../../../common/index.js';
import { CLI_AWS_HELP, cliSecretsClient, cliSqsClient } from '../aws-clients.js';
import { EXIT, UsageError } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { formatTable } from '../table.js';
import { formatDuration, openRedis, parseCount, parseDuration, secretsManagerEmulated } from './fleet-common.js';

export const drillHelp = `Usage: rotation-relay drill SECRET [--simulate] [--timeout 120s] [--poll 250ms] [--min-instances 1] [--json]

Rotate SECRET now and show how the change travelled: the rotation, the event reaching the
worker, the broadcast, each live instance's ack, and the time until every live instance held
the new version. Exit 0 once they all do; 1 on timeout (stale instances listed) or failure.

Against AWS it calls RotateSecret: the secret's rotation Lambda changes the real credentials, and
Secrets Manager's events travel through EventBridge and the queue to the worker (needs
secretsmanager:RotateSecret and DescribeSecret, and rotation configured on the secret).

With --simulate, or automatically when Secrets Manager is an emulator (AWS_ENDPOINT_URL or
AWS_ENDPOINT_URL_SECRETS_MANAGER set: moto_server has no rotation Lambda), it rotates the way a
rotation Lambda does: PutSecretValue AWSPENDING with the current value (unchanged, so nothing
that uses the secret breaks), UpdateSecretVersionStage moving AWSCURRENT, then AWSPENDING removed
(needs GetSecretValue, PutSecretValue, UpdateSecretVersionStage). Emulators emit no EventBridge
events, so against one it also sends the two events the rule would deliver (the
UpdateSecretVersionStage API call and Secret Label Updated) to ROTATION_RELAY_QUEUE_URL, if set
(needs sqs:SendMessage). Against AWS the queue is not used. Either way a ROTATION_RELAY_QUEUE_URL
that is set must be a queue URL: set but empty is a configuration error (exit 2), not "unset".

Timestamps come from each process's clock (worker, instances, this command): on one host they
are exact, across hosts they are as good as NTP.

Options:
  --simulate         rotate as a rotation Lambda would, even against AWS (see above)
  --timeout D        give up waiting after D (default 120s; 500ms, 30s, 2m, or seconds)
  --poll D           pause between two reads of Redis (default 250ms)
  --min-instances N  converged only once at least N live instances report the secret (default 1)
  --json             print the timeline as one JSON document
  -h, --help         show this help

Redis gets 10 s to be ready. ${CLI_AWS_HELP} An AWS read while watching that fails is
retried at the next poll, up to --timeout.`;

/** One point of the drill's timeline. */
export interface DrillEvent {
  at: number;
  kind: 'rotation-started' | 'current-moved' | 'events-sent' | 'event-received' | 'broadcast' | 'ack' | 'converged';
  detail: string;
  instanceId?: string;
  versionId?: string;
}

class DrillError extends RotationRelayError {
  constructor(message: string) {
    super('DRILL_FAILED', message);
  }
}

export async function drill(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      simulate: { type: 'boolean', default: false },
      timeout: { type: 'string' },
      poll: { type: 'string' },
      'min-instances': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const [secretId, ...extra] = positionals;
  if (!secretId || extra.length > 0) throw new UsageError('drill takes exactly one SECRET (a name or an ARN)');
  const timeoutMs = values.timeout === undefined ? 120_000 : parseDuration(values.timeout, '--timeout');
  const pollMs = values.poll === undefined ? 250 : parseDuration(values.poll, '--poll');
  const minInstances = parseCount(values['min-instances'], '--min-instances', 1);
  const aws = loadAwsConfig(io.env);
  const emulated = secretsManagerEmulated(io.env);
  const simulate = values.simulate || emulated;
  // Read (and checked) whenever set, emulated or not, so an empty or malformed value is always
  // the same configuration error rather than silently "no queue" (the events not sent).
  const queueUrl = io.env.ROTATION_RELAY_QUEUE_URL === undefined ? undefined : SETTINGS.worker.queueUrl.read(io.env);

  const sm = cliSecretsClient(aws);
  const { redis, config } = await openRedis(io.env);
  try {
    const before = await describeCurrentVersion(sm, secretId);
    if (before.pendingVersionId !== undefined && before.pendingVersionId !== before.versionId) {
      throw new DrillError(`a rotation of ${before.name} is already in progress (AWSPENDING is on version ${before.pendingVersionId}); finish or cancel it first`);
    }
    const initial = convergenceOf(await readFleet(redis, config.keyPrefix), { secretArn: before.arn, versionId: before.versionId });
    const say = (line: string) => {
      if (!values.json) io.err(line);
    };
    say(
      `drill of ${before.name}: ${initial.instances} live instance${initial.instances === 1 ? '' : 's'} use it, ${initial.holders.length} on ${before.versionId}; ` +
        (simulate ? 'rotating as a rotation Lambda would (simulated)' : 'calling RotateSecret'),
    );

    const events: DrillEvent[] = [];
    const startedAt = Date.now();
    const rotation = simulate
      ? await simulateRotation(sm, before, events, startedAt, emulated && queueUrl ? { queueUrl, aws } : undefined)
      : await rotateSecret(sm, before, events, startedAt);
    if (simulate && emulated && !queueUrl) say('ROTATION_RELAY_QUEUE_URL is not set: no event sent; the worker only sees this rotation if something else delivers its events');

    const watched = await watch({ redis, keyPrefix: config.keyPrefix, sm, secretArn: before.arn, versionId: rotation.versionId, startedAt, timeoutMs, pollMs, minInstances, currentMoved: rotation.currentMovedAt !== undefined, events });
    const timeline = [...events].sort((a, b) => a.at - b.at || order(a.kind) - order(b.kind));
    const result = {
      secretArn: before.arn,
      secretName: before.name,
      mode: simulate ? 'simulated' : 'rotate-secret',
      fromVersionId: before.versionId,
      toVersionId: rotation.versionId,
      startedAt: new Date(startedAt).toISOString(),
      converged: watched.converged,
      ...(watched.convergedAt !== undefined ? { convergedAfterMs: watched.convergedAt - startedAt } : {}),
      ...(watched.convergedAt !== undefined && watched.broadcastAt !== undefined ? { afterBroadcastMs: watched.convergedAt - watched.broadcastAt } : {}),
      instances: watched.convergence.instances,
      timeline: timeline.map((e) => ({ ...e, offsetMs: e.at - startedAt, at: new Date(e.at).toISOString() })),
      stale: watched.convergence.stale.map((s) => ({ instanceId: s.instanceId, versionId: s.versionId, lastSeenAt: new Date(s.lastSeenAt).toISOString() })),
    };
    if (values.json) {
      io.out(JSON.stringify(result));
    } else {
      const lines = [`drill of ${before.name} (${before.arn}): ${before.versionId} → ${rotation.versionId}`];
      const rows = timeline.filter((e) => e.kind !== 'converged');
      lines.push(formatTable(['AT', 'WHAT'], rows.map((e) => [`+${formatDuration(e.at - startedAt)}`, e.detail])));
      const done = timeline.find((e) => e.kind === 'converged');
      if (done) lines.push(`${done.detail.replace(/^converged: /, 'converged: ')}, ${formatDuration(done.at - startedAt)} after the rotation started`);
      if (!watched.converged) {
        lines.push(
          `not converged after ${formatDuration(timeoutMs)}: ${watched.convergence.holders.length}/${watched.convergence.instances} live instances hold ${rotation.versionId}` +
            (watched.convergence.instances < minInstances ? ` (fewer than --min-instances ${minInstances})` : ''),
        );
        if (watched.convergence.stale.length > 0) {
          lines.push(formatTable(['INSTANCE', 'HOLDS'], watched.convergence.stale.map((s) => [s.instanceId, s.versionId])));
        }
      }
      io.out(lines.join('\n'));
    }
    return watched.converged ? EXIT.ok : EXIT.failure;
  } finally {
    sm.destroy();
    redis.disconnect();
  }
}

/** A rotation Lambda's steps, with the value unchanged: createSecret, finishSecret, and AWSPENDING removed. */
async function simulateRotation(
  sm: SecretsManagerClient,
  before: CurrentVersion,
  events: DrillEvent[],
  startedAt: number,
  deliver: { queueUrl: string; aws: AwsConfig } | undefined,
): Promise<{ versionId: string; currentMovedAt?: number }> {
  const versionId = randomUUID();
  events.push({ at: startedAt, kind: 'rotation-started', detail: 'rotation started: PutSecretValue AWSPENDING (createSecret, value unchanged)', versionId });
  const current = await getSecretValue(sm, before.arn, { versionId: before.versionId });
  await call('PutSecretValue', before.arn, () =>
    sm.send(new PutSecretValueCommand({ SecretId: before.arn, ClientRequestToken: versionId, SecretString: current.secretString, VersionStages: ['AWSPENDING'] })),
  );
  await call('UpdateSecretVersionStage', before.arn, () =>
    sm.send(new UpdateSecretVersionStageCommand({ SecretId: before.arn, VersionStage: 'AWSCURRENT', MoveToVersionId: versionId, RemoveFromVersionId: before.versionId })),
  );
  const currentMovedAt = Date.now();
  events.push({ at: currentMovedAt, kind: 'current-moved', detail: `AWSCURRENT moved to ${versionId} (UpdateSecretVersionStage, finishSecret)`, versionId });
  await call('UpdateSecretVersionStage', before.arn, () =>
    sm.send(new UpdateSecretVersionStageCommand({ SecretId: before.arn, VersionStage: 'AWSPENDING', RemoveFromVersionId: versionId })),
  );
  if (deliver) {
    const sqs = cliSqsClient(deliver.aws);
    const sentAt = Date.now();
    try {
      for (const body of ruleEvents(before.arn, versionId, before.versionId)) {
        await sqs.send(new SendMessageCommand({ QueueUrl: deliver.queueUrl, MessageBody: JSON.stringify(body) }));
      }
    } finally {
      sqs.destroy();
    }
    events.push({ at: sentAt, kind: 'events-sent', detail: 'events sent to the queue as the EventBridge rule would: UpdateSecretVersionStage (CloudTrail), Secret Label Updated' });
  }
  return { versionId, currentMovedAt };
}

async function rotateSecret(sm: SecretsManagerClient, before: CurrentVersion, events: DrillEvent[], startedAt: number): Promise<{ versionId: string; currentMovedAt?: number }> {
  const output = await call('RotateSecret', before.arn, () => sm.send(new RotateSecretCommand({ SecretId: before.arn })));
  if (!output.VersionId) throw new DrillError(`RotateSecret for ${before.name} returned no VersionId`);
  events.push({ at: startedAt, kind: 'rotation-started', detail: `rotation started: RotateSecret (new version ${output.VersionId})`, versionId: output.VersionId });
  return { versionId: output.VersionId };
}

interface WatchInput {
  redis: RedisClient;
  keyPrefix: string;
  sm: SecretsManagerClient;
  secretArn: string;
  versionId: string;
  startedAt: number;
  timeoutMs: number;
  pollMs: number;
  minInstances: number;
  currentMoved: boolean;
  events: DrillEvent[];
}

/** Polls Redis (and, after RotateSecret, DescribeSecret) until converged or timed out; adds what it sees to `events`. */
async function watch(input: WatchInput): Promise<{ converged: boolean; convergence: SecretConvergence; convergedAt?: number; broadcastAt?: number }> {
  const { redis, keyPrefix, secretArn, versionId, startedAt, events } = input;
  const deadline = startedAt + input.timeoutMs;
  let moved = input.currentMoved;
  let lastDescribe = 0;
  let broadcastAt: number | undefined;
  const seenReceipts = new Set<string>();
  const acked = new Set<string>();
  for (;;) {
    const now = Date.now();
    if (!moved && now - lastDescribe >= 1_000) {
      lastDescribe = now;
      const current = await describeCurrentVersion(input.sm, secretArn).catch(() => undefined);
      if (current?.versionId === versionId) {
        moved = true;
        events.push({ at: now, kind: 'current-moved', detail: `AWSCURRENT moved to ${versionId} (seen with DescribeSecret; the rotation Lambda finished)`, versionId });
      }
    }
    // Entries of this rotation: received after it started (1 s of slack for clocks on one host).
    for (const entry of await readTimeline(redis, keyPrefix, secretArn)) {
      if (entry.receivedAt < startedAt - 1_000 || (entry.versionId !== undefined && entry.versionId !== versionId)) continue;
      const key = `${entry.receivedAt}:${entry.eventId ?? ''}:${entry.outcome}`;
      if (seenReceipts.has(key)) continue;
      seenReceipts.add(key);
      const receivers = entry.receivers !== undefined ? ` (${entry.receivers} receiver${entry.receivers === 1 ? '' : 's'})` : '';
      events.push({ at: entry.receivedAt, kind: 'event-received', detail: `worker received ${entry.eventName ?? 'an event'} → ${entry.outcome}${receivers}` });
    }
    if (broadcastAt === undefined) {
      const published = await readPublishedVersion(redis, keyPrefix, secretArn);
      if (published?.versionId === versionId) {
        broadcastAt = Date.parse(published.publishedAt);
        events.push({ at: broadcastAt, kind: 'broadcast', detail: `broadcast of ${versionId} (invalidation ${published.id})`, versionId });
      }
    }
    const convergence = convergenceOf(await readFleet(redis, keyPrefix), { secretArn, versionId, ...(broadcastAt !== undefined ? { since: broadcastAt } : {}) });
    for (const holder of convergence.holders) {
      if (acked.has(holder.instanceId)) continue;
      acked.add(holder.instanceId);
      events.push({ at: holder.ackedAt, kind: 'ack', detail: `ack: ${holder.instanceId} holds ${versionId}`, instanceId: holder.instanceId, versionId });
    }
    const converged = moved && convergence.converged && convergence.instances >= input.minInstances;
    if (converged) {
      const convergedAt = Math.max(startedAt, ...convergence.holders.map((h) => h.ackedAt));
      events.push({
        at: convergedAt,
        kind: 'converged',
        detail: `converged: ${convergence.holders.length}/${convergence.instances} live instances hold ${versionId}` + (broadcastAt !== undefined ? ` (${formatDuration(convergedAt - broadcastAt)} after the broadcast)` : ''),
        versionId,
      });
      return { converged, convergence, convergedAt, ...(broadcastAt !== undefined ? { broadcastAt } : {}) };
    }
    if (Date.now() >= deadline) return { converged: false, convergence, ...(broadcastAt !== undefined ? { broadcastAt } : {}) };
    await new Promise((resolve) => setTimeout(resolve, Math.min(input.pollMs, Math.max(0, deadline - Date.now()))));
  }
}

/** Sorting tie-breaker: causes before effects when two points share a millisecond. */
function order(kind: DrillEvent['kind']): number {
  return ['rotation-started', 'current-moved', 'events-sent', 'event-received', 'broadcast', 'ack', 'converged'].indexOf(kind);
}

async function call<T>(operation: string, secretId: string, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error) {
    throw classifySecretsManagerError(error, secretId, operation);
  }
}

/** The two events a finishSecret produces, as the EventBridge rule delivers them to the queue. */
function ruleEvents(arn: string, versionId: string, previousVersionId: string): Array<Record<string, unknown>> {
  const parts = parseSecretArn(arn);
  const now = new Date().toISOString();
  const base = { version: '0', source: 'aws.secretsmanager', account: parts?.account ?? '000000000000', time: now, region: parts?.region ?? 'us-east-1' };
  return [
    {
      ...base,
      id: randomUUID(),
      'detail-type': 'AWS API Call via CloudTrail',
      resources: [],
      detail: {
        eventVersion: '1.09',
        eventTime: now,
        eventSource: 'secretsmanager.amazonaws.com',
        eventName: 'UpdateSecretVersionStage',
        requestParameters: { secretId: arn, versionStage: 'AWSCURRENT', moveToVersionId: versionId, removeFromVersionId: previousVersionId },
        responseElements: { arn },
        eventType: 'AwsApiCall',
      },
    },
    { ...base, id: randomUUID(), 'detail-type': 'Secret Label Updated', resources: [arn], detail: { labelUpdated: 'AWSCURRENT', versionId } },
  ];
}
