/**
 * The worker on its own: idle cost, then a burst of events.
 *
 * The worker runs as its own process (`rotation-relay worker`, compiled, under plain node), consuming
 * fauxqs, publishing on a private redis-server and confirming with DescribeSecret against the
 * latency double. Measured from outside through /proc: RSS and CPU while idle (long-polling an
 * empty queue), then peak RSS while it drains a burst enqueued as fast as SQS takes it. The burst
 * is what rotations really produce: per rotated secret the four events of one rotation
 * (PutSecretValue AWSPENDING — ignored —, UpdateSecretVersionStage, RotationSucceeded and Secret
 * Label Updated — one broadcast, two duplicates). Per-message latency is the worker's own
 * `PublishLatencyMs` metric (SQS receive → PUBLISH), read from its EMF output. A second, smaller
 * burst with the double's delay at 0 ms shows what bounds throughput: the read latency or the CPU.
 *
 * The floor, in the same run right after the worker: bare sqs-consumer loops (the worker's package
 * and version, bench/support/bare-consumer-process.ts) as their own compiled process on a fresh
 * queue of the same fauxqs, with the worker's receive settings (its config, read from the same
 * environment), whose handler only reads the secret with one DescribeSecret per message on the
 * same double (same delay) and deletes the message. The same bodies (same burst size and event
 * mix), measured the same way (idle RSS, events/s from the first send to an empty queue, peak RSS
 * from /proc). It shows what a consumer of this queue costs before any of the worker's own work.
 *
 * Usage: tsx bench/worker.ts [--quick] [--events 20000] [--delay-ms 20] [--consumers N] [--fast-publish true|false]
 *        [--cpu-prof-dir DIR] [--node-flags="--max-old-space-size=64"] [--out FILE]
 * (`--consumers` and `--fast-publish` set ROTATION_RELAY_CONSUMERS / ROTATION_RELAY_FAST_PUBLISH, default: the
 * worker's own defaults; `--cpu-prof-dir` makes the worker write a V8 CPU profile there when it exits.)
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GetQueueAttributesCommand, PurgeQueueCommand } from '@aws-sdk/client-sqs';
import { registerCleanup } from '../test/support/cleanup-registry.js';
import { freePort } from '../test/support/free-port.js';
import { MotoSecrets, type TestSecret } from '../test/support/moto-secrets.js';
import type { MotoHandle } from '../test/support/moto-server.js';
import { rotationEvents } from '../test/support/rotation-events.js';
import { loadWorkerConfig, SETTINGS } from '../src/config/index.js';
import { bareConsumerSettings, consumerOptions, sqsConsumerVersion } from './support/bare-consumer.js';
import { now, sleep } from './support/clock.js';
import { cpuSeconds, memoryMb } from './support/proc.js';
import { startRelay } from './support/relay.js';
import { machine, progressFor, round, scenarioArgs, writeResult } from './support/scenario.js';
import { DOUBLE_DEFAULTS, startSecretsManagerDouble } from '../test/support/secrets-manager-double.js';
import { summarize } from './support/stats.js';

const args = scenarioArgs('worker', ['events', 'delay-ms', 'idle-seconds', 'consumers', 'fast-publish', 'cpu-prof-dir', 'node-flags']);
const progress = progressFor('worker');
const EVENTS = Number(args.options.events ?? (args.quick ? 1_200 : 20_000));
const IDLE_SECONDS = Number(args.options['idle-seconds'] ?? (args.quick ? 3 : 30));
const delayMs = Number(args.options['delay-ms'] ?? DOUBLE_DEFAULTS.delayMs);
const ZERO_DELAY_EVENTS = args.quick ? 400 : 8_000;
/** The worker's settings under test; unset means the worker's defaults (what users run). */
const workerSettings: Record<string, string> = {
  ...(args.options.consumers ? { ROTATION_RELAY_CONSUMERS: args.options.consumers } : {}),
  ...(args.options['fast-publish'] ? { ROTATION_RELAY_FAST_PUBLISH: args.options['fast-publish'] } : {}),
};
const cpuProfArgs = args.options['cpu-prof-dir'] ? ['--cpu-prof', '--cpu-prof-dir', args.options['cpu-prof-dir']] : [];
/** Extra V8/Node flags for the worker process (investigations only: the report says which were used). */
const nodeFlags = args.options['node-flags'] ? args.options['node-flags'].split(' ').filter(Boolean) : [];
/**
 * A burst not drained by then is reported as it stands (`complete: false`, events/s over what was
 * handled): the whole run must stay within its time budget even on a busy machine.
 */
const DRAIN_DEADLINE_S = args.quick ? { main: 15, zero: 8 } : { main: 150, zero: 40 };
const EVENTS_PER_ROTATION = 4;

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Where the worker is compiled for this run (node_modules is ignored by git and by the linter). */
const BUILD_DIR = fileURLToPath(new URL('../node_modules/.cache/rotation-relay-bench/dist/', import.meta.url));
/** Where the floor's process is transpiled for this run. */
const FLOOR_DIR = fileURLToPath(new URL('../node_modules/.cache/rotation-relay-bench/floor/', import.meta.url));

/**
 * The worker as it runs in production: compiled JavaScript under plain `node`. Compiles src/ with
 * the project's build config into a cache directory; if that fails (say src/ is mid-edit), falls
 * back to running the TypeScript through tsx and says so in the result (tsx adds its own memory).
 */
async function workerCommand(): Promise<{ args: string[]; runtime: string }> {
  // `npm ci` builds dist/ (the prepare script): when it is newer than every source file, it is
  // what we would compile, and reusing it saves a compile of several seconds (the quick run in CI).
  if (distIsFresh()) return { args: [`${ROOT}dist/ops/cli/main.js`, 'worker'], runtime: 'node dist/ops/cli/main.js worker (the build from npm run build)' };
  const tsc = spawn(process.execPath, [`${ROOT}node_modules/typescript/bin/tsc`, '-p', 'tsconfig.build.json', '--outDir', BUILD_DIR], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  tsc.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  tsc.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => tsc.on('close', resolve));
  if (code === 0) return { args: [`${BUILD_DIR}ops/cli/main.js`, 'worker'], runtime: 'node dist/ops/cli/main.js worker (compiled with tsconfig.build.json)' };
  progress(`could not compile src/ (${output.split('\n')[0]}); running the worker through tsx instead`);
  return { args: ['--import', 'tsx', `${ROOT}src/ops/cli/main.ts`, 'worker'], runtime: 'node --import tsx src/ops/cli/main.ts worker (tsx adds its own memory)' };
}

/**
 * The floor's process as plain JavaScript under plain node, as the worker runs: tsx (or Node's own
 * type stripping) would add its own memory to the floor's RSS. Each file is transpiled on its own
 * (types removed, nothing checked: typecheck does that); the folder's package.json makes them ESM.
 */
async function floorCommand(): Promise<string[]> {
  const { default: ts } = await import('typescript');
  mkdirSync(FLOOR_DIR, { recursive: true });
  writeFileSync(`${FLOOR_DIR}package.json`, '{ "type": "module" }\n');
  for (const name of ['bare-consumer', 'bare-consumer-process']) {
    const source = readFileSync(`${ROOT}bench/support/${name}.ts`, 'utf8');
    const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 }, fileName: `${name}.ts` });
    writeFileSync(`${FLOOR_DIR}${name}.js`, outputText);
  }
  return [`${FLOOR_DIR}bare-consumer-process.js`];
}

/** True when dist/ops/cli/main.js exists and is newer than src/ and the build config. */
function distIsFresh(): boolean {
  const built = statSync(`${ROOT}dist/ops/cli/main.js`, { throwIfNoEntry: false });
  if (!built) return false;
  const sources = readdirSync(`${ROOT}src`, { recursive: true, encoding: 'utf8' }).map((file) => `${ROOT}src/${file}`);
  const newest = Math.max(...[...sources, `${ROOT}tsconfig.build.json`, `${ROOT}tsconfig.json`].map((file) => statSync(file).mtimeMs));
  return built.mtimeMs > newest;
}

interface WorkerProcess {
  pid: number;
  stdout: string[];
  stderr: string[];
  exited: Promise<unknown>;
  signal(signal: NodeJS.Signals): void;
}

function startWorkerProcess(args: string[], env: Record<string, string>, label = 'bench worker'): WorkerProcess {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const unregister = registerCleanup(label, () => child.kill('SIGKILL'));
  const lines = { stdout: [] as string[], stderr: [] as string[] };
  for (const stream of ['stdout', 'stderr'] as const) {
    let pending = '';
    child[stream].on('data', (chunk: Buffer) => {
      const parts = (pending + chunk.toString('utf8')).split('\n');
      pending = parts.pop() ?? '';
      lines[stream].push(...parts.filter(Boolean));
    });
  }
  const exited = new Promise((resolve) => child.on('close', (code) => {
    unregister();
    resolve(code);
  }));
  return { pid: child.pid ?? 0, stdout: lines.stdout, stderr: lines.stderr, exited, signal: (signal) => child.kill(signal) };
}

const relay = await startRelay();
const double = await startSecretsManagerDouble({ delayMs });
let worker: WorkerProcess | undefined;
let floor: WorkerProcess | undefined;

/** Runs `fn` over `items`, `parallel` at a time. */
async function eachParallel<T>(items: T[], parallel: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    for (let i = next++; i < items.length; i = next++) await fn(items[i] as T);
  }));
}

try {
  const admin = new MotoSecrets({ endpoint: double.endpoint, region: double.region, credentials: double.credentials } as unknown as MotoHandle);
  /** Rotates `count` fresh secrets on the double; returns the events those rotations produce. */
  const prepare = async (count: number, tag: string): Promise<unknown[]> => {
    const secrets: TestSecret[] = [];
    await eachParallel(Array.from({ length: count }, (_, i) => i), 64, async (i) => {
      secrets.push(await admin.create(`bench/worker-${tag}-${i}-${randomUUID().slice(0, 6)}`));
    });
    const bodies: unknown[] = [];
    await eachParallel(secrets, 64, async (secret) => {
      const oldVersion = secret.versionId;
      const versionId = await admin.rotate(secret);
      bodies.push(...rotationEvents(secret.arn, versionId, oldVersion));
    });
    return bodies;
  };
  const rotations = Math.ceil(EVENTS / EVENTS_PER_ROTATION);
  const zeroDelayRotations = Math.ceil(ZERO_DELAY_EVENTS / EVENTS_PER_ROTATION);
  progress(`preparing ${rotations + zeroDelayRotations} rotated secrets on the double for bursts of ${rotations * EVENTS_PER_ROTATION} and ${zeroDelayRotations * EVENTS_PER_ROTATION} events`);
  // Compile the worker while the double fills up (two cores, two jobs).
  const compiled = workerCommand();
  const bodies = await prepare(rotations, 'a');
  const zeroDelayBodies = await prepare(zeroDelayRotations, 'b');

  const command = await compiled;
  const healthPort = await freePort();
  const awsEnv = {
    AWS_ENDPOINT_URL_SQS: relay.fauxqs.endpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: double.endpoint,
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
  };
  const workerEnv = {
    ...relay.env({
      ROTATION_RELAY_METRICS: 'true',
      ROTATION_RELAY_LOG_LEVEL: 'warn',
      ROTATION_RELAY_WAIT_TIME_SECONDS: '20',
      ROTATION_RELAY_VISIBILITY_TIMEOUT_SECONDS: '30',
      ROTATION_RELAY_HEALTH_PORT: String(healthPort),
      ...workerSettings,
    }),
    ...awsEnv,
  };
  // What the worker process reads from that environment: the floor gets the same receive settings.
  const workerConfig = loadWorkerConfig(workerEnv);
  worker = startWorkerProcess([...cpuProfArgs, ...nodeFlags, ...command.args], workerEnv);
  const { pid } = worker;
  const readyBy = now() + 60_000;
  for (;;) {
    const ready = await fetch(`http://127.0.0.1:${healthPort}/readyz`).then((r) => r.ok, () => false);
    if (ready) break;
    if (now() > readyBy) throw new Error(`worker not ready after 60 s: ${worker.stderr.slice(-5).join(' | ')}`);
    await sleep(100);
  }
  progress(`worker (pid ${pid}, ${command.runtime.split(' (')[0]}) ready; idle for ${IDLE_SECONDS} s`);

  /** Mean RSS and CPU of process `pid` over IDLE_SECONDS of long-polling an empty queue. */
  const idle = async (pid: number) => {
    await sleep(2_000); // start-up work (module loading, JIT) done
    const idleCpu0 = cpuSeconds(pid);
    const idleRss: number[] = [];
    for (let s = 0; s < IDLE_SECONDS; s += 1) {
      await sleep(1_000);
      idleRss.push(memoryMb(pid).rssMb);
    }
    return { idleCpuPercent: ((cpuSeconds(pid) - idleCpu0) / IDLE_SECONDS) * 100, idleRssMb: idleRss.reduce((a, b) => a + b, 0) / idleRss.length };
  };
  const { idleCpuPercent, idleRssMb } = await idle(pid);
  progress(`idle: RSS ${round(idleRssMb)} MB, CPU ${round(idleCpuPercent, 2)} %`);

  /** Enqueues `events` as fast as SQS takes them and waits until the queue is empty; `pid` is the consumer's process. */
  const burst = async (pid: number, events: unknown[], label: string, deadlineS: number) => {
    double.resetStats();
    const cpu0 = cpuSeconds(pid);
    const started = now();
    let sampling = true;
    const rss: number[] = [];
    const sampler = (async () => {
      while (sampling) {
        rss.push(memoryMb(pid).rssMb);
        await sleep(250);
      }
    })();
    await relay.sendMany(events, 16);
    const enqueued = now();
    progress(`${label}: ${events.length} events enqueued in ${Math.round(enqueued - started)} ms; draining`);
    let lastReport = now();
    let left = events.length;
    for (;;) {
      const { Attributes: a = {} } = await relay.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: relay.queue.queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
      );
      left = Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0);
      if (left === 0) break;
      if (now() - started > deadlineS * 1000) {
        progress(`${label}: deadline of ${deadlineS} s reached with ${left} events left; reporting what was handled`);
        break;
      }
      if (now() - lastReport > 10_000) {
        lastReport = now();
        progress(`${label}: ${events.length - left}/${events.length} handled (${Math.round(((events.length - left) / (now() - started)) * 1000)} events/s)`);
      }
      await sleep(50);
    }
    const drained = now();
    sampling = false;
    await sampler;
    const seconds = (drained - started) / 1000;
    return {
      drained,
      events: events.length,
      handled: events.length - left,
      complete: left === 0,
      seconds: round(seconds, 2),
      enqueueSeconds: round((enqueued - started) / 1000, 2),
      eventsPerSec: Math.round((events.length - left) / seconds),
      cpuPercent: round(((cpuSeconds(pid) - cpu0) / seconds) * 100),
      rssMeanMb: round(rss.reduce((a, b) => a + b, 0) / Math.max(1, rss.length)),
      // The consumer's reads during the burst: for the worker, one per invalidating event without
      // sharing; for the floor, one per message.
      describeSecretCalls: double.stats().byOperation.DescribeSecret ?? 0,
    };
  };

  const main = await burst(pid, bodies, `burst (${delayMs} ms reads)`, DRAIN_DEADLINE_S.main);
  const { peakRssMb } = memoryMb(pid);
  progress(`${main.eventsPerSec} events/s at ${delayMs} ms per DescribeSecret; now the same at 0 ms`);
  double.setDelay(0);
  // What an unfinished first burst left behind must not count for the second one.
  if (!main.complete) await relay.sqs.send(new PurgeQueueCommand({ QueueUrl: relay.queue.queueUrl }));
  const zero = await burst(pid, zeroDelayBodies, 'burst (0 ms reads)', DRAIN_DEADLINE_S.zero);
  double.setDelay(delayMs);

  worker.signal('SIGTERM');
  await worker.exited;

  // The floor, now that the worker is gone (it would share the two cores). A fresh queue: the
  // worker's aborted long polls may stay registered in fauxqs and swallow messages.
  const floorQueue = await relay.newQueue();
  const floorSettings = bareConsumerSettings({ ...workerConfig, queueUrl: floorQueue.queueUrl });
  // The same Node flags as the worker (--node-flags): a heap setting is judged against a floor
  // that runs under it too, never against an unconstrained one.
  floor = startWorkerProcess([...nodeFlags, ...(await floorCommand()), JSON.stringify(floorSettings)], { AWS_REGION: relay.fauxqs.region, ...awsEnv }, 'bench worker floor');
  const floorReadyBy = now() + 30_000;
  while (!floor.stdout.some((line) => line.startsWith('{"type":"ready"'))) {
    if (now() > floorReadyBy) throw new Error(`floor not ready after 30 s: ${floor.stderr.slice(-5).join(' | ')}`);
    await sleep(50);
  }
  progress(`floor (bare sqs-consumer ${sqsConsumerVersion()}, pid ${floor.pid}, ${floorSettings.consumers} consumers) ready; idle for ${IDLE_SECONDS} s`);
  const floorIdle = await idle(floor.pid);
  const floorMain = await burst(floor.pid, bodies, `floor burst (${delayMs} ms reads)`, DRAIN_DEADLINE_S.main);
  const floorPeakRssMb = memoryMb(floor.pid).peakRssMb;
  floor.signal('SIGTERM');
  await floor.exited;
  const stoppedLine = floor.stdout.find((line) => line.startsWith('{"type":"stopped"'));
  const floorCounts = stoppedLine ? (JSON.parse(stoppedLine) as { acked: number; failed: number }) : undefined;
  // PublishLatencyMs (SQS receive → PUBLISH) from the EMF documents written during the main burst.
  const latencies: number[] = [];
  const totals: Record<string, number> = {};
  for (const line of worker.stdout) {
    if (!line.includes('"_aws"')) continue;
    const record = JSON.parse(line) as Record<string, unknown> & { _aws: { Timestamp: number } };
    for (const name of ['InvalidationsPublished', 'DuplicateEvents', 'EventsIgnored', 'EventsReceived', 'PublishErrors']) {
      const value = record[name];
      if (value === undefined) continue;
      totals[name] = (totals[name] ?? 0) + (Array.isArray(value) ? value.reduce((a: number, b: number) => a + b, 0) : Number(value));
    }
    const latency = record.PublishLatencyMs;
    if (latency !== undefined && record._aws.Timestamp <= main.drained) latencies.push(...(Array.isArray(latency) ? (latency as number[]) : [Number(latency)]));
  }
  const latency = summarize(latencies);
  const { drained: _drained, ...mainFigures } = main;
  const { drained: _zeroDrained, ...zeroFigures } = zero;
  const result = {
    scenario: 'worker',
    quick: args.quick,
    date: new Date().toISOString(),
    machine: machine(),
    runtime: command.runtime,
    double: { delayMs },
    // The worker's effective settings (its defaults unless --consumers / --fast-publish were given).
    settings: {
      consumers: SETTINGS.worker.consumers.read(workerSettings),
      fastPublish: SETTINGS.worker.fastPublish.read(workerSettings),
      ...(nodeFlags.length > 0 ? { nodeFlags } : {}),
    },
    worker: {
      ...mainFigures,
      rotations,
      p50Ms: latency.p50,
      p99Ms: latency.p99,
      maxMs: latency.max,
      latencySamples: latency.count,
      rssPeakMb: round(peakRssMb),
      idleRssMb: round(idleRssMb),
      idleCpuPercent: round(idleCpuPercent, 2),
      idleSeconds: IDLE_SECONDS,
      // The worker's own counters, over both bursts (its metrics are not split by burst).
      bothBursts: {
        received: totals.EventsReceived ?? 0,
        published: totals.InvalidationsPublished ?? 0,
        duplicates: totals.DuplicateEvents ?? 0,
        ignored: totals.EventsIgnored ?? 0,
        publishErrors: totals.PublishErrors ?? 0,
      },
      zeroDelay: { ...zeroFigures, rotations: zeroDelayRotations },
      // The floor: a bare sqs-consumer process on the same burst (see the header).
      floor: {
        eventsPerSecond: floorMain.eventsPerSec,
        peakRssMb: round(floorPeakRssMb),
        idleRssMb: round(floorIdle.idleRssMb),
        idleCpuPercent: round(floorIdle.idleCpuPercent, 2),
        events: floorMain.events,
        handled: floorMain.handled,
        complete: floorMain.complete,
        seconds: floorMain.seconds,
        enqueueSeconds: floorMain.enqueueSeconds,
        cpuPercent: floorMain.cpuPercent,
        rssMeanMb: floorMain.rssMeanMb,
        describeSecretCalls: floorMain.describeSecretCalls,
        // Its own count of deleted messages and of messages whose DescribeSecret failed (not deleted).
        acked: floorCounts?.acked ?? null,
        failed: floorCounts?.failed ?? null,
        runtime: 'node bare-consumer-process.js (bench/support, transpiled)',
        settings: {
          sqsConsumer: sqsConsumerVersion(),
          consumers: floorSettings.consumers,
          ...consumerOptions(floorSettings),
          handler: 'one DescribeSecret per message (the secret named in the body), then DeleteMessageBatch of the batch',
          describeSecretDelayMs: delayMs,
        },
      },
    },
  };
  writeResult(args.out, result);
  progress(
    `${main.eventsPerSec} events/s (${zero.eventsPerSec} at 0 ms), p99 ${latency.p99} ms, peak RSS ${result.worker.rssPeakMb} MB; ` +
      `floor ${floorMain.eventsPerSec} events/s, peak RSS ${result.worker.floor.peakRssMb} MB; done: ${args.out}`,
  );
} finally {
  worker?.signal('SIGKILL');
  floor?.signal('SIGKILL');
  await Promise.allSettled([double.stop(), relay.stop()]);
}
process.exit(0);
