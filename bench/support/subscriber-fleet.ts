/**
 * One process of a subscriber fleet for the propagation benchmark: it hosts a number of app
 * instances' worth of subscribers — each a CredentialCache with its own Secrets Manager client
 * and its own two Redis connections, plus a rotating pg pool that follows the secret (the pool
 * never connects: what is measured is the switch, not PostgreSQL).
 *
 * Commands (JSON lines on stdin):
 *   {"cmd":"start","phase":…,"count":…,"mode":"push"|"poll","secretId":…,"sm":{endpoint,region,credentials},
 *    "bus":{url,signingKeys},"pollIntervalMs":…}   → {"type":"ready","phase",…,"startMs"}
 *   {"cmd":"reads","phase"}                        → {"type":"reads","phase","getSecretValue":n}
 *   {"cmd":"cpu","phase"}                          → {"type":"cpu","phase","cpuMs"}
 *   (`cpuMs`: this process's CPU time since "ready" or the previous "cpu", whichever was last:
 *   the rotations' window, then the same fleet idle for as long — the idle floor)
 *   {"cmd":"stop","phase"}                         → {"type":"stopped","phase","counts":{…},"getSecretValue","cpuMs"}
 *   (`cpuMs`: this process's CPU time from "ready" to "stop")
 * Messages (JSON lines on stdout), one per subscriber and rotation:
 *   {"type":"sample","phase","subscriber","versionId","trigger","inHandAt","switchedAt","switched"}
 * The floors (fleet-floors.ts) run in the same processes, between phases:
 *   {"cmd":"raw-start","phase","count","firstIndex","url","channel"} → {"type":"raw-ready",…};
 *     then one {"type":"raw-sample","phase","subscriber","seq","receivedAt"} per subscriber and PUBLISH
 *   {"cmd":"raw-stop","phase"}                     → {"type":"raw-stopped","phase"}
 *   {"cmd":"floor-start","phase","count","secretId","sm"} → {"type":"floor-ready",…}
 *   {"cmd":"floor-round","phase","round","versionId"} → {"type":"floor-round","phase","round","durations":[ms…]}
 *   {"cmd":"floor-stop","phase"}                   → {"type":"floor-stopped","phase"}
 *
 * Timing, measured from the outside through public APIs only: the cache is given a clock
 * (`now`, a documented option) that reads `performance.timeOrigin + performance.now()`, the same
 * system clock in every process. The `rotated` event carries `latencyMs` = trigger → value in
 * place, where the trigger of an invalidation is stamped when the verified message is in hand (the
 * refresh starts on the next turn of the event loop); so `inHandAt` = (last clock reading, taken by
 * the cache as it put the value in place) − latencyMs.
 * `switchedAt` is read in a `rotated` listener registered after the pool's own, once
 * `pool.rotation.versionId` shows the new version (the switch is synchronous in that event).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createRotatingPgPool, type RotatingPgPool } from '../../src/entry/pg.js';
import { createCredentialCache, type CredentialCache, type RotatedEvent } from '../../src/entry/index.js';
import { SECRETS_CLIENT_SETTINGS } from '../../src/sdk/cache/index.js';
import { now } from './clock.js';
import { isFloorCommand, runFloorCommand, type FloorCommand } from './fleet-floors.js';

interface StartCommand {
  cmd: 'start';
  phase: string;
  count: number;
  /** Offset of this process's first subscriber in the fleet (for unique ids). */
  firstIndex: number;
  mode: 'push' | 'poll';
  secretId: string;
  sm: { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };
  bus?: { url: string; signingKeys: string[] };
  pollIntervalMs?: number;
  /** The caches' `refreshStartQuietMs` (the default when absent). */
  refreshStartQuietMs?: number;
}

type Command = StartCommand | { cmd: 'reads'; phase: string } | { cmd: 'cpu'; phase: string } | { cmd: 'stop'; phase: string } | FloorCommand;

interface Subscriber {
  cache: CredentialCache;
  pool: RotatingPgPool;
  client: SecretsManagerClient;
}

const STARTS_IN_PARALLEL = 25;
const print = (message: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(message)}\n`);
};
/**
 * Samples leave in one write per turn of the event loop, not one per subscriber: a write per
 * sample would put the benchmark's own I/O between the next subscribers' invalidations.
 */
let queued: string[] = [];
const printSample = (message: Record<string, unknown>): void => {
  if (queued.length === 0) setImmediate(() => {
    const lines = queued;
    queued = [];
    process.stdout.write(`${lines.join('\n')}\n`);
  });
  queued.push(JSON.stringify(message));
};

let subscribers: Subscriber[] = [];
let reads = 0;
/** CPU time of this process from "ready" on: what the phase's rotations cost the fleet. */
let cpuAtReady: NodeJS.CpuUsage | undefined;
/** From "ready" or the last "cpu" command: the window the next "cpu" reply covers. */
let cpuAtMark: NodeJS.CpuUsage | undefined;

function cpuSinceMark(phase: string): void {
  const cpu = process.cpuUsage(cpuAtMark);
  cpuAtMark = process.cpuUsage();
  print({ type: 'cpu', phase, cpuMs: (cpu.user + cpu.system) / 1000 });
}

/**
 * `--cpu-prof-dir DIR`: a V8 CPU profile of each phase's measured part only (from "ready" to
 * "stop"), written as `DIR/<phase>-<pid>.cpuprofile`; start-up and shutdown stay out of it.
 */
const PROFILE_DIR = process.argv.includes('--cpu-prof-dir') ? process.argv[process.argv.indexOf('--cpu-prof-dir') + 1] : undefined;
let profiler: Session | undefined;

async function startProfile(): Promise<void> {
  if (PROFILE_DIR === undefined) return;
  profiler = new Session();
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
  await profiler.post('Profiler.start');
}

async function stopProfile(phase: string): Promise<void> {
  if (PROFILE_DIR === undefined || !profiler) return;
  const { profile } = await profiler.post('Profiler.stop');
  profiler.disconnect();
  profiler = undefined;
  writeFileSync(join(PROFILE_DIR, `${phase}-${process.pid}.cpuprofile`), JSON.stringify(profile));
}

function countReads(client: SecretsManagerClient): void {
  client.middlewareStack.add(
    (next, context) => (args) => {
      if (context.commandName === 'GetSecretValueCommand') reads += 1;
      return next(args);
    },
    { step: 'initialize', name: 'benchCountReads' },
  );
}

async function startOne(command: StartCommand, index: number): Promise<Subscriber> {
  // Built like the client a cache builds for itself (SECRETS_CLIENT_SETTINGS), plus the endpoint.
  const client = new SecretsManagerClient({ endpoint: command.sm.endpoint, region: command.sm.region, credentials: { ...command.sm.credentials }, ...SECRETS_CLIENT_SETTINGS });
  countReads(client);
  let lastClock = 0;
  const cache = createCredentialCache({
    secrets: { db: { secretId: command.secretId, json: true } },
    ...(command.mode === 'push' && command.bus
      ? { redis: { url: command.bus.url, cluster: false, keyPrefix: 'rotation-relay' }, signingKeys: command.bus.signingKeys }
      : {}),
    ...(command.pollIntervalMs !== undefined ? { pollIntervalMs: command.pollIntervalMs } : {}),
    ...(command.refreshStartQuietMs !== undefined ? { refreshStartQuietMs: command.refreshStartQuietMs } : {}),
    secretsClient: client,
    now: () => (lastClock = now()),
  });
  await cache.start();
  const pool = createRotatingPgPool(cache, 'db', { max: 1 });
  const subscriber = index + command.firstIndex;
  cache.on('rotated', (event: RotatedEvent) => {
    const switchedAt = now();
    const adoptedAt = lastClock;
    printSample({
      type: 'sample',
      phase: command.phase,
      subscriber,
      versionId: event.versionId,
      trigger: event.trigger,
      inHandAt: adoptedAt - (event.latencyMs ?? 0),
      switchedAt,
      switched: pool.rotation.versionId === event.versionId,
    });
  });
  return { cache, pool, client };
}

async function start(command: StartCommand): Promise<void> {
  const started = now();
  reads = 0;
  const created: Subscriber[] = [];
  for (let offset = 0; offset < command.count; offset += STARTS_IN_PARALLEL) {
    const batch = Array.from({ length: Math.min(STARTS_IN_PARALLEL, command.count - offset) }, (_, i) => startOne(command, offset + i));
    created.push(...(await Promise.all(batch)));
  }
  subscribers = created;
  cpuAtReady = process.cpuUsage();
  cpuAtMark = cpuAtReady;
  await startProfile();
  print({ type: 'ready', phase: command.phase, count: created.length, startMs: Math.round(now() - started) });
}

async function stop(phase: string): Promise<void> {
  const cpu = process.cpuUsage(cpuAtReady);
  await stopProfile(phase);
  const counts = { refreshes: 0, failures: 0, invalidationsReceived: 0, invalidationsRejected: 0, missedByEvents: 0 };
  for (const { cache } of subscribers) {
    const status = cache.status().counts;
    for (const key of Object.keys(counts) as Array<keyof typeof counts>) counts[key] += status[key];
  }
  await Promise.all(
    subscribers.map(async ({ cache, pool, client }) => {
      await Promise.allSettled([pool.end(), cache.stop()]);
      client.destroy();
    }),
  );
  subscribers = [];
  print({ type: 'stopped', phase, counts, getSecretValue: reads, cpuMs: (cpu.user + cpu.system) / 1000 });
}

async function runCommand(command: Exclude<Command, FloorCommand>): Promise<void> {
  switch (command.cmd) {
    case 'start':
      return start(command);
    case 'stop':
      return stop(command.phase);
    case 'cpu':
      return cpuSinceMark(command.phase);
    case 'reads':
      return print({ type: 'reads', phase: command.phase, getSecretValue: reads });
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (!line.trim()) return;
  const command = JSON.parse(line) as Command;
  const run = isFloorCommand(command) ? runFloorCommand(command, print, printSample) : runCommand(command);
  run.catch((error: unknown) => print({ type: 'error', message: error instanceof Error ? error.message : String(error) }));
});
lines.on('close', () => process.exit(0));
process.once('SIGTERM', () => process.exit(0));
print({ type: 'hello', pid: process.pid });
