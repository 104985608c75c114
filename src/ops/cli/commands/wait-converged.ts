import { parseArgs } from 'node:util';
import { loadAwsConfig } from '../../../config/index.js';
import { Deadline, MIN_CHECK_MS, NotConvergedError, waitConverged, WAIT_CONVERGED_DEFAULTS, type SecretConvergence, type WaitConvergedResult } from '../../../sdk/fleet/index.js';
import { CLI_AWS_HELP, cliSecretsClient } from '../aws-clients.js';
import { EXIT, UsageError } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { formatTable } from '../table.js';
import { awsRegionConfigured, channelLine, formatDuration, openRedis, parseCount, parseDuration, subscribersJson, unaccountedTable } from './fleet-common.js';

export const waitConvergedHelp = `Usage: rotation-relay wait-converged SECRET [--version V] [--timeout 60s] [--poll 1s] [--min-instances 1] [--allow-unaccounted 0] [--json]

Wait until every live app instance that uses SECRET (a name or an ARN) holds version V, as the
instances' own acks in Redis say (fleet presence, docs/protocol.md), and every subscriber on the
invalidation channel is one of those instances: PUBSUB NUMSUB (summed over every node of a
cluster) against presence, with the connections named by CLIENT LIST where the ACL allows it.
Use it between the two phases of a rotation, before the old credentials are revoked
(docs/fleet-convergence.md).

Exit codes:
  0  converged
  1  timed out while live instances still hold another version (listed on stdout) or fewer than
     --min-instances report the secret; or Redis or Secrets Manager could not be read in time
  2  bad usage
  3  timed out while subscribers on the channel report no presence (named on stdout when CLIENT
     LIST is allowed): usually a subscriber ACL without the presence rights, an SDK without
     presence, or a subscriber in another language that does not report. They may hold the old
     version: do not revoke

Options:
  --version V        the version to wait for (default: the secret's AWSCURRENT, read with
                     DescribeSecret; needs AWS configuration and secretsmanager:DescribeSecret)
  --timeout D        the whole deadline, Redis connection and DescribeSecret included (default
                     60s; 500ms, 30s, 2m, 1h, or seconds); below 1s, one check of up to 1s
  --poll D           pause between two reads of the fleet (default 1s)
  --min-instances N  converged only once at least N live instances report the secret (default 1,
                     so a fleet that reports nothing is never taken as converged; 0 accepts it)
  --allow-unaccounted N
                     tolerate N subscribers that report no presence (listeners you know hold none
                     of the secret's credentials; default 0)
  --json             print the result as one JSON document
  -h, --help         show this help

Nothing waits past --timeout: the Redis connection, every read and DescribeSecret count against
it. ${CLI_AWS_HELP}`;

export async function waitConvergedCommand(argv: string[], io: CliIo): Promise<number> {
  const startedAt = Date.now();
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      version: { type: 'string' },
      timeout: { type: 'string' },
      poll: { type: 'string' },
      'min-instances': { type: 'string' },
      'allow-unaccounted': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const [secretId, ...extra] = positionals;
  if (!secretId || extra.length > 0) throw new UsageError('wait-converged takes exactly one SECRET (a name or an ARN)');
  if (values.version !== undefined && values.version.trim() === '') throw new UsageError('--version takes a version id');
  const timeoutMs = values.timeout === undefined ? WAIT_CONVERGED_DEFAULTS.timeoutMs : parseDuration(values.timeout, '--timeout');
  const pollMs = values.poll === undefined ? WAIT_CONVERGED_DEFAULTS.pollMs : parseDuration(values.poll, '--poll');
  const minInstances = parseCount(values['min-instances'], '--min-instances', WAIT_CONVERGED_DEFAULTS.minInstances);
  const allowUnaccounted = parseCount(values['allow-unaccounted'], '--allow-unaccounted', WAIT_CONVERGED_DEFAULTS.allowUnaccounted);
  if (values.version === undefined && !awsRegionConfigured(io.env)) {
    throw new UsageError('without --version the version to wait for is AWSCURRENT, which needs AWS_REGION (and credentials) to read with DescribeSecret');
  }
  const secretsClient = awsRegionConfigured(io.env) ? cliSecretsClient(loadAwsConfig(io.env)) : undefined;
  let redis: Awaited<ReturnType<typeof openRedis>>['redis'] | undefined;
  let lastProgress = '';
  try {
    // One deadline for everything, connecting included (waitConverged counts from startedAt).
    const opened = await openRedis(io.env, Deadline.in(Math.max(timeoutMs, MIN_CHECK_MS), startedAt));
    redis = opened.redis;
    const result = await waitConverged({
      redis,
      keyPrefix: opened.config.keyPrefix,
      secretId,
      ...(values.version !== undefined ? { versionId: values.version } : {}),
      ...(secretsClient ? { secretsClient } : {}),
      timeoutMs,
      startedAt,
      pollMs,
      minInstances,
      allowUnaccounted,
      onProgress: (c, subscribers) => {
        const line = `${c.holders.length}/${c.instances} live instances hold ${c.versionId}${c.stale.length > 0 ? ` (${c.stale.length} stale)` : ''}; ${channelLine(subscribers)}`;
        if (line !== lastProgress && !values.json) io.err(line);
        lastProgress = line;
      },
    });
    io.out(values.json ? JSON.stringify(toJson(result, true)) : `converged: ${describe(result)} of ${result.secretArn} (after ${formatDuration(result.elapsedMs)})`);
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof NotConvergedError)) throw error;
    const result = error.result;
    if (values.json) {
      io.out(JSON.stringify({ ...toJson(result, false), reason: error.reason, message: error.message }));
    } else {
      const lines = [`not converged after ${formatDuration(result.elapsedMs)}: ${error.message}`];
      if (result.stale.length > 0) {
        lines.push(
          formatTable(
            ['INSTANCE', 'HOLDS', 'STALE FOR', 'LAST SEEN'],
            result.stale.map((s) => [s.instanceId, s.versionId, s.staleForMs !== undefined ? formatDuration(s.staleForMs) : '?', `${formatDuration(result.checkedAt - s.lastSeenAt)} ago`]),
          ),
        );
      }
      if (result.subscribers.unaccounted > 0 && result.subscribers.candidates.length > 0) {
        lines.push(`Subscribers that report no presence (any may hold the old version):\n${unaccountedTable(result.subscribers)}`);
      }
      io.out(lines.join('\n'));
    }
    return error.reason === 'unaccounted-subscribers' ? EXIT.unaccountedSubscribers : EXIT.failure;
  } finally {
    secretsClient?.destroy();
    redis?.disconnect();
  }
}

function describe(c: SecretConvergence): string {
  return c.instances === 0 ? `no live instance reports the secret; nothing holds another version than ${c.versionId}` : `all ${c.instances} live instance${c.instances === 1 ? '' : 's'} hold ${c.versionId}`;
}

function toJson(result: WaitConvergedResult, converged: boolean): Record<string, unknown> {
  return {
    converged,
    secretArn: result.secretArn,
    versionId: result.versionId,
    elapsedMs: result.elapsedMs,
    instances: result.instances,
    holders: result.holders.map((h) => ({ instanceId: h.instanceId, ackedAt: new Date(h.ackedAt).toISOString() })),
    stale: result.stale.map((s) => ({
      instanceId: s.instanceId,
      versionId: s.versionId,
      ...(s.staleForMs !== undefined ? { staleForMs: s.staleForMs } : {}),
      lastSeenAt: new Date(s.lastSeenAt).toISOString(),
    })),
    subscribers: subscribersJson(result.subscribers),
  };
}
