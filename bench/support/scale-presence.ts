/**
 * One process of the `scale` scenario's presence load: `count` simulated SDK instances, each the
 * SDK's own PresenceWriter (src/sdk/cache/presence.ts) at the defaults it is given (heartbeat,
 * TTL, retention), acking 3 secrets — so the commands Redis gets are exactly those instances' own
 * (ZADD, HSET, PEXPIRE, and ZREMRANGEBYSCORE on heartbeats), one pipeline per write. The writers
 * share `connections` ioredis connections (round robin) instead of one each: the fleet's other
 * 10,000 connections are the listeners', and the open-file limit has no room for 10,000 more.
 *
 * Writer g of the whole simulated fleet (`firstIndex` + its index here) starts at
 * `startAt + g × rampMs / total`, so the fleet's writes are spread over one heartbeat like
 * instances started at different times.
 *
 * Commands (JSON lines on stdin):
 *   {"cmd":"start","count","firstIndex","total","url","keyPrefix","heartbeatIntervalMs","ttlMs",
 *    "lastSeenRetentionMs","connections","startAt","rampMs","secrets":[{name,secret,versionId}]}
 *       → {"type":"started"}; then {"type":"registered","at"} once every writer's first write succeeded
 *   {"cmd":"ack","versionId"}  → the first secret is now held at `versionId` and every writer acks it
 *       (what a rotation makes each instance do); {"type":"acked","startedAt","at"} once every
 *       writer has written a pipeline that carries it
 *   {"cmd":"stop"}             → {"type":"stopped","writes","failedWrites"} (writers stopped, which
 *       deregisters them: ZREM + DEL, as a clean shutdown does)
 */
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { silentLogger } from '../../src/common/logger.js';
import { PresenceWriter, type HeldAck } from '../../src/sdk/cache/presence.js';
import { now } from './clock.js';

interface StartCommand {
  cmd: 'start';
  count: number;
  firstIndex: number;
  total: number;
  url: string;
  keyPrefix: string;
  heartbeatIntervalMs: number;
  ttlMs: number;
  lastSeenRetentionMs: number;
  connections: number;
  startAt: number;
  rampMs: number;
  secrets: HeldAck[];
}

type Command = StartCommand | { cmd: 'ack'; versionId: string } | { cmd: 'stop' };

const print = (message: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(message)}\n`);
};

interface Simulated {
  writer: PresenceWriter;
  /** The ack generation of the held versions its last pipeline was built with. */
  builtGen: number;
  registered: boolean;
  ackedGen: number;
}

let clients: Redis[] = [];
let fleet: Simulated[] = [];
const startTimers: NodeJS.Timeout[] = [];
let held: HeldAck[] = [];
/** Bumped by every `ack`: a pipeline built after the bump carries the new version. */
let gen = 0;
let registered = 0;
let acked = 0;
let ackStartedAt = 0;
let writes = 0;
let failedWrites = 0;

/**
 * The writer's connection, seen through a proxy that reports each pipeline's completion with the
 * generation it was built with: the only way to know, without reading the fleet back from Redis
 * (which would load the server being measured), when every instance's write has landed.
 */
function observed(client: Redis, sim: () => Simulated): Redis {
  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'pipeline') {
        return () => {
          const pipeline = target.pipeline();
          const builtWith = sim().builtGen;
          const exec = pipeline.exec.bind(pipeline);
          pipeline.exec = (async () => {
            const results = await exec();
            landed(sim(), builtWith, !(results ?? []).some(([error]) => error));
            return results;
          }) as typeof pipeline.exec;
          return pipeline;
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function landed(sim: Simulated, builtWith: number, ok: boolean): void {
  writes += 1;
  if (!ok) {
    failedWrites += 1;
    return;
  }
  if (!sim.registered) {
    sim.registered = true;
    registered += 1;
    if (registered === fleet.length) print({ type: 'registered', at: now() });
  }
  if (gen > 0 && builtWith === gen && sim.ackedGen < gen) {
    sim.ackedGen = gen;
    acked += 1;
    if (acked === fleet.length) print({ type: 'acked', startedAt: ackStartedAt, at: now() });
  }
}

async function start(command: StartCommand): Promise<void> {
  held = command.secrets.map((s) => ({ ...s }));
  clients = Array.from({ length: command.connections }, (_, i) => new Redis(command.url, { connectionName: `scale-presence-${command.firstIndex}-${i}` }));
  for (const client of clients) {
    client.on('error', () => undefined);
    // Each writer watches its connection's `ready` (a write after a reconnect); here hundreds
    // share one connection, which is this simulation's choice, not a leak.
    client.setMaxListeners(0);
  }
  await Promise.all(clients.map((client) => client.ping()));
  fleet = Array.from({ length: command.count }, (_, i) => {
    const g = command.firstIndex + i;
    const client = clients[i % clients.length] as Redis;
    // Filled in below: the writer's callbacks need the record that holds the writer.
    const sim = { builtGen: 0, registered: false, ackedGen: 0 } as Simulated;
    sim.writer = new PresenceWriter({
      keyPrefix: command.keyPrefix,
      // The SDK's shape, <host>:<pid>:<6 hex>, one host per simulated instance.
      instanceId: `scale-host-${g}:${10_000 + g}:${g.toString(16).padStart(6, '0')}`,
      heartbeatIntervalMs: command.heartbeatIntervalMs,
      ttlMs: command.ttlMs,
      lastSeenRetentionMs: command.lastSeenRetentionMs,
      client: (() => {
        const proxy = observed(client, () => sim);
        return () => proxy;
      })(),
      held: () => {
        sim.builtGen = gen;
        return held;
      },
      subscribed: () => true,
      now: () => Date.now(),
      logger: silentLogger(),
    });
    return sim;
  });
  for (let i = 0; i < fleet.length; i += 1) {
    const at = command.startAt + ((command.firstIndex + i) * command.rampMs) / command.total;
    const sim = fleet[i] as Simulated;
    startTimers.push(setTimeout(() => sim.writer.start(), Math.max(0, at - Date.now())));
  }
  print({ type: 'started', count: fleet.length });
}

function ack(versionId: string): void {
  const first = held[0];
  if (!first) throw new Error('no secret held');
  held = [{ ...first, versionId }, ...held.slice(1)];
  gen += 1;
  acked = 0;
  ackStartedAt = now();
  for (const sim of fleet) sim.writer.ack();
}

async function stop(): Promise<void> {
  for (const timer of startTimers) clearTimeout(timer);
  await Promise.allSettled(fleet.map((sim) => sim.writer.stop()));
  await Promise.allSettled(clients.map((client) => client.quit().catch(() => client.disconnect())));
  fleet = [];
  clients = [];
  print({ type: 'stopped', writes, failedWrites });
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (!line.trim()) return;
  const command = JSON.parse(line) as Command;
  const run = command.cmd === 'start' ? start(command) : command.cmd === 'stop' ? stop() : Promise.resolve(ack(command.versionId));
  run.catch((error: unknown) => print({ type: 'error', message: error instanceof Error ? error.message : String(error) }));
});
lines.on('close', () => process.exit(0));
process.once('SIGTERM', () => process.exit(0));
print({ type: 'hello', pid: process.pid });
