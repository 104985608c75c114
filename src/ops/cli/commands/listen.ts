import { parseArgs } from 'node:util';
import { assertSigningChosen, loadRedisConfig, loadSigningConfig, UNSIGNED_WARNING } from '../../../config/index.js';
import { describeError } from '../../../common/index.js';
import { Deadline, LISTEN_CONNECTION_NAME } from '../../../sdk/fleet/index.js';
import { describeRedisTarget, RedisNotReadyError } from '../../../redis/index.js';
import { InvalidationListener } from '../../../sdk/cache/index.js';
import { EXIT, UsageError } from '../exit-codes.js';
import { currentRedisPassword } from '../redis-password.js';
import type { CliIo } from '../io.js';
import { parseDuration } from './fleet-common.js';

/** How long `listen` waits for Redis, at start or after losing it, unless `--timeout` says otherwise. */
export const LISTEN_TIMEOUT_DEFAULT = '30s';

export const listenHelp = `Usage: rotation-relay listen [--count N] [--timeout DURATION] [--allow-unsigned]

Subscribe to the invalidation channel and print every verified invalidation as one JSON line on
stdout as it arrives. Messages that fail verification (unsigned, bad signature, too old,
malformed) are reported on stderr with the reason. Stops on Ctrl-C, or after N verified messages.
While Redis cannot be reached it says why on stderr (once per distinct reason) and keeps trying;
when Redis stays unreachable for DURATION — at start, or after losing the connection — it exits 1
naming the Redis target and the last reason.

Signing is required: without ROTATION_RELAY_SIGNING_KEYS it refuses to start (exit 2) unless
unsigned mode is asked for with --allow-unsigned or ROTATION_RELAY_ALLOW_UNSIGNED=true; it then
warns on stderr and prints every well-formed message, signed or not.

Options:
  --count N           exit 0 after N verified invalidations
  --timeout DURATION  give up on an unreachable Redis after this long, e.g. 10s or 2m
                      (default ${LISTEN_TIMEOUT_DEFAULT}); waiting for messages is not bounded
  --allow-unsigned    run without ROTATION_RELAY_SIGNING_KEYS, verifying nothing (default: refuse)
  -h, --help          show this help

Reads ROTATION_RELAY_REDIS_URL, ROTATION_RELAY_REDIS_CLUSTER, ROTATION_RELAY_KEY_PREFIX,
ROTATION_RELAY_SIGNING_KEYS, ROTATION_RELAY_MAX_AGE_SECONDS, ROTATION_RELAY_CLOCK_SKEW_TOLERANCE_MS
(default 30000) and ROTATION_RELAY_ALLOW_UNSIGNED (default false).`;

export async function listen(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { count: { type: 'string' }, timeout: { type: 'string', default: LISTEN_TIMEOUT_DEFAULT }, 'allow-unsigned': { type: 'boolean', default: false } },
  });
  const count = values.count === undefined ? Infinity : Number(values.count);
  if (!Number.isInteger(count) && count !== Infinity) throw new UsageError('--count takes a whole number');
  if (count < 1) throw new UsageError('--count takes a whole number of at least 1');
  const timeoutMs = parseDuration(values.timeout, '--timeout');
  if (timeoutMs < 1) throw new UsageError('--timeout takes a duration above 0, such as 30s');

  const redis = loadRedisConfig(io.env);
  const fromEnv = loadSigningConfig(io.env);
  const signing = { ...fromEnv, allowUnsigned: fromEnv.allowUnsigned || values['allow-unsigned'] };
  assertSigningChosen(signing, 'ROTATION_RELAY_ALLOW_UNSIGNED=true or pass --allow-unsigned');
  // Before connecting, so it is the first thing said even when Redis is unreachable.
  if (signing.keys.length === 0) io.err(JSON.stringify({ warning: UNSIGNED_WARNING }));
  const target = `${describeRedisTarget(redis.url)}${redis.cluster ? ' (cluster)' : ''}`;
  const signal = io.untilSignal();
  const password = await Deadline.in(timeoutMs).bound(
    currentRedisPassword(redis, io.env),
    `reading the Redis password (ROTATION_RELAY_REDIS_PASSWORD_SECRET_ID) for ${target}`,
  );
  // Its own name, so status and wait-converged can tell it from an app instance (it holds no
  // credentials) where CLIENT LIST is allowed; without CLIENT LIST it counts as unaccounted.
  const listener = new InvalidationListener({
    redis,
    connectionName: LISTEN_CONNECTION_NAME,
    signingKeys: signing.keys,
    maxAgeMs: signing.maxAgeMs,
    clockSkewToleranceMs: signing.clockSkewToleranceMs,
    ...(password ? { password } : {}),
  });
  const watchdog = new UnreachableWatchdog(target, timeoutMs);
  let received = 0;
  const done = new Promise<void>((resolve) => {
    listener.on('invalidation', (invalidation) => {
      io.out(JSON.stringify(invalidation));
      received += 1;
      if (received >= count) resolve();
    });
  });
  listener.on('rejected', ({ code, reason }) => io.err(JSON.stringify({ rejected: code, reason })));
  // ioredis reports every reconnect attempt (one every 2 s while Redis is down), alternating
  // between reasons at times (read / write ECONNRESET): say each reason once per outage.
  const said = new Set<string>();
  listener.on('error', (error) => {
    watchdog.lastError = error;
    const reason = describeError(error);
    if (said.has(reason)) return;
    said.add(reason);
    io.err(JSON.stringify({ error: reason, redis: target }));
  });
  listener.on('subscribed', () => {
    said.clear();
    watchdog.reached();
  });
  listener.on('disconnected', () => watchdog.lost());
  watchdog.lost();
  try {
    const first = await Promise.race([listener.start().then(() => 'subscribed' as const), signal, watchdog.gaveUp]);
    if (first !== 'subscribed') return EXIT.ok;
    io.err(
      JSON.stringify({
        listening: target,
        prefix: redis.keyPrefix,
        verifying: signing.keys.length > 0 ? 'signed messages only' : 'off (unsigned mode, no ROTATION_RELAY_SIGNING_KEYS)',
      }),
    );
    await Promise.race([done, signal, watchdog.gaveUp]);
    return EXIT.ok;
  } finally {
    watchdog.stop();
    await listener.stop();
  }
}

/**
 * Rejects `gaveUp` with {@link RedisNotReadyError} once Redis has been unreachable for
 * `timeoutMs` without a break: armed by `lost()` (at start, on a disconnection), disarmed by
 * `reached()` (subscribed again).
 */
class UnreachableWatchdog {
  lastError: unknown;
  readonly gaveUp: Promise<never>;
  private timer: NodeJS.Timeout | undefined;
  private fail!: (error: Error) => void;

  constructor(
    private readonly target: string,
    private readonly timeoutMs: number,
  ) {
    this.gaveUp = new Promise<never>((_, reject) => {
      this.fail = reject;
    });
    // Raced only while listening; a rejection after the command ended must not go unhandled.
    this.gaveUp.catch(() => undefined);
  }

  lost(): void {
    this.timer ??= setTimeout(() => this.fail(new RedisNotReadyError(this.target, this.timeoutMs, this.lastError)), this.timeoutMs);
  }

  reached(): void {
    this.stop();
    this.lastError = undefined;
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
