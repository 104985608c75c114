import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fleetStatusOf, readFleet, readFleetStatus } from '../../../src/sdk/fleet/index.js';
import { silentLogger } from '../../../src/common/logger.js';
import { createInvalidation, protocolKeys, publishInvalidation, readPublishedVersions, DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_PRESENCE_TTL_MS, DEFAULT_LAST_SEEN_RETENTION_MS } from '../../../src/protocol/index.js';
import { PresenceWriter } from '../../../src/sdk/cache/presence.js';
import { startRedis, type RedisHandle } from '../../support/redis-server.js';
import { waitUntil } from '../../support/wait-until.js';

/**
 * What fleet presence costs Redis: N instances (default 1,000), each with its own connection and
 * the production writer (PresenceWriter) at the production defaults — a heartbeat every 10 s,
 * TTL 30 s — acking 3 secrets, started spread over one heartbeat period as a real fleet is.
 * Measured on a private redis-server: commands/s and redis-server CPU time (INFO commandstats and
 * used_cpu_sys + used_cpu_user, minus an idle baseline with the same connections open), memory
 * per instance, an ack burst (every instance acks a rotation at once), and the reader's time to
 * compute convergence. Prints the figures; asserts only that the fleet is complete, never timings.
 *
 * FLEET_LOAD_INSTANCES and FLEET_LOAD_WINDOW_SECONDS override the size and the measured window.
 */
const INSTANCES = Number(process.env.FLEET_LOAD_INSTANCES ?? 1_000);
const WINDOW_MS = Number(process.env.FLEET_LOAD_WINDOW_SECONDS ?? 30) * 1_000;
const BASELINE_MS = 10_000;
const PREFIX = 'rotation-relay';
const SECRETS = ['app/db', 'app/cache', 'app/mail'].map((name, i) => ({
  name,
  arn: `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${name}-Abc${i}ef`,
  versionId: `00000000-0000-4000-8000-00000000000${i}`,
}));

interface RedisCounters {
  cpu: number;
  calls: Map<string, number>;
  memory: number;
}

async function counters(redis: Redis): Promise<RedisCounters> {
  const [cpuInfo, statsInfo, memoryInfo] = await Promise.all([redis.info('cpu'), redis.info('commandstats'), redis.info('memory')]);
  const field = (info: string, name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  const calls = new Map<string, number>();
  for (const match of statsInfo.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1] as string, Number(match[2]));
  return { cpu: field(cpuInfo, 'used_cpu_sys') + field(cpuInfo, 'used_cpu_user'), calls, memory: field(memoryInfo, 'used_memory') };
}

function delta(before: RedisCounters, after: RedisCounters, exclude: string[] = ['info']): { cpu: number; calls: Record<string, number>; total: number } {
  const calls: Record<string, number> = {};
  let total = 0;
  for (const [name, value] of after.calls) {
    if (exclude.includes(name)) continue;
    const d = value - (before.calls.get(name) ?? 0);
    if (d > 0) {
      calls[name] = d;
      total += d;
    }
  }
  return { cpu: after.cpu - before.cpu, calls, total };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))] ?? Number.NaN;

describe(`fleet presence load: ${INSTANCES} instances heartbeating`, () => {
  let server: RedisHandle;
  let probe: Redis;
  const clients: Redis[] = [];
  const writers: PresenceWriter[] = [];

  beforeAll(async () => {
    server = await startRedis({ extraArgs: ['--maxclients', String(INSTANCES + 100)] });
    probe = new Redis(server.url);
  });

  afterAll(async () => {
    await Promise.allSettled(writers.map((w) => w.stop()));
    for (const client of clients) client.disconnect();
    probe?.disconnect();
    await server?.stop();
  });

  it('measures commands/s, redis-server CPU, memory, an ack burst and the reader', async () => {
    // Prepare: one connection per instance, opened first so the baseline includes them.
    for (let i = 0; i < INSTANCES; i += 1) clients.push(new Redis(server.url, { lazyConnect: false, connectionName: `load-${i}` }));
    await waitUntil(() => clients.every((c) => c.status === 'ready'), { message: 'every connection', timeoutMs: 60_000, intervalMs: 100 });
    // The versions hash as the worker leaves it, so the reader does what status and the worker do.
    for (const secret of SECRETS) {
      await publishInvalidation(probe, PREFIX, createInvalidation({ secretArn: secret.arn, secretName: secret.name, versionId: secret.versionId, reason: 'load', eventId: `load-${secret.name}`, eventTime: new Date().toISOString() }));
    }
    const idleStart = await counters(probe);
    await sleep(BASELINE_MS);
    const idle = delta(idleStart, await counters(probe));

    // Act 1: start the writers spread over one heartbeat period, then measure a steady window.
    const held = SECRETS.map((s) => ({ name: s.name, secret: s.arn, versionId: s.versionId }));
    const memoryBefore = (await counters(probe)).memory;
    for (let i = 0; i < INSTANCES; i += 1) {
      const client = clients[i] as Redis;
      const writer = new PresenceWriter({
        keyPrefix: PREFIX,
        instanceId: `load-host-${i}:${10_000 + i}:${i.toString(16).padStart(6, '0')}`,
        heartbeatIntervalMs: DEFAULT_HEARTBEAT_INTERVAL_MS,
        ttlMs: DEFAULT_PRESENCE_TTL_MS,
        lastSeenRetentionMs: DEFAULT_LAST_SEEN_RETENTION_MS,
        client: () => client,
        held: () => held,
        subscribed: () => true,
        now: () => Date.now(),
        logger: silentLogger(),
      });
      writers.push(writer);
      writer.start();
      await sleep(DEFAULT_HEARTBEAT_INTERVAL_MS / INSTANCES);
    }
    await waitUntil(async () => (await readFleet(probe, PREFIX)).live.length === INSTANCES, { message: 'every instance registered', timeoutMs: 30_000 });
    const memoryAfter = (await counters(probe)).memory;
    const windowStart = await counters(probe);
    const windowStartedAt = Date.now();
    await sleep(WINDOW_MS);
    const windowEnd = await counters(probe);
    const seconds = (Date.now() - windowStartedAt) / 1_000;
    const load = delta(windowStart, windowEnd);

    // Act 2: a rotation reaches everyone at once — every instance writes its ack in the same instant.
    const rotated = SECRETS[0] as (typeof SECRETS)[number];
    await publishInvalidation(probe, PREFIX, createInvalidation({ secretArn: rotated.arn, secretName: rotated.name, versionId: '11111111-1111-4111-8111-111111111111', reason: 'load', eventId: 'load-rotation', eventTime: new Date().toISOString() }));
    held[0] = { ...(held[0] as (typeof held)[number]), versionId: '11111111-1111-4111-8111-111111111111' };
    const burstStart = await counters(probe);
    const burstStartedAt = performance.now();
    for (const writer of writers) writer.ack();
    await waitUntil(async () => (await readFleet(probe, PREFIX)).live.every((i) => i.acks.some((a) => a.versionId === '11111111-1111-4111-8111-111111111111')), {
      message: 'every ack',
      timeoutMs: 30_000,
      intervalMs: 5,
    });
    const burstMs = performance.now() - burstStartedAt;
    const burst = delta(burstStart, await counters(probe), ['info', 'zrangebyscore', 'hgetall']);

    // Act 3: the reader, as status / wait-converged / the worker's check run it; and its pure part.
    const readTimes: number[] = [];
    const computeTimes: number[] = [];
    let status: Awaited<ReturnType<typeof readFleetStatus>> | undefined;
    const published = await readPublishedVersions(probe, PREFIX);
    for (let i = 0; i < 20; i += 1) {
      const started = performance.now();
      status = await readFleetStatus(probe, PREFIX);
      readTimes.push(performance.now() - started);
      const computeStarted = performance.now();
      fleetStatusOf(status.fleet, published);
      computeTimes.push(performance.now() - computeStarted);
    }
    const hashBytes = Number(await probe.call('MEMORY', 'USAGE', protocolKeys(PREFIX).instance(writers[0]?.instanceId ?? '')));

    const perHeartbeat = load.total / (seconds * (INSTANCES / (DEFAULT_HEARTBEAT_INTERVAL_MS / 1_000)));
    const report = {
      instances: INSTANCES,
      heartbeatIntervalMs: DEFAULT_HEARTBEAT_INTERVAL_MS,
      ttlMs: DEFAULT_PRESENCE_TTL_MS,
      secretsPerInstance: SECRETS.length,
      windowSeconds: Number(seconds.toFixed(1)),
      commandsPerSecond: Number((load.total / seconds).toFixed(1)),
      commandsPerHeartbeat: Number(perHeartbeat.toFixed(2)),
      commandsByName: Object.fromEntries(Object.entries(load.calls).map(([name, calls]) => [name, Number((calls / seconds).toFixed(1))])),
      redisCpuPercent: Number(((load.cpu / seconds) * 100).toFixed(2)),
      redisCpuPercentIdleBaseline: Number(((idle.cpu / (BASELINE_MS / 1_000)) * 100).toFixed(2)),
      redisCpuMsPerSecondAboveIdle: Number((((load.cpu / seconds) - idle.cpu / (BASELINE_MS / 1_000)) * 1_000).toFixed(2)),
      usedMemoryGrowthPerInstanceBytes: Math.round((memoryAfter - memoryBefore) / INSTANCES),
      presenceHashBytes: hashBytes,
      ackBurst: { pipelines: INSTANCES, commands: burst.total, allVisibleAfterMs: Math.round(burstMs), redisCpuMs: Number((burst.cpu * 1_000).toFixed(1)) },
      reader: { readFleetStatusMedianMs: Number(percentile(readTimes, 50).toFixed(1)), readFleetStatusP95Ms: Number(percentile(readTimes, 95).toFixed(1)), computeMedianMs: Number(percentile(computeTimes, 50).toFixed(2)), samples: readTimes.length },
    };
    process.stdout.write(`[fleet-load] ${JSON.stringify(report)}\n`);

    // Assess: the fleet is complete; the figures are reported, not asserted.
    expect(status?.fleet.live).toHaveLength(INSTANCES);
    for (const secret of SECRETS) {
      expect(status?.secrets.find((s) => s.secretArn === secret.arn)?.convergence).toMatchObject({ instances: INSTANCES, holders: expect.any(Array), stale: [] });
    }
  }, 240_000);
});
