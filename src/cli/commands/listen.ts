import { parseArgs } from 'node:util';
import { loadRedisConfig, loadSigningConfig } from '../../config/index.js';
import { LISTEN_CONNECTION_NAME } from '../../fleet/index.js';
import { describeRedisTarget } from '../../redis/connect.js';
import { InvalidationListener } from '../../subscriber/invalidation-listener.js';
import { EXIT, UsageError } from '../exit-codes.js';
import { currentRedisPassword } from '../redis-password.js';
import type { CliIo } from '../io.js';

export const listenHelp = `Usage: rotation-relay listen [--count N]

Subscribe to the invalidation channel and print every verified invalidation as one JSON line on
stdout as it arrives. Messages that fail verification (unsigned, bad signature, too old,
malformed) are reported on stderr with the reason. Stops on Ctrl-C, or after N verified messages.

Options:
  --count N   exit 0 after N verified invalidations
  -h, --help  show this help

Reads ROTATION_RELAY_REDIS_URL, ROTATION_RELAY_REDIS_CLUSTER, ROTATION_RELAY_KEY_PREFIX,
ROTATION_RELAY_SIGNING_KEYS and ROTATION_RELAY_MAX_AGE_SECONDS.`;

export async function listen(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { count: { type: 'string' } } });
  const count = values.count === undefined ? Infinity : Number(values.count);
  if (!Number.isInteger(count) && count !== Infinity) throw new UsageError('--count takes a whole number');
  if (count < 1) throw new UsageError('--count takes a whole number of at least 1');

  const redis = loadRedisConfig(io.env);
  const signing = loadSigningConfig(io.env);
  const password = await currentRedisPassword(redis, io.env);
  // Its own name, so status and wait-converged can tell it from an app instance (it holds no
  // credentials) where CLIENT LIST is allowed; without CLIENT LIST it counts as unaccounted.
  const listener = new InvalidationListener({
    redis,
    connectionName: LISTEN_CONNECTION_NAME,
    signingKeys: signing.keys,
    maxAgeMs: signing.maxAgeMs,
    ...(password ? { password } : {}),
  });
  let received = 0;
  const done = new Promise<void>((resolve) => {
    listener.on('invalidation', (invalidation) => {
      io.out(JSON.stringify(invalidation));
      received += 1;
      if (received >= count) resolve();
    });
  });
  listener.on('rejected', ({ code, reason }) => io.err(JSON.stringify({ rejected: code, reason })));
  listener.on('error', (error) => io.err(JSON.stringify({ error: error.message })));
  await listener.start();
  io.err(
    JSON.stringify({
      listening: describeRedisTarget(redis.url),
      prefix: redis.keyPrefix,
      verifying: signing.keys.length > 0 ? 'signed messages only' : 'off (no ROTATION_RELAY_SIGNING_KEYS)',
    }),
  );
  await Promise.race([done, io.untilSignal()]);
  await listener.stop();
  return EXIT.ok;
}
