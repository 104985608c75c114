/**
 * Propagation vs fleet size, beside the poll-only baseline, in one run.
 *
 * Ours: N subscribers (CredentialCache + rotating pg pool each) spread over 4 processes, the real
 * worker on fauxqs and a private redis-server. Per rotation: the new version is put with
 * AWSPENDING and AWSCURRENT moved (as a rotation Lambda does), then the `Secret Label Updated`
 * event is enqueued. Per subscriber:
 *   delivery   = enqueue → verified invalidation in hand (in the subscriber's process)
 *   refresh    = in hand → new value in place and the rotating client switched
 *   end to end = enqueue → switched
 * and per rotation the worker's share = enqueue → PUBLISH confirmed (the worker's outcome).
 * Secrets Manager is the latency double (fixed delay, no throughput ceiling) for every N, and
 * moto_server for N = 1 and 10.
 *
 * Poll-only baseline: the same subscribers with invalidations off and a poll interval of a few
 * seconds; staleness = AWSCURRENT moved → the subscriber's client switched.
 *
 * Usage: tsx bench/propagation.ts [--quick] [--delay-ms 20] [--sizes 1,500] [--cpu-prof-dir DIR] [--out FILE]
 * (`--cpu-prof-dir` makes every fleet process write a V8 CPU profile of each phase's rotations
 * there, `<phase>-<pid>.cpuprofile`: start-up and shutdown of the fleet are left out.)
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CACHE_DEFAULTS } from '../src/entry/index.js';
import { type MotoHandle, startMoto } from '../test/support/moto-server.js';
import { MotoSecrets, type TestSecret } from '../test/support/moto-secrets.js';
import { labelUpdatedEvent } from '../test/support/rotation-events.js';
import { JsonLineChild, type ChildMessage } from './support/child.js';
import { now, sleep } from './support/clock.js';
import { startRelay, type Relay } from './support/relay.js';
import { machine, progressFor, round, scenarioArgs, writeResult } from './support/scenario.js';
import { DOUBLE_DEFAULTS } from '../test/support/secrets-manager-double.js';
import { summarize } from './support/stats.js';

const args = scenarioArgs('propagation', ['delay-ms', 'processes', 'sizes', 'cpu-prof-dir']);
const progress = progressFor('propagation');
const delayMs = Number(args.options['delay-ms'] ?? DOUBLE_DEFAULTS.delayMs);
const PROCESSES = Number(args.options.processes ?? 4);
const FLEET = fileURLToPath(new URL('./support/subscriber-fleet.ts', import.meta.url));
const DOUBLE = fileURLToPath(new URL('../test/support/secrets-manager-double.ts', import.meta.url));

/** Rotations measured per fleet size (after WARMUP unmeasured ones), and the poll baseline's. */
const PLAN = args.quick
  ? { double: [[1, 8], [10, 8], [100, 5]], moto: [[1, 5], [10, 4]], poll: { intervalMs: 1_000, rotations: 2, sizes: [1, 10, 100] } }
  : { double: [[1, 40], [10, 30], [100, 20], [500, 12]], moto: [[1, 20], [10, 15]], poll: { intervalMs: 2_000, rotations: 6, sizes: [1, 10, 100, 500] } };
// `--sizes 1,500` keeps only those fleet sizes (for a focused run).
if (args.options.sizes) {
  const keep = new Set(args.options.sizes.split(',').map(Number));
  PLAN.double = PLAN.double.filter(([n]) => keep.has(n ?? 0));
  PLAN.moto = PLAN.moto.filter(([n]) => keep.has(n ?? 0));
  PLAN.poll.sizes = PLAN.poll.sizes.filter((n) => keep.has(n));
}
const WARMUP = 2;
const CONVERGE_TIMEOUT_MS = 20_000;

interface Sample {
  phase: string;
  subscriber: number;
  versionId: string;
  trigger: string;
  inHandAt: number;
  switchedAt: number;
  switched: boolean;
}

interface Backend {
  name: 'double' | 'moto';
  admin: MotoSecrets;
  client: SecretsManagerClient;
  sm: { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };
}

/** Samples by version, and promises for "all N subscribers reported version v". */
class Collector {
  private readonly byVersion = new Map<string, Sample[]>();
  private readonly waiters = new Map<string, { count: number; resolve: (samples: Sample[]) => void }>();

  add(sample: Sample): void {
    const list = this.byVersion.get(sample.versionId) ?? [];
    list.push(sample);
    this.byVersion.set(sample.versionId, list);
    const waiter = this.waiters.get(sample.versionId);
    if (waiter && list.length >= waiter.count) {
      this.waiters.delete(sample.versionId);
      waiter.resolve(list);
    }
  }

  /** Resolves with every sample of `versionId` once `count` arrived, or with what arrived by the timeout. */
  waitFor(versionId: string, count: number, timeoutMs: number): Promise<Sample[]> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(versionId);
        resolve(this.byVersion.get(versionId) ?? []);
      }, timeoutMs);
      const done = (samples: Sample[]): void => {
        clearTimeout(timer);
        resolve(samples);
      };
      const have = this.byVersion.get(versionId) ?? [];
      if (have.length >= count) done(have);
      else this.waiters.set(versionId, { count, resolve: done });
    });
  }
}

const rdsValue = (): string =>
  JSON.stringify({ engine: 'postgres', host: '127.0.0.1', port: 5432, dbname: 'app', username: 'app', password: `pw-${randomBytes(12).toString('hex')}` });

function spread(total: number, parts: number): number[] {
  const used = Math.min(parts, total);
  return Array.from({ length: used }, (_, i) => Math.floor(total / used) + (i < total % used ? 1 : 0));
}

const relay: Relay = await startRelay();
const children: JsonLineChild[] = [];
let doubleProcess: JsonLineChild | undefined;
let moto: MotoHandle | undefined;
const collector = new Collector();
const published = new Map<string, number>();

try {
  progress(`starting redis-server, fauxqs, the Secrets Manager double (${delayMs} ms), moto_server and ${PROCESSES} fleet processes`);
  doubleProcess = new JsonLineChild(DOUBLE, {}, 'secrets-manager-double', ['--delay-ms', String(delayMs)]);
  const listening = doubleProcess.next((m) => m.type === 'listening', 'the double to listen', 30_000);
  const profile = args.options['cpu-prof-dir'];
  if (profile) mkdirSync(profile, { recursive: true });
  const fleetArgs = profile ? ['--cpu-prof-dir', profile] : [];
  for (let i = 0; i < PROCESSES; i += 1) children.push(new JsonLineChild(FLEET, {}, `fleet-${i}`, fleetArgs));
  const hellos = children.map((child) => child.next((m) => m.type === 'hello', 'the fleet process to start', 60_000));
  [moto] = await Promise.all([startMoto(), listening, ...hellos]);
  const doubleEndpoint = String((await listening).endpoint);
  for (const child of children) child.on('message', (m: ChildMessage) => m.type === 'sample' && collector.add(m as unknown as Sample));

  const largest = Math.max(...PLAN.double.map(([n]) => n ?? 0));
  const capacity = await relay.checkCapacity(largest * 2 + 50);
  progress(`capacity: redis maxclients ${capacity.maxclients}, open-file limit ${capacity.fdLimit} (largest fleet: ${largest} subscribers = ${largest * 2} Redis connections)`);

  const backend = (name: Backend['name'], endpoint: string, region: string, credentials: Backend['sm']['credentials']): Backend => {
    const sm = { endpoint, region, credentials };
    return { name, sm, admin: new MotoSecrets(sm as unknown as MotoHandle), client: new SecretsManagerClient({ ...sm, credentials: { ...credentials } }) };
  };
  const doubleBackend = backend('double', doubleEndpoint, DOUBLE_DEFAULTS.region, { accessKeyId: 'double', secretAccessKey: 'double' });
  const motoBackend = backend('moto', moto.endpoint, moto.region, { ...moto.credentials });

  async function startFleet(phase: string, n: number, secret: TestSecret, sm: Backend, mode: 'push' | 'poll', pollIntervalMs?: number): Promise<void> {
    const counts = spread(n, PROCESSES);
    let first = 0;
    await Promise.all(
      counts.map((count, i) => {
        const command = {
          cmd: 'start', phase, count, firstIndex: first, mode, secretId: secret.arn, sm: sm.sm,
          bus: { url: relay.redis.url, signingKeys: relay.signingKeys },
          ...(pollIntervalMs !== undefined ? { pollIntervalMs } : {}),
        };
        first += count;
        return children[i]?.request(command, 'ready', 180_000);
      }),
    );
  }

  async function stopFleet(phase: string, n: number): Promise<{ getSecretValue: number; cpuMs: number; counts: Record<string, number> }> {
    const used = children.slice(0, Math.min(PROCESSES, n));
    const replies = await Promise.all(used.map((child) => child.request({ cmd: 'stop', phase }, 'stopped', 60_000)));
    const counts: Record<string, number> = {};
    for (const reply of replies) for (const [k, v] of Object.entries(reply.counts as Record<string, number>)) counts[k] = (counts[k] ?? 0) + v;
    const sum = (key: string): number => replies.reduce((total, r) => total + Number(r[key]), 0);
    return { getSecretValue: sum('getSecretValue'), cpuMs: sum('cpuMs'), counts };
  }

  /** One rotation as a rotation Lambda makes it; returns the new AWSCURRENT version. */
  async function rotate(sm: Backend, secret: TestSecret): Promise<string> {
    const versionId = await sm.admin.putPending(secret, rdsValue());
    await sm.admin.moveCurrent(secret, versionId);
    return versionId;
  }

  async function pushPhase(sm: Backend, n: number, rotations: number) {
    const phase = `push-${sm.name}-${n}`;
    const secret = await sm.admin.create(`bench/propagation-${sm.name}-${n}-${randomBytes(3).toString('hex')}`, rdsValue());
    const started = now();
    await startFleet(phase, n, secret, sm, 'push');
    progress(`${sm.name} N=${n}: ${n} subscribers ready in ${Math.round(now() - started)} ms; ${rotations} rotations (+${WARMUP} warm-up)`);
    const delivery: number[] = [];
    const refresh: number[] = [];
    const endToEnd: number[] = [];
    const publish: number[] = [];
    const anomalies = { missing: 0, notSwitched: 0, otherTrigger: 0 };
    for (let r = 0; r < WARMUP + rotations; r += 1) {
      const versionId = await rotate(sm, secret);
      const all = collector.waitFor(versionId, n, CONVERGE_TIMEOUT_MS);
      const enqueuedAt = now();
      await relay.send(labelUpdatedEvent(secret.arn, versionId));
      const samples = await all;
      const publishedAt = published.get(versionId);
      if (r < WARMUP) continue;
      anomalies.missing += n - samples.length;
      if (publishedAt !== undefined) publish.push(publishedAt - enqueuedAt);
      for (const s of samples) {
        if (!s.switched) anomalies.notSwitched += 1;
        if (s.trigger !== 'invalidation') anomalies.otherTrigger += 1;
        delivery.push(s.inHandAt - enqueuedAt);
        refresh.push(s.switchedAt - s.inHandAt);
        endToEnd.push(s.switchedAt - enqueuedAt);
      }
      if ((r - WARMUP + 1) % Math.max(1, Math.ceil(rotations / 4)) === 0) {
        progress(`${sm.name} N=${n}: ${r - WARMUP + 1}/${rotations} rotations, last end-to-end max ${round(Math.max(...samples.map((s) => s.switchedAt - enqueuedAt)))} ms`);
      }
      await sleep(100);
    }
    const stopped = await stopFleet(phase, n);
    // Every subscriber read the secret once at start; the rest are reads caused by rotations.
    const perChange = (stopped.getSecretValue - n) / (n * (WARMUP + rotations));
    const d = summarize(delivery);
    const f = summarize(refresh);
    const e = summarize(endToEnd);
    const p = summarize(publish);
    return {
      subscribers: n,
      secretsManager: sm.name,
      processes: Math.min(PROCESSES, n),
      rotations,
      samples: endToEnd.length,
      publishP50Ms: p.p50, publishP99Ms: p.p99, publishMaxMs: p.max,
      deliveryP50Ms: d.p50, deliveryP99Ms: d.p99, deliveryMaxMs: d.max,
      refreshP50Ms: f.p50, refreshP99Ms: f.p99, refreshMaxMs: f.max,
      endToEndP50Ms: e.p50, endToEndP99Ms: e.p99, endToEndMaxMs: e.max,
      getSecretValuePerChange: round(perChange, 3),
      // The fleet processes' CPU from "ready" to "stop" (idle heartbeats included), per subscriber
      // and rotation: on 2 cores this is what bounds end to end at large N.
      fleetCpuMsPerChange: round(stopped.cpuMs / (n * (WARMUP + rotations)), 2),
      ...anomalies,
    };
  }

  async function pollPhase(sm: Backend, n: number, rotations: number, intervalMs: number) {
    const phase = `poll-${n}`;
    const secret = await sm.admin.create(`bench/poll-${n}-${randomBytes(3).toString('hex')}`, rdsValue());
    await startFleet(phase, n, secret, sm, 'poll', intervalMs);
    progress(`poll-only N=${n}: interval ${intervalMs} ms, ${rotations} rotations at random points of the poll cycle`);
    const staleness: number[] = [];
    let missing = 0;
    for (let r = 0; r < rotations; r += 1) {
      await sleep(Math.random() * intervalMs);
      const versionId = await rotate(sm, secret);
      const movedAt = now();
      const samples = await collector.waitFor(versionId, n, intervalMs * (1 + CACHE_DEFAULTS.pollJitter) + CONVERGE_TIMEOUT_MS);
      missing += n - samples.length;
      const these = samples.map((s) => s.switchedAt - movedAt);
      staleness.push(...these);
      const t = summarize(these);
      progress(`poll-only N=${n}: rotation ${r + 1}/${rotations}: staleness min ${round(Math.min(...these))} / p50 ${t.p50} / max ${t.max} ms`);
    }
    await stopFleet(phase, n);
    const s = summarize(staleness);
    allStaleness.push(...staleness);
    return { subscribers: n, rotations, samples: staleness.length, meanStalenessMs: s.mean, p50StalenessMs: s.p50, p99StalenessMs: s.p99, maxStalenessMs: s.max, missing };
  }

  // Ours, against the double.
  const propagation = [];
  const doubleWorker = await relay.startWorker(doubleBackend.client, (o) => o.kind === 'published' && published.set(o.versionId, now()));
  for (const [n = 1, rotations = 1] of PLAN.double) propagation.push(await pushPhase(doubleBackend, n, rotations));

  // Poll-only baseline, same subscribers and double, invalidations off.
  const pollRuns = [];
  const allStaleness: number[] = [];
  for (const n of PLAN.poll.sizes) pollRuns.push(await pollPhase(doubleBackend, n, PLAN.poll.rotations, PLAN.poll.intervalMs));
  await doubleWorker.stop();

  // Ours, against moto_server.
  const motoWorker = await relay.startWorker(motoBackend.client, (o) => o.kind === 'published' && published.set(o.versionId, now()));
  for (const [n = 1, rotations = 1] of PLAN.moto) propagation.push(await pushPhase(motoBackend, n, rotations));
  await motoWorker.stop();

  const pooledSummary = summarize(allStaleness);
  const pooled = { samples: pooledSummary.count, meanStalenessMs: pooledSummary.mean, p50StalenessMs: pooledSummary.p50, p99StalenessMs: pooledSummary.p99, maxStalenessMs: pooledSummary.max };
  const result = {
    scenario: 'propagation',
    quick: args.quick,
    date: new Date().toISOString(),
    machine: machine(),
    double: { delayMs, operationsDelayed: ['GetSecretValue', 'DescribeSecret'] },
    processes: PROCESSES,
    warmupRotations: WARMUP,
    propagation,
    pollBaseline: {
      intervalMs: PLAN.poll.intervalMs,
      jitter: CACHE_DEFAULTS.pollJitter,
      rotationsPerSize: PLAN.poll.rotations,
      ...pooled,
      bySubscribers: pollRuns,
      // A poll every P with the rotation at a uniformly random point: mean P/2, worst P (30-min poll: 15 / 30 min).
      defaultIntervalMs: CACHE_DEFAULTS.pollIntervalMs,
      defaultExpectedMeanMs: CACHE_DEFAULTS.pollIntervalMs / 2,
      defaultWorstMs: CACHE_DEFAULTS.pollIntervalMs,
    },
  };
  writeResult(args.out, result);
  progress(`done: ${args.out}`);
} finally {
  await Promise.allSettled(children.map((child) => child.stop()));
  await Promise.allSettled([doubleProcess?.stop(), moto?.stop(), relay.stop()]);
}
process.exit(0);
