/**
 * The two floors of the propagation benchmark, hosted by the same fleet processes as the
 * subscribers (subscriber-fleet.ts dispatches the commands here), so that a floor and ours share
 * the process layout, the processes' warm state and the machine:
 *
 * - The raw fan-out fleet: plain `new Redis(url)` connections that SUBSCRIBE to one channel and
 *   stamp each message on arrival — no SDK, no parsing beyond the sequence number, no
 *   verification. What Redis pub/sub plus Node on this machine cost for N receivers, before any
 *   of our work.
 * - The refresh floor: one Secrets Manager client per subscriber (built like the ones the
 *   subscribers' caches get), each making one bare GetSecretValue by VersionId per round, all of a
 *   process's calls fired at the same moment — as many calls as our fleet makes per rotation, so
 *   the CPU contention is like ours.
 *
 * Both run while the phase's subscribers are stopped: the subscribers' figures (and their CPU
 * time, `cpuMs` from "ready" to "stop") stay theirs alone.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Redis } from 'ioredis';
import { SECRETS_CLIENT_SETTINGS } from '../../src/sdk/cache/index.js';
import { now } from './clock.js';

export interface RawStartCommand {
  cmd: 'raw-start';
  phase: string;
  count: number;
  firstIndex: number;
  url: string;
  channel: string;
}

export interface FloorStartCommand {
  cmd: 'floor-start';
  phase: string;
  count: number;
  secretId: string;
  sm: { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };
}

export interface FloorRoundCommand {
  cmd: 'floor-round';
  phase: string;
  round: number;
  versionId: string;
}

export type FloorCommand = RawStartCommand | { cmd: 'raw-stop'; phase: string } | FloorStartCommand | FloorRoundCommand | { cmd: 'floor-stop'; phase: string };

const FLOOR_COMMANDS: ReadonlySet<string> = new Set(['raw-start', 'raw-stop', 'floor-start', 'floor-round', 'floor-stop']);

export function isFloorCommand(command: { cmd: string }): command is FloorCommand {
  return FLOOR_COMMANDS.has(command.cmd);
}

type Print = (message: Record<string, unknown>) => void;

let rawSubscribers: Redis[] = [];
let floorClients: SecretsManagerClient[] = [];
let floorSecretId = '';

/**
 * `print` answers the command; `printSample` is the fleet's batched writer (one stdout write per
 * turn of the event loop), used for receipts as for our samples.
 */
export async function runFloorCommand(command: FloorCommand, print: Print, printSample: Print): Promise<void> {
  switch (command.cmd) {
    case 'raw-start': {
      const { phase, channel, firstIndex } = command;
      rawSubscribers = await Promise.all(
        Array.from({ length: command.count }, async (_, i) => {
          const redis = new Redis(command.url);
          const subscriber = firstIndex + i;
          redis.on('message', (_channel: string, message: string) => {
            // Stamped first: the receipt is the message in hand, as for ours (minus verification).
            const receivedAt = now();
            printSample({ type: 'raw-sample', phase, subscriber, seq: Number(message.slice(0, message.indexOf(' '))), receivedAt });
          });
          await redis.subscribe(channel);
          return redis;
        }),
      );
      print({ type: 'raw-ready', phase, count: rawSubscribers.length });
      return;
    }
    case 'raw-stop': {
      await Promise.allSettled(rawSubscribers.map((redis) => redis.quit().catch(() => redis.disconnect())));
      rawSubscribers = [];
      print({ type: 'raw-stopped', phase: command.phase });
      return;
    }
    case 'floor-start': {
      floorSecretId = command.secretId;
      floorClients = Array.from(
        { length: command.count },
        () => new SecretsManagerClient({ endpoint: command.sm.endpoint, region: command.sm.region, credentials: { ...command.sm.credentials }, ...SECRETS_CLIENT_SETTINGS }),
      );
      // One read each first, as every cache makes at start: the rounds then find a warm client
      // and an open keep-alive connection, as a subscriber's refresh does.
      await Promise.all(floorClients.map((client) => client.send(new GetSecretValueCommand({ SecretId: floorSecretId, VersionStage: 'AWSCURRENT' }))));
      print({ type: 'floor-ready', phase: command.phase, count: floorClients.length });
      return;
    }
    case 'floor-round': {
      // One stamp for the round, then every call: like ours, where a process's caches all have
      // the invalidation in hand before the first of their refreshes starts (the refresh runs on
      // the next turn of the event loop), so each call's time includes the CPU of the calls
      // issued before it.
      const startedAt = now();
      const durations = await Promise.all(
        floorClients.map(async (client) => {
          await client.send(new GetSecretValueCommand({ SecretId: floorSecretId, VersionId: command.versionId }));
          return now() - startedAt;
        }),
      );
      print({ type: 'floor-round', phase: command.phase, round: command.round, durations });
      return;
    }
    case 'floor-stop': {
      for (const client of floorClients) client.destroy();
      floorClients = [];
      print({ type: 'floor-stopped', phase: command.phase });
      return;
    }
  }
}
