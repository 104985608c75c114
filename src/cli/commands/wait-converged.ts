import { parseArgs } from 'node:util';
import { loadAwsConfig } from '../../config/index.js';
import { NotConvergedError, waitConverged, WAIT_CONVERGED_DEFAULTS, type SecretConvergence, type WaitConvergedResult } from '../../fleet/index.js';
import { createSecretsClient } from '../../secrets/index.js';
import { EXIT, UsageError } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { formatTable } from '../table.js';
import { awsRegionConfigured, formatDuration, openRedis, parseCount, parseDuration } from './fleet-common.js';

export const waitConvergedHelp = `Usage: rotation-relay wait-converged SECRET [--version V] [--timeout 60s] [--poll 1s] [--min-instances 1] [--json]

Wait until every live app instance that uses SECRET (a name or an ARN) holds version V, as the
instances' own acks in Redis say (fleet presence, docs/protocol.md). Use it between the two
phases of a rotation, before the old credentials are revoked (docs/fleet-convergence.md).

Exit 0 once converged; exit 1 on timeout, with the instances still on another version listed
on stdout (or when Redis or Secrets Manager cannot be read); exit 2 for bad usage.

Options:
  --version V        the version to wait for (default: the secret's AWSCURRENT, read with
                     DescribeSecret; needs AWS configuration and secretsmanager:DescribeSecret)
  --timeout D        give up after D (default 60s; 500ms, 30s, 2m, 1h, or seconds)
  --poll D           pause between two reads of the fleet (default 1s)
  --min-instances N  converged only once at least N live instances report the secret (default 1,
                     so a fleet that reports nothing is never taken as converged; 0 accepts it)
  --json             print the result as one JSON document
  -h, --help         show this help`;

export async function waitConvergedCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      version: { type: 'string' },
      timeout: { type: 'string' },
      poll: { type: 'string' },
      'min-instances': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const [secretId, ...extra] = positionals;
  if (!secretId || extra.length > 0) throw new UsageError('wait-converged takes exactly one SECRET (a name or an ARN)');
  if (values.version !== undefined && values.version.trim() === '') throw new UsageError('--version takes a version id');
  const timeoutMs = values.timeout === undefined ? WAIT_CONVERGED_DEFAULTS.timeoutMs : parseDuration(values.timeout, '--timeout');
  const pollMs = values.poll === undefined ? WAIT_CONVERGED_DEFAULTS.pollMs : parseDuration(values.poll, '--poll');
  const minInstances = parseCount(values['min-instances'], '--min-instances', WAIT_CONVERGED_DEFAULTS.minInstances);
  if (values.version === undefined && !awsRegionConfigured(io.env)) {
    throw new UsageError('without --version the version to wait for is AWSCURRENT, which needs AWS_REGION (and credentials) to read with DescribeSecret');
  }
  const secretsClient = awsRegionConfigured(io.env) ? createSecretsClient(loadAwsConfig(io.env)) : undefined;
  const { redis, config } = await openRedis(io.env);
  let lastProgress = '';
  try {
    const result = await waitConverged({
      redis,
      keyPrefix: config.keyPrefix,
      secretId,
      ...(values.version !== undefined ? { versionId: values.version } : {}),
      ...(secretsClient ? { secretsClient } : {}),
      timeoutMs,
      pollMs,
      minInstances,
      onProgress: (c) => {
        const line = `${c.holders.length}/${c.instances} live instances hold ${c.versionId}${c.stale.length > 0 ? ` (${c.stale.length} stale)` : ''}`;
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
      io.out(JSON.stringify(toJson(result, false)));
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
      io.out(lines.join('\n'));
    }
    return EXIT.failure;
  } finally {
    secretsClient?.destroy();
    redis.disconnect();
  }
}

function describe(c: SecretConvergence): string {
  return c.instances === 0 ? `no live instance reports the secret; nothing holds another version than ${c.versionId}` : `all ${c.instances} live instance${c.instances === 1 ? '' : 's'} hold ${c.versionId}`;
}

function toJson(result: WaitConvergedResult, converged: boolean): unknown {
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
  };
}
