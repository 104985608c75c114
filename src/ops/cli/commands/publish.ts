import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { assertSigningChosen, loadAwsConfig, loadRedisConfig, loadSigningConfig, UNSIGNED_WARNING } from '../../../config/index.js';
import { createInvalidation, publishInvalidation, signIfKeyed } from '../../../protocol/index.js';
import { connectRedis, describeRedisTarget, waitForReady } from '../../../redis/index.js';
import { describeCurrentVersion } from '../../../secrets/index.js';
import { CLI_AWS_HELP, cliSecretsClient } from '../aws-clients.js';
import { EXIT, UsageError } from '../exit-codes.js';
import { currentRedisPassword } from '../redis-password.js';
import type { CliIo } from '../io.js';

export const publishHelp = `Usage: rotation-relay publish SECRET [--reason TEXT] [--terminate-old]

Broadcast a manual, fleet-wide refresh of SECRET (a name or an ARN): every subscriber re-reads
it, even when the version is unchanged (e.g. after fixing a subscriber, or to test the path).
With --terminate-old (an emergency revoke, for a leaked credential: rotate the secret first),
every subscribing SDK then closes its connections that still use an older version at once,
failing the work in flight on them, instead of letting them finish; needs signing keys.
The secret's ARN and current version are read with DescribeSecret; its value is never read.
Prints {"secretArn","versionId","receivers"} where receivers is the number of connections that
got the message. Signed with ROTATION_RELAY_SIGNING_KEYS (required, like the worker's, unless
ROTATION_RELAY_ALLOW_UNSIGNED=true).

Redis gets 10 s to be ready. ${CLI_AWS_HELP}

Options:
  --reason TEXT    recorded in the invalidation (default "manual")
  --terminate-old  close the connections of older versions at once (signed terminateOld); prints "terminateOld":true
  -h, --help       show this help`;

export async function publish(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { reason: { type: 'string', default: 'manual' }, 'terminate-old': { type: 'boolean', default: false } },
  });
  const [secretId, ...extra] = positionals;
  if (!secretId || extra.length > 0) throw new UsageError('publish takes exactly one SECRET (a name or an ARN)');
  const terminateOld = values['terminate-old'];

  const aws = loadAwsConfig(io.env);
  const redisConfig = loadRedisConfig(io.env);
  const signing = loadSigningConfig(io.env);
  // Subscribers that verify would drop an unsigned broadcast: refuse it unless asked for, as the worker does.
  assertSigningChosen(signing);
  // Subscribers act on terminateOld only from a signed message: unsigned, anyone who can publish
  // could cut every connection of the fleet. Refused here rather than silently ignored there.
  if (terminateOld && signing.keys.length === 0) {
    throw new UsageError('--terminate-old needs ROTATION_RELAY_SIGNING_KEYS: subscribers act on it only in a signed invalidation');
  }
  if (signing.keys.length === 0) io.err(JSON.stringify({ warning: UNSIGNED_WARNING }));
  const secrets = cliSecretsClient(aws);
  let current;
  try {
    current = await describeCurrentVersion(secrets, secretId);
  } finally {
    secrets.destroy();
  }
  const password = await currentRedisPassword(redisConfig, io.env);
  const redis = connectRedis(redisConfig, { connectionName: 'rotation-relay:cli', offlineQueue: false, ...(password ? { password } : {}) });
  redis.on('error', () => undefined);
  try {
    await waitForReady(redis, 10_000, `${describeRedisTarget(redisConfig.url)}${redisConfig.cluster ? ' (cluster)' : ''}`);
    const unsigned = createInvalidation({
      secretArn: current.arn,
      secretName: current.name,
      versionId: current.versionId,
      reason: values.reason,
      eventId: `manual-${randomUUID()}`,
      eventTime: new Date().toISOString(),
      ...(terminateOld ? { terminateOld: true as const } : {}),
    });
    const invalidation = signIfKeyed(unsigned, signing.keys);
    const result = await publishInvalidation(redis, redisConfig.keyPrefix, invalidation, { force: true });
    const receivers = result.outcome === 'published' ? result.receivers : 0;
    io.out(JSON.stringify({ secretArn: current.arn, versionId: current.versionId, receivers, ...(terminateOld ? { terminateOld: true } : {}) }));
    return EXIT.ok;
  } finally {
    redis.disconnect();
  }
}
