import { parseArgs } from 'node:util';
import { loadRedisConfig } from '../../config/index.js';
import { readPublishedVersions } from '../../protocol/index.js';
import { connectRedis, waitForReady } from '../../redis/connect.js';
import { EXIT } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { currentRedisPassword } from '../redis-password.js';
import { formatTable } from '../table.js';

export const statusHelp = `Usage: rotation-relay status [--json]

Show the last broadcast version of every secret, read from the versions hash in Redis:
secret name, version, when it was published, and why. Secret values are never stored there.

Options:
  --json      one JSON document instead of a table
  -h, --help  show this help`;

export async function status(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean', default: false } } });
  const redisConfig = loadRedisConfig(io.env);
  const password = await currentRedisPassword(redisConfig, io.env);
  const redis = connectRedis(redisConfig, { connectionName: 'rotation-relay:cli', offlineQueue: false, ...(password ? { password } : {}) });
  redis.on('error', () => undefined);
  try {
    await waitForReady(redis, 10_000);
    const versions = [...(await readPublishedVersions(redis, redisConfig.keyPrefix)).values()].sort((a, b) =>
      a.secretName.localeCompare(b.secretName),
    );
    const rows = versions.map((v) => ({
      secretName: v.secretName,
      secretArn: v.secretArn,
      versionId: v.versionId ?? null,
      publishedAt: v.publishedAt,
      reason: v.reason,
      eventId: v.eventId,
    }));
    if (values.json) {
      io.out(JSON.stringify({ secrets: rows }));
    } else if (rows.length === 0) {
      io.out('no invalidation published yet');
    } else {
      io.out(
        formatTable(
          ['SECRET', 'VERSION', 'PUBLISHED', 'REASON'],
          rows.map((r) => [r.secretName, r.versionId ?? '-', r.publishedAt, r.reason]),
        ),
      );
    }
    return EXIT.ok;
  } finally {
    redis.disconnect();
  }
}
