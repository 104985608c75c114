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
 * Those are pooled over (subscriber, rotation). Per rotation, the last of the N instances:
 *   all delivered = enqueue → the last instance's verified invalidation in hand
 *   all switched  = enqueue → the last instance switched
 *   fan-out (last) = the worker's publish script sent (stamped on the worker's Redis connection
 *                    just before the EVALSHA is written, see support/stamped-worker.ts) → the last
 *                    instance's verified invalidation in hand
 * Secrets Manager is the latency double (fixed delay, no throughput ceiling) for every N, and
 * moto_server for N = 1 and 10.
 *
 * Floors, per N on the double, in the same fleet processes right after our phase at that N (the
 * subscribers stopped; support/fleet-floors.ts):
 *   raw fan-out (last) = a bare PUBLISH (stamped just before the call) of a message as long as our
 *     invalidation → the last of N plain ioredis subscribers (SUBSCRIBE, no SDK, no verification)
 *     has it; as many publishes as our rotations.
 *   refresh floor = N bare GetSecretValue by VersionId (as many as our fleet made per rotation),
 *     each from its own client, a process's calls fired at one moment → each call's answer; as
 *     many rounds as our rotations.
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
import { Redis } from 'ioredis';
import { CACHE_DEFAULTS } from '../src/entry/index.js';
import type { MessageOutcome } from '../src/relay/worker/handle-message.js';
import { type MotoHandle, startMoto } from '../test/support/moto-server.js';
import { MotoSecrets, type TestSecret } from '../test/support/moto-secrets.js';
import { labelUpdatedEvent } from '../test/support/rotation-events.js';
import { JsonLineChild, type ChildMessage } from './support/child.js';
import { now, sleep } from './support/clock.js';
import { startRelay, type Relay } from './support/relay.js';
import { stampSends, startStampedWorker, type ScriptSent, type StampedWorker } from './support/stamped-worker.js';
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

/** One plain subscriber's receipt of one raw PUBLISH (`seq` numbers the publishes of a phase). */
interface RawSample {
  phase: string;
  subscriber: number;
  seq: number;
  receivedAt: number;
}

interface Backend {
  name: 'double' | 'moto';
  admin: MotoSecrets;
  client: SecretsManagerClient;
  sm: { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };
}

/** Samples by key (a version; a raw publish), and promises for "all N subscribers reported key k". */
class Collector<T> {
  private readonly byKey = new Map<string, T[]>();
  private readonly waiters = new Map<string, { count: number; resolve: (samples: T[]) => void }>();

  constructor(private readonly keyOf: (sample: T) => string) {}

  add(sample: T): void {
    const key = this.keyOf(sample);
    const list = this.byKey.get(key) ?? [];
    list.push(sample);
    this.byKey.set(key, list);
    const waiter = this.waiters.get(key);
    if (waiter && list.length >= waiter.count) {
      this.waiters.delete(key);
      waiter.resolve(list);
    }
  }

  /** Resolves with every sample of `key` once `count` arrived, or with what arrived by the timeout. */
  waitFor(key: string, count: number, timeoutMs: number): Promise<T[]> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(key);
        resolve(this.byKey.get(key) ?? []);
      }, timeoutMs);
      const done = (samples: T[]): void => {
        clearTimeout(timer);
        resolve(samples);
      };
      const have = this.byKey.get(key) ?? [];
      if (have.length >= count) done(have);
      else this.waiters.set(key, { count, resolve: done });
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
const collector = new Collector<Sample>((s) => s.versionId);
const rawCollector = new Collector<RawSample>((s) => `${s.phase}:${s.seq}`);
/** By version: when the worker's outcome said published (the script's reply back). */
const published = new Map<string, number>();
/** By version: when the worker's publish script was sent, and the message it published (the last send wins: an EVAL after a NOSCRIPT). */
const scriptSent = new Map<string, ScriptSent>();
const workers: StampedWorker[] = [];
const onScriptSent = (sent: ScriptSent): void => {
  if (sent.versionId !== undefined) scriptSent.set(sent.versionId, sent);
};

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
  for (const child of children) {
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'sample') collector.add(m as unknown as Sample);
      else if (m.type === 'raw-sample') rawCollector.add(m as unknown as RawSample);
    });
  }

  const largest = Math.max(...PLAN.double.map(([n]) => n ?? 0));
  const capacity = await relay.checkCapacity(largest * 2 + 50);
  progress(`capacity: redis maxclients ${capacity.maxclients}, open-file limit ${capacity.fdLimit} (largest fleet: ${largest} subscribers = ${largest * 2} Redis connections)`);

  const backend = (name: Backend['name'], endpoint: string, region: string, credentials: Backend['sm']['credentials']): Backend => {
    const sm = { endpoint, region, credentials };
    return { name, sm, admin: new MotoSecrets(sm as unknown as MotoHandle), client: new SecretsManagerClient({ ...sm, credentials: { ...credentials } }) };
  };
  const doubleBackend = backend('double', doubleEndpoint, DOUBLE_DEFAULTS.region, { accessKeyId: 'double', secretAccessKey: 'double' });
  const motoBackend = backend('moto', moto.endpoint, moto.region, { ...moto.credentials });

  async function startFleet(phase: string, n: number, secret: TestSecret, sm: Backend, mode: 'push' | 'poll', pollIntervalMs?: number, refreshStartQuietMs?: number): Promise<void> {
    const counts = spread(n, PROCESSES);
    let first = 0;
    await Promise.all(
      counts.map((count, i) => {
        const command = {
          cmd: 'start', phase, count, firstIndex: first, mode, secretId: secret.arn, sm: sm.sm,
          bus: { url: relay.redis.url, signingKeys: relay.signingKeys },
          ...(pollIntervalMs !== undefined ? { pollIntervalMs } : {}),
          ...(refreshStartQuietMs !== undefined ? { refreshStartQuietMs } : {}),
        };
        first += count;
        return children[i]?.request(command, 'ready', 180_000);
      }),
    );
  }

  /** The fleet processes' CPU since "ready" or the previous call (ms, summed over the processes). */
  async function fleetCpu(phase: string, n: number): Promise<number> {
    const used = children.slice(0, Math.min(PROCESSES, n));
    const replies = await Promise.all(used.map((child) => child.request({ cmd: 'cpu', phase }, 'cpu', 60_000)));
    return replies.reduce((total, r) => total + Number(r.cpuMs), 0);
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

  /**
   * Our fleet at N through `rotations` rotations. `refreshStartQuietMs` overrides the caches'
   * default (the order comparison below); the floors run only for the default.
   */
  async function pushPhase(sm: Backend, n: number, rotations: number, refreshStartQuietMs?: number) {
    const phase = `push-${sm.name}-${n}${refreshStartQuietMs === undefined ? '' : `-quiet${refreshStartQuietMs}`}`;
    const secret = await sm.admin.create(`bench/propagation-${sm.name}-${n}-${randomBytes(3).toString('hex')}`, rdsValue());
    const started = now();
    await startFleet(phase, n, secret, sm, 'push', undefined, refreshStartQuietMs);
    progress(`${sm.name} N=${n}: ${n} subscribers ready in ${Math.round(now() - started)} ms; ${rotations} rotations (+${WARMUP} warm-up)`);
    const delivery: number[] = [];
    const refresh: number[] = [];
    const endToEnd: number[] = [];
    const publish: number[] = [];
    // Per rotation, the last of the N instances (what "the fleet has it" waits for).
    const allDelivered: number[] = [];
    const allSwitched: number[] = [];
    const fanOutLast: number[] = [];
    let messageBytes = 0;
    let versionId = '';
    const anomalies = { missing: 0, notSwitched: 0, otherTrigger: 0 };
    const loopStarted = now();
    for (let r = 0; r < WARMUP + rotations; r += 1) {
      versionId = await rotate(sm, secret);
      const all = collector.waitFor(versionId, n, CONVERGE_TIMEOUT_MS);
      const enqueuedAt = now();
      await relay.send(labelUpdatedEvent(secret.arn, versionId));
      const samples = await all;
      const publishedAt = published.get(versionId);
      const sent = scriptSent.get(versionId);
      if (sent) messageBytes = Buffer.byteLength(sent.message);
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
      if (samples.length > 0) {
        const lastInHand = Math.max(...samples.map((s) => s.inHandAt));
        allDelivered.push(lastInHand - enqueuedAt);
        allSwitched.push(Math.max(...samples.map((s) => s.switchedAt)) - enqueuedAt);
        if (sent) fanOutLast.push(lastInHand - sent.at);
      }
      if ((r - WARMUP + 1) % Math.max(1, Math.ceil(rotations / 4)) === 0) {
        progress(`${sm.name} N=${n}: ${r - WARMUP + 1}/${rotations} rotations, last end-to-end max ${round(Math.max(...samples.map((s) => s.switchedAt - enqueuedAt)))} ms`);
      }
      await sleep(100);
    }
    // The rotations' window, then the idle floor: the same fleet, as long, with no rotation (its
    // heartbeats, timers and presence writes), so that what a change costs can be told apart.
    const busyCpuMs = await fleetCpu(phase, n);
    await sleep(now() - loopStarted);
    const idleCpuMs = await fleetCpu(phase, n);
    const stopped = await stopFleet(phase, n);
    // Every subscriber read the secret once at start; the rest are reads caused by rotations.
    const perChange = (stopped.getSecretValue - n) / (n * (WARMUP + rotations));
    const d = summarize(delivery);
    const f = summarize(refresh);
    const e = summarize(endToEnd);
    const p = summarize(publish);
    const ad = summarize(allDelivered);
    const as = summarize(allSwitched);
    const fo = summarize(fanOutLast);
    // The floors at this N, on the double only: moto_server's reads are its own queue, not a floor.
    const floors =
      sm.name === 'double' && refreshStartQuietMs === undefined
        ? {
            ...(await rawFanOut(phase, n, rotations, messageBytes)),
            ...(await refreshFloor(phase, n, Math.max(1, Math.round((stopped.getSecretValue - n) / (WARMUP + rotations))), rotations, sm, secret, versionId)),
          }
        : {};
    return {
      subscribers: n,
      secretsManager: sm.name,
      refreshStartQuietMs: refreshStartQuietMs ?? CACHE_DEFAULTS.refreshStartQuietMs,
      processes: Math.min(PROCESSES, n),
      rotations,
      samples: endToEnd.length,
      publishP50Ms: p.p50, publishP99Ms: p.p99, publishMaxMs: p.max,
      deliveryP50Ms: d.p50, deliveryP99Ms: d.p99, deliveryMaxMs: d.max,
      refreshP50Ms: f.p50, refreshP99Ms: f.p99, refreshMaxMs: f.max,
      endToEndP50Ms: e.p50, endToEndP99Ms: e.p99, endToEndMaxMs: e.max,
      allDeliveredP50Ms: ad.p50, allDeliveredP99Ms: ad.p99, allDeliveredMaxMs: ad.max,
      allSwitchedP50Ms: as.p50, allSwitchedP99Ms: as.p99, allSwitchedMaxMs: as.max,
      fanOutLastP50Ms: fo.p50, fanOutLastP99Ms: fo.p99, fanOutLastMaxMs: fo.max,
      fanOutRotations: fo.count,
      ...floors,
      getSecretValuePerChange: round(perChange, 3),
      // The fleet processes' CPU over the rotations (from "ready" to the last one, idle heartbeats
      // included), per subscriber and rotation: on 2 cores this is what bounds end to end at large N.
      fleetCpuMsPerChange: round(busyCpuMs / (n * (WARMUP + rotations)), 2),
      // The same fleet idle for as long, per subscriber and rotation slot: the floor.
      fleetIdleCpuMsPerChange: round(idleCpuMs / (n * (WARMUP + rotations)), 2),
      // Computed: the two above, subtracted — what a change itself costs one instance.
      fleetCpuNetMsPerChange: round((busyCpuMs - idleCpuMs) / (n * (WARMUP + rotations)), 2),
      ...anomalies,
    };
  }

  /**
   * The fan-out floor at N: as many plain ioredis subscribers as our fleet, spread the same way
   * over the same processes, and a bare PUBLISH from this process (where the worker runs) of a
   * message as long as our invalidation. Per publish: PUBLISH sent → the last subscriber's receipt.
   */
  async function rawFanOut(phase: string, n: number, publishes: number, messageBytes: number) {
    const channel = `bench:raw-fanout:${phase}`;
    const counts = spread(n, PROCESSES);
    let first = 0;
    await Promise.all(
      counts.map((count, i) => {
        const command = { cmd: 'raw-start', phase, count, firstIndex: first, url: relay.redis.url, channel };
        first += count;
        return children[i]?.request(command, 'raw-ready', 60_000);
      }),
    );
    const publisher = new Redis(relay.redis.url);
    // Stamped where the worker's publish script is (support/stamped-worker.ts): just before the write.
    let sentAt = Number.NaN;
    stampSends(publisher, ['publish'], (_command, at) => (sentAt = at));
    const last: number[] = [];
    let missing = 0;
    let sentBytes = 0;
    let cpuMs = 0;
    try {
      await publisher.ping();
      await fleetCpu(phase, n); // the mark: CPU is counted from here
      for (let r = 0; r < WARMUP + publishes; r += 1) {
        const all = rawCollector.waitFor(`${phase}:${r}`, n, CONVERGE_TIMEOUT_MS);
        // The sequence number leads, the rest pads to our invalidation's length (ASCII, like it).
        const message = `${r} `.padEnd(Math.max(messageBytes, 16), 'x');
        sentBytes = Buffer.byteLength(message);
        sentAt = Number.NaN;
        await publisher.publish(channel, message);
        const receipts = await all;
        if (r >= WARMUP) {
          missing += n - receipts.length;
          if (receipts.length > 0) last.push(Math.max(...receipts.map((s) => s.receivedAt)) - sentAt);
        }
        await sleep(100);
      }
      cpuMs = await fleetCpu(phase, n);
    } finally {
      publisher.disconnect();
      await Promise.all(children.slice(0, counts.length).map((child) => child.request({ cmd: 'raw-stop', phase }, 'raw-stopped', 60_000)));
    }
    const l = summarize(last);
    progress(`raw fan-out N=${n}: ${publishes} publishes of ${sentBytes} bytes (ours: ${messageBytes}), last receipt p50 ${l.p50} / p99 ${l.p99} ms`);
    return {
      rawFanOutLastP50Ms: l.p50, rawFanOutLastP99Ms: l.p99, rawFanOutLastMaxMs: l.max,
      rawPublishes: l.count, rawMessageBytes: sentBytes, invalidationBytes: messageBytes, rawMissing: missing,
      // The raw subscribers' CPU per subscriber and publish, at the same pacing as our rotations.
      rawFanOutCpuMsPerPublish: round(cpuMs / (n * (WARMUP + publishes)), 3),
    };
  }

  /**
   * The refresh floor at N: `calls` bare GetSecretValue by VersionId per round (as many as our
   * fleet made per rotation), one client each, spread like the subscribers; per call, the round's
   * start in its process → the answer.
   */
  async function refreshFloor(phase: string, n: number, calls: number, rounds: number, sm: Backend, secret: TestSecret, versionId: string) {
    const counts = spread(calls, PROCESSES);
    const used = children.slice(0, counts.length);
    await Promise.all(counts.map((count, i) => children[i]?.request({ cmd: 'floor-start', phase, count, secretId: secret.arn, sm: sm.sm }, 'floor-ready', 120_000)));
    const durations: number[] = [];
    let cpuMs = 0;
    try {
      await fleetCpu(phase, calls); // the mark: CPU is counted from here
      for (let r = 0; r < WARMUP + rounds; r += 1) {
        const replies = await Promise.all(used.map((child) => child.request({ cmd: 'floor-round', phase, round: r, versionId }, 'floor-round', 60_000)));
        if (r >= WARMUP) for (const reply of replies) durations.push(...(reply.durations as number[]));
        await sleep(100);
      }
      cpuMs = await fleetCpu(phase, calls);
    } finally {
      await Promise.all(used.map((child) => child.request({ cmd: 'floor-stop', phase }, 'floor-stopped', 60_000)));
    }
    const f = summarize(durations);
    progress(`refresh floor N=${n}: ${rounds} rounds of ${calls} GetSecretValue, p50 ${f.p50} / p99 ${f.p99} ms`);
    return {
      refreshFloorP50Ms: f.p50, refreshFloorP99Ms: f.p99, refreshFloorMaxMs: f.max, refreshFloorCallsPerRound: calls, refreshFloorRounds: rounds, refreshFloorSamples: f.count,
      // The bare calls' CPU per call, at the same pacing as our rotations.
      refreshFloorCpuMsPerCall: round(cpuMs / (calls * (WARMUP + rounds)), 3),
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
  const onOutcome = (o: MessageOutcome): void => {
    if (o.kind === 'published') published.set(o.versionId, now());
  };
  const doubleWorker = await startStampedWorker(relay, doubleBackend.client, onOutcome, onScriptSent);
  workers.push(doubleWorker);
  for (const [n = 1, rotations = 1] of PLAN.double) propagation.push(await pushPhase(doubleBackend, n, rotations));
  // Both orders at the largest N (issue 16): refreshes started on the next turn after each
  // invalidation (refreshStartQuietMs 0, the order before the start gate) against the default.
  const [orderN = 1, orderRotations = 1] = PLAN.double.find(([n]) => n === largest) ?? [];
  const nextTurn = await pushPhase(doubleBackend, orderN, orderRotations, 0);

  // Poll-only baseline, same subscribers and double, invalidations off.
  const pollRuns = [];
  const allStaleness: number[] = [];
  for (const n of PLAN.poll.sizes) pollRuns.push(await pollPhase(doubleBackend, n, PLAN.poll.rotations, PLAN.poll.intervalMs));
  await doubleWorker.stop();

  // Ours, against moto_server.
  const motoWorker = await startStampedWorker(relay, motoBackend.client, onOutcome, onScriptSent);
  workers.push(motoWorker);
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
    /** The largest double row again with refreshes started on the next turn (refreshStartQuietMs 0). */
    refreshStartNextTurn: nextTurn,
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
  await Promise.allSettled(workers.map((worker) => worker.stop()));
  await Promise.allSettled(children.map((child) => child.stop()));
  await Promise.allSettled([doubleProcess?.stop(), moto?.stop(), relay.stop()]);
}
process.exit(0);
