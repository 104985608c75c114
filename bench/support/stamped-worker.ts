/**
 * The in-process worker of `relay.startWorker` (its config, SQS client and logger, a fresh queue),
 * given a Redis connection the bench makes — with
 * `connectRedis` and the worker's own connection options, exactly what the worker would make for
 * itself — and hands it in through the documented `deps.redis`. That lets the bench stamp the
 * moment the publish script is sent (EVALSHA, or EVAL after a NOSCRIPT), which the worker does not
 * report: its `outcome` event comes once the script's reply is back. The publish script's PUBLISH
 * runs inside that one command, so "sent" is the worker's PUBLISH as seen from the client, like
 * the stamp a bare `redis.publish()` gets.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Redis, type Command } from 'ioredis';
import { connectRedis } from '../../src/redis/index.js';
import type { MessageOutcome } from '../../src/relay/worker/handle-message.js';
import type { RelayWorker } from '../../src/relay/worker/relay-worker.js';
import { WORKER_CONNECTION } from '../../src/relay/worker/rotating-redis.js';
import { now } from './clock.js';
import type { Relay } from './relay.js';

/** One publish script sent: when (the bench clock, just before the command is written) and the message it publishes. */
export interface ScriptSent {
  at: number;
  /** The invalidation as published (the script's PUBLISH sends this argument unchanged). */
  message: string;
  versionId: string | undefined;
}

export interface StampedWorker {
  worker: RelayWorker;
  /** Stops the worker, then closes the connection it was given (a worker does not close what it did not open). */
  stop(): Promise<void>;
}

/**
 * Calls `onSent(command, at)` for every command named in `names` sent on `redis`, `at` read just
 * before ioredis writes it: ioredis writes to the socket synchronously inside sendCommand (no
 * auto-pipelining here). A command sent before the connection is ready goes through sendCommand
 * again when the offline queue is flushed: that later call is the write, so callers keep the last
 * stamp. `onSent` runs after the write, off the measured path. The raw fan-out floor stamps its
 * bare PUBLISH with this too, so both stamps are the same event.
 */
export function stampSends(redis: Redis, names: readonly string[], onSent: (command: Command, at: number) => void): void {
  const sendCommand = redis.sendCommand.bind(redis);
  redis.sendCommand = (command: Command, stream?: Parameters<typeof sendCommand>[1]): unknown => {
    const at = now();
    const result = sendCommand(command, stream);
    if (names.includes(command.name)) onSent(command, at);
    return result;
  };
}

export async function startStampedWorker(
  relay: Relay,
  secrets: SecretsManagerClient,
  onOutcome: (outcome: MessageOutcome) => void,
  onScriptSent: (sent: ScriptSent) => void,
): Promise<StampedWorker> {
  const redis = connectRedis(relay.workerConfig().redis, WORKER_CONNECTION);
  if (!(redis instanceof Redis)) throw new Error('the bench relay is a single redis-server, not a Cluster');
  stampSends(redis, ['evalsha', 'eval'], (command, at) => {
    // The JSON argument; the keys start with a `{prefix}` hash tag, not `{"`.
    const message = command.args.find((arg): arg is string => typeof arg === 'string' && arg.startsWith('{"'));
    if (message === undefined) return;
    let versionId: string | undefined;
    try {
      versionId = (JSON.parse(message) as { versionId?: string }).versionId;
    } catch {
      versionId = undefined;
    }
    onScriptSent({ at, message, versionId });
  });
  // relay.startWorker (a fresh queue for every worker after the first), with this connection.
  const worker = await relay.startWorker(secrets, onOutcome, { redis });
  let stopped: Promise<void> | undefined;
  return {
    worker,
    stop() {
      stopped ??= (async () => {
        await worker.stop();
        await redis.quit().catch(() => redis.disconnect());
      })();
      return stopped;
    },
  };
}
