/**
 * Scenario `scale` (issue 16, item 4): how far one Redis carries a fleet, past what this machine
 * can run as real SDK instances, by simulation.
 *
 * - N listen-only subscribers (default 10,000; 200 with --quick): plain ioredis connections
 *   SUBSCRIBEd to the real invalidation channel, spread over listener processes
 *   (support/scale-listeners.ts), each stamping its receipt of the expected message (on arrival,
 *   or after the SDK's verifier with `--verify signature`).
 * - Presence for M instances (default 10,000; 20 with --quick): the SDK's own PresenceWriter per
 *   simulated instance in a few processes (support/scale-presence.ts), so Redis gets exactly the
 *   commands M instances send at the heartbeat; and each subscriber connection PINGed once per
 *   heartbeat, as the SDK's listener checks its own.
 * - One private redis-server with maxclients raised for the fleet.
 *
 * In order, measured from the outside (INFO on an admin connection, /proc of redis-server):
 * connect; an idle window (CPU with every connection open); publishes with nothing else running
 * (the floor); presence started and registered, then a steady window (commands/s, CPU, memory);
 * the same publishes under that load; ack bursts (every instance acks a new version at once).
 * Each publish is the worker's publish script (publishInvalidation) with a signed invalidation,
 * stamped just before the call; its *last* is the last of the N receipts.
 *
 * Options: --subscribers N, --presence M, --processes P (listener processes), --presence-processes,
 * --presence-connections (shared by the writers, all processes together), --publishes (measured,
 * per series), --heartbeat-ms (default the SDK's, 10 000; 2 000 with --quick so the short window
 * still spans two heartbeats), --window-s (the presence window, default two heartbeats),
 * --verify none|signature.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  createInvalidation,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_LAST_SEEN_RETENTION_MS,
  DEFAULT_PRESENCE_TTL_MS,
  protocolKeys,
  publishInvalidation,
  serializeInvalidation,
  signIfKeyed,
} from '../src/protocol/index.js';
import { startRedis } from '../test/support/redis-server.js';
import { JsonLineChild, type ChildMessage } from './support/child.js';
import { now, sleep } from './support/clock.js';
import { memoryMb } from './support/proc.js';
import { openFileLimit } from './support/relay.js';
import type { Scale, ScaleAckBurst, ScaleDelivery, ScalePresence } from './support/report-scale.js';
import { PRESENCE_COMMANDS, readRedis, redisDelta, redisPid, sumOf, type RedisReading } from './support/scale-redis.js';
import { machine, progressFor, round, scenarioArgs, writeResult } from './support/scenario.js';
import { summarize } from './support/stats.js';

const args = scenarioArgs('scale', ['subscribers', 'presence', 'processes', 'presence-processes', 'presence-connections', 'publishes', 'heartbeat-ms', 'window-s', 'verify']);
const progress = progressFor('scale');
const quick = args.quick;
const option = (name: string, full: number, small: number): number => Number(args.options[name] ?? (quick ? small : full));
const SUBSCRIBERS = option('subscribers', 10_000, 200);
const PRESENCE = option('presence', 10_000, 20);
const PROCESSES = Math.min(SUBSCRIBERS, option('processes', 8, 4));
const PRESENCE_PROCESSES = Math.max(1, Math.min(PRESENCE, option('presence-processes', 2, 1)));
const PRESENCE_CONNECTIONS = Math.max(PRESENCE_PROCESSES, option('presence-connections', 32, 2));
const PUBLISHES = option('publishes', 12, 5);
/** Publishes before each series that are not counted: the listener processes' first receipts after a quiet phase run cold. */
const WARMUP = quick ? 2 : 4;
const HEARTBEAT_MS = option('heartbeat-ms', DEFAULT_HEARTBEAT_INTERVAL_MS, 2_000);
const WINDOW_MS = Number(args.options['window-s'] ?? (2 * HEARTBEAT_MS) / 1000) * 1000;
const IDLE_MS = quick ? 1_000 : 5_000;
const ACK_BURSTS = quick ? 1 : 3;
const VERIFY = args.options.verify === 'signature' ? 'signature' : 'none';
if (!(SUBSCRIBERS >= 1 && PRESENCE >= 1 && PUBLISHES >= 1 && HEARTBEAT_MS > 0)) throw new Error('--subscribers, --presence and --publishes must be at least 1, --heartbeat-ms positive');
if (args.options.verify !== undefined && args.options.verify !== 'signature' && args.options.verify !== 'none') throw new Error('--verify is none or signature');
/** Waiting for one publish's receipts: far beyond any fan-out, short enough to bound a broken run. */
const RECEIPT_TIMEOUT_MS = 30_000;
const PREFIX = 'rotation-relay';
const KEYS = protocolKeys(PREFIX);
const LISTENER = new URL('./support/scale-listeners.ts', import.meta.url).pathname;
const PRESENCE_APP = new URL('./support/scale-presence.ts', import.meta.url).pathname;
const SECRETS = ['app/db', 'app/cache', 'app/mail'].map((name, i) => ({
  name,
  secret: `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${name}-Abc${i}ef`,
  versionId: randomUUID(),
}));
const signingKeys = [randomBytes(32).toString('base64url')];
const loadAverage1mAtStart = machine().loadAverage1m;

/** n items shared out over k parts: sizes and first indexes. */
function shares(n: number, k: number): Array<{ count: number; first: number }> {
  return Array.from({ length: k }, (_, i) => {
    const first = Math.floor((i * n) / k);
    return { count: Math.floor(((i + 1) * n) / k) - first, first };
  }).filter((s) => s.count > 0);
}

const fdLimit = openFileLimit();
const connectionsNeeded = SUBSCRIBERS + PRESENCE_CONNECTIONS + 8;
// redis-server needs a descriptor per client plus 32 of its own; each listener process its share.
if (fdLimit > 0 && fdLimit < connectionsNeeded + 64) {
  throw new Error(`the open-file limit (ulimit -n) is ${fdLimit}; redis-server needs about ${connectionsNeeded + 64} for ${SUBSCRIBERS} subscribers: raise it (ulimit -n ${connectionsNeeded + 1024})`);
}
progress(
  `load average ${loadAverage1mAtStart}; starting redis-server (maxclients ${connectionsNeeded + 128}), ${PROCESSES} listener and ${PRESENCE_PROCESSES} presence processes: ` +
    `${SUBSCRIBERS.toLocaleString('en-US')} subscribers, presence for ${PRESENCE.toLocaleString('en-US')} instances, heartbeat ${HEARTBEAT_MS} ms, verify ${VERIFY}`,
);
const redis = await startRedis({ extraArgs: ['--maxclients', String(connectionsNeeded + 128), '--tcp-backlog', '4096'] });
const admin = new Redis(redis.url, { connectionName: 'scale-admin' });
const publisher = new Redis(redis.url, { connectionName: 'scale-publisher' });
const children: JsonLineChild[] = [];

const spawn = (script: string, label: string): JsonLineChild => {
  const child = new JsonLineChild(script, {}, label);
  child.on('stderr', (line) => process.stderr.write(`  ${label}: ${line}\n`));
  children.push(child);
  return child;
};

try {
  const pid = await redisPid(admin);
  const [, maxclientsValue] = (await admin.config('GET', 'maxclients')) as [string, string];
  const maxclients = Number(maxclientsValue);
  if (maxclients < connectionsNeeded) throw new Error(`redis-server runs with maxclients ${maxclients} (lowered to fit the open-file limit ${fdLimit}); the fleet needs ${connectionsNeeded}`);
  const version = /^redis_version:(\S+)/m.exec(await admin.info('server'))?.[1] ?? 'unknown';

  const listenerShares = shares(SUBSCRIBERS, PROCESSES);
  const presenceShares = shares(PRESENCE, PRESENCE_PROCESSES);
  const connectionShares = shares(PRESENCE_CONNECTIONS, presenceShares.length);
  const listeners = listenerShares.map((_, i) => spawn(LISTENER, `listeners ${i}`));
  const presenceApps = presenceShares.map((_, i) => spawn(PRESENCE_APP, `presence ${i}`));
  await Promise.all(children.map((child) => child.next((m) => m.type === 'hello', 'hello', 60_000)));

  const empty = await readRedis(admin, pid);
  progress(`connecting ${SUBSCRIBERS.toLocaleString('en-US')} subscribers (${listenerShares.map((s) => s.count).join(' + ')})`);
  const connectStarted = now();
  await Promise.all(
    listeners.map((child, i) =>
      child.request({ cmd: 'start', count: listenerShares[i]?.count, firstIndex: listenerShares[i]?.first, url: redis.url, channel: KEYS.channel, verify: VERIFY, signingKeys, parallel: 50 }, 'ready', 180_000),
    ),
  );
  const connectMs = now() - connectStarted;
  const subscribed = await readRedis(admin, pid);
  progress(`${subscribed.connectedClients} clients connected in ${Math.round(connectMs)} ms; used_memory ${round(subscribed.usedMemoryBytes / 2 ** 20)} MB; idle window ${IDLE_MS / 1000} s`);

  await sleep(IDLE_MS);
  const idle = redisDelta(subscribed, await readRedis(admin, pid, 'first'));
  const idleCpuMsPerSecond = idle.cpuMs / idle.seconds;

  let seq = 0;
  /** One publish: every listener told what to expect, the script stamped and called, every receipt awaited. */
  const publishOnce = async (backgroundCpuMsPerSecond: number) => {
    seq += 1;
    const eventId = randomUUID();
    const versionId = randomUUID();
    const invalidation = signIfKeyed(
      createInvalidation({ secretArn: SECRETS[0]?.secret ?? '', secretName: SECRETS[0]?.name ?? '', versionId, reason: `AWSCURRENT moved to version ${versionId}`, eventId, eventTime: new Date().toISOString() }),
      signingKeys,
    );
    await Promise.all(listeners.map((child) => child.request({ cmd: 'expect', seq, eventId }, 'expecting')));
    const s = seq;
    const completes = listeners.map((child) => child.next((m: ChildMessage) => m.type === 'complete' && m.seq === s, `all receipts of publish ${s}`, RECEIPT_TIMEOUT_MS));
    const before = await readRedis(admin, pid);
    const publishedAt = now();
    await publishInvalidation(publisher, PREFIX, invalidation);
    const repliedAt = now();
    const settled = await Promise.allSettled(completes);
    const after = await readRedis(admin, pid, 'first');
    const reports = await Promise.all(listeners.map((child) => child.request({ cmd: 'report', seq: s }, 'report')));
    const times = reports.flatMap((r) => (r['times'] as number[]).map((t) => t - publishedAt));
    const delta = redisDelta(before, after);
    return {
      lastMs: Math.max(...times),
      instanceMs: summarize(times).p50,
      replyMs: repliedAt - publishedAt,
      missing: SUBSCRIBERS - times.length,
      timedOut: settled.filter((r) => r.status === 'rejected').length,
      cpuMs: delta.cpuMs - backgroundCpuMsPerSecond * delta.seconds,
      publish: { calls: delta.calls['publish'] ?? 0, usec: delta.usec['publish'] ?? 0 },
      script: { calls: (delta.calls['evalsha'] ?? 0) + (delta.calls['eval'] ?? 0), usec: (delta.usec['evalsha'] ?? 0) + (delta.usec['eval'] ?? 0) },
      bytes: Buffer.byteLength(serializeInvalidation(invalidation)),
    };
  };

  let messageBytes = 0;
  const series = async (load: ScaleDelivery['load'], backgroundCpuMsPerSecond: number): Promise<ScaleDelivery> => {
    const measured: Array<Awaited<ReturnType<typeof publishOnce>>> = [];
    for (let i = 0; i < WARMUP + PUBLISHES; i += 1) {
      const one = await publishOnce(backgroundCpuMsPerSecond);
      messageBytes = one.bytes;
      if (i >= WARMUP) measured.push(one);
      if (one.timedOut > 0) progress(`${load}: publish ${seq}: ${one.timedOut} listener processes did not get every receipt within ${RECEIPT_TIMEOUT_MS} ms (${one.missing} missing)`);
      if (i >= WARMUP && ((i - WARMUP + 1) % 4 === 0 || i === WARMUP + PUBLISHES - 1)) {
        progress(`${load === 'none' ? 'floor, no presence' : 'under presence load'}: ${i - WARMUP + 1}/${PUBLISHES} publishes, last receipt ${round(one.lastMs)} ms (script reply ${round(one.replyMs)} ms, Redis CPU ${round(one.cpuMs)} ms)`);
      }
      // Pacing, not synchronisation: the next publish lands at a random point of the heartbeat cycle.
      await sleep(200 + Math.random() * 300);
    }
    const last = summarize(measured.map((m) => m.lastMs));
    const sum = (pick: (m: (typeof measured)[number]) => { calls: number; usec: number }) => {
      const calls = measured.reduce((a, m) => a + pick(m).calls, 0);
      return calls === 0 ? Number.NaN : round(measured.reduce((a, m) => a + pick(m).usec, 0) / calls);
    };
    return {
      load,
      publishes: measured.length,
      lastP50Ms: last.p50,
      lastP99Ms: last.p99,
      lastMaxMs: last.max,
      instanceP50Ms: summarize(measured.map((m) => m.instanceMs)).p50,
      replyP50Ms: summarize(measured.map((m) => m.replyMs)).p50,
      missing: measured.reduce((a, m) => a + m.missing, 0),
      redisCpuMsPerPublishP50: summarize(measured.map((m) => m.cpuMs)).p50,
      publishUsecPerCall: sum((m) => m.publish),
      scriptUsecPerCall: sum((m) => m.script),
    };
  };

  const floor = await series('none', idleCpuMsPerSecond);

  // Presence: the writers' starts spread over one heartbeat, the listeners' PINGs on.
  const rampMs = HEARTBEAT_MS;
  progress(`presence for ${PRESENCE.toLocaleString('en-US')} instances: starts spread over ${rampMs} ms, then a ${WINDOW_MS / 1000} s steady window`);
  const beforePresence = await readRedis(admin, pid);
  const startAt = Date.now() + 500;
  const registeredAll = presenceApps.map((child) => child.next((m) => m.type === 'registered', 'every simulated instance registered', rampMs + 120_000));
  await Promise.all([
    ...presenceApps.map((child, i) =>
      child.request(
        {
          cmd: 'start',
          count: presenceShares[i]?.count,
          firstIndex: presenceShares[i]?.first,
          total: PRESENCE,
          url: redis.url,
          keyPrefix: PREFIX,
          heartbeatIntervalMs: HEARTBEAT_MS,
          ttlMs: DEFAULT_PRESENCE_TTL_MS,
          lastSeenRetentionMs: DEFAULT_LAST_SEEN_RETENTION_MS,
          connections: connectionShares[i]?.count ?? 1,
          startAt,
          rampMs,
          secrets: SECRETS,
        },
        'started',
      ),
    ),
    ...listeners.map((child) => child.request({ cmd: 'health', intervalMs: HEARTBEAT_MS }, 'health-on')),
  ]);
  const registered = await Promise.all(registeredAll);
  const registeredMs = Math.max(...registered.map((m) => Number(m['at']))) - startAt;
  const members = await admin.zcard(KEYS.instances);
  if (members !== PRESENCE) throw new Error(`presence: ${members} members in ${KEYS.instances}, expected ${PRESENCE}`);
  const windowStart = await readRedis(admin, pid);
  progress(`${members.toLocaleString('en-US')} instances registered ${Math.round(registeredMs)} ms after the start; used_memory ${round(windowStart.usedMemoryBytes / 2 ** 20)} MB; measuring ${WINDOW_MS / 1000} s`);
  await sleep(WINDOW_MS);
  const windowEnd = await readRedis(admin, pid, 'first');
  // MEMORY USAGE of a few instances' hashes: what one instance's entry holds, beside the delta.
  const sampled = await admin.zrange(KEYS.instances, 0, 4);
  const hashBytes = summarize(await Promise.all(sampled.map(async (id) => Number(await admin.call('MEMORY', 'USAGE', KEYS.instance(id)))))).p50;
  const window = redisDelta(windowStart, windowEnd);
  const presenceCommands = sumOf(window.calls, PRESENCE_COMMANDS);
  const steadyCpuMsPerSecond = window.cpuMs / window.seconds;
  progress(`presence: ${Math.round(presenceCommands / window.seconds)} commands/s, ${Math.round((window.calls['ping'] ?? 0) / window.seconds)} PINGs/s, redis-server ${round((steadyCpuMsPerSecond / 1000) * 100, 2)} % of a core`);

  const loaded = await series('presence', steadyCpuMsPerSecond);

  // Ack bursts: a rotation that reaches every instance makes each write its ack at once.
  const bursts: Array<{ ms: number; commands: number; cpuMs: number }> = [];
  for (let b = 0; b < ACK_BURSTS; b += 1) {
    const versionId = randomUUID();
    const acked = presenceApps.map((child) => child.next((m) => m.type === 'acked', 'every ack written', 60_000));
    const before = await readRedis(admin, pid);
    const startedAt = now();
    for (const child of presenceApps) child.send({ cmd: 'ack', versionId });
    const done = await Promise.all(acked);
    const ms = Math.max(...done.map((m) => Number(m['at']))) - startedAt;
    const delta = redisDelta(before, await readRedis(admin, pid, 'first'));
    bursts.push({ ms, commands: sumOf(delta.calls, PRESENCE_COMMANDS), cpuMs: delta.cpuMs - steadyCpuMsPerSecond * delta.seconds });
    progress(`ack burst ${b + 1}/${ACK_BURSTS}: every instance's ack written after ${Math.round(ms)} ms, ${sumOf(delta.calls, PRESENCE_COMMANDS)} presence commands`);
    await sleep(500);
  }

  const rss = (list: JsonLineChild[]): number =>
    round(
      list.reduce((sum, child) => {
        try {
          return sum + (child.pid === undefined ? 0 : memoryMb(child.pid).rssMb);
        } catch {
          return sum;
        }
      }, 0),
    );
  const listenerRssMb = rss(listeners);
  const presenceRssMb = rss(presenceApps);
  const end = await readRedis(admin, pid);

  const stoppedPresence = await Promise.all(presenceApps.map((child) => child.request({ cmd: 'stop' }, 'stopped', 60_000)));
  await Promise.all(listeners.map((child) => child.request({ cmd: 'stop' }, 'stopped', 60_000)));

  const mbOf = (reading: RedisReading): number => round(reading.usedMemoryBytes / 2 ** 20, 2);
  const presence: ScalePresence = {
    windowSeconds: round(window.seconds, 2),
    commandsPerSecond: round(presenceCommands / window.seconds),
    commandsByName: Object.fromEntries(PRESENCE_COMMANDS.filter((name) => (window.calls[name] ?? 0) > 0).map((name) => [name, round((window.calls[name] ?? 0) / window.seconds)])),
    commandsPerInstancePerHeartbeat: round(presenceCommands / window.seconds / (PRESENCE / (HEARTBEAT_MS / 1000)), 2),
    pingsPerSecond: round((window.calls['ping'] ?? 0) / window.seconds),
    redisCpuPercent: round((steadyCpuMsPerSecond / 1000) * 100, 2),
    redisCpuPercentAboveIdle: round(((steadyCpuMsPerSecond - idleCpuMsPerSecond) / 1000) * 100, 2),
    registeredMs: Math.round(registeredMs),
    rampMs,
    writes: stoppedPresence.reduce((a, m) => a + Number(m['writes']), 0),
    failedWrites: stoppedPresence.reduce((a, m) => a + Number(m['failedWrites']), 0),
  };
  const ackBurst: ScaleAckBurst = {
    bursts: bursts.length,
    allAckedP50Ms: round(summarize(bursts.map((b) => b.ms)).p50),
    allAckedMaxMs: round(summarize(bursts.map((b) => b.ms)).max),
    commandsP50: summarize(bursts.map((b) => b.commands)).p50,
    redisCpuMsAboveSteadyP50: round(summarize(bursts.map((b) => b.cpuMs)).p50),
  };
  const scale: Scale = {
    subscribers: SUBSCRIBERS,
    listenerProcesses: listeners.length,
    presenceInstances: PRESENCE,
    presenceProcesses: presenceApps.length,
    presenceConnections: PRESENCE_CONNECTIONS,
    heartbeatIntervalMs: HEARTBEAT_MS,
    ttlMs: DEFAULT_PRESENCE_TTL_MS,
    secretsPerInstance: SECRETS.length,
    verify: VERIFY,
    messageBytes,
    fdLimit,
    connectMs: Math.round(connectMs),
    listenerRssMb,
    presenceRssMb,
    loadAverage1mAtStart,
    redis: {
      version,
      maxclients,
      connectedClients: subscribed.connectedClients,
      idleCpuPercent: round((idleCpuMsPerSecond / 1000) * 100, 2),
      idleWindowSeconds: round(idle.seconds, 2),
      usedMemoryEmptyMb: mbOf(empty),
      usedMemoryAfterConnectMb: mbOf(subscribed),
      // Read after the idle window and the floor: by then redis-server has shrunk the query buffers
      // the connect storm left (clientsCron, after 2 s idle), which the reading right after it includes.
      usedMemorySubscribedMb: mbOf(beforePresence),
      usedMemoryPresenceMb: mbOf(windowEnd),
      clientsMemorySubscribedMb: round(beforePresence.clientsBytes / 2 ** 20, 2),
      clientsMemoryPresenceMb: round(windowEnd.clientsBytes / 2 ** 20, 2),
      datasetPresenceMb: round(windowEnd.datasetBytes / 2 ** 20, 2),
      bytesPerSubscriber: Math.round((beforePresence.usedMemoryBytes - empty.usedMemoryBytes) / SUBSCRIBERS),
      bytesPerPresenceInstance: Math.round((windowEnd.datasetBytes - beforePresence.datasetBytes) / PRESENCE),
      presenceHashBytes: hashBytes,
      rssMb: round(end.rssMb),
      peakRssMb: round(end.peakRssMb),
    },
    floor,
    loaded,
    presence,
    ackBurst,
  };
  progress(
    `floor: last receipt p50 ${floor.lastP50Ms} / p99 ${floor.lastP99Ms} ms; with presence: p50 ${loaded.lastP50Ms} / p99 ${loaded.lastP99Ms} ms; ` +
      `Redis CPU per publish ${floor.redisCpuMsPerPublishP50} ms; RSS ${scale.redis.rssMb} MB`,
  );
  writeResult(args.out, { scale, machine: machine() });
  progress(`done: ${args.out}`);
} finally {
  await Promise.allSettled(children.map((child) => child.stop()));
  admin.disconnect();
  publisher.disconnect();
  await redis.stop();
}
process.exit(0);
