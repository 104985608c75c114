/**
 * One process of the `scale` scenario's listen-only fleet: `count` plain ioredis connections, each
 * SUBSCRIBEd to the real invalidation channel, each stamping its receipt of the expected
 * invalidation. No CredentialCache: what is measured is Redis's fan-out to that many connections,
 * not the SDK (the propagation scenario measures the SDK at N ≤ 500).
 *
 * With `verify: 'signature'` each receipt is stamped after the SDK's own verifier
 * (createInvalidationVerifier, the signing keys) accepted the message, as a cache has it "in hand";
 * with `verify: 'none'` (the default) it is stamped on arrival, before anything else is done.
 *
 * Commands (JSON lines on stdin):
 *   {"cmd":"start","count","firstIndex","url","channel","verify","signingKeys","parallel"} → {"type":"ready","count","startMs"}
 *   {"cmd":"expect","seq","eventId"}    → {"type":"expecting","seq"}; then, once every connection
 *                                          of this process has it: {"type":"complete","seq","last"}
 *   {"cmd":"report","seq"}              → {"type":"report","seq","received","times":[receivedAt…],"stray","rejected"}
 *   {"cmd":"health","intervalMs"}       → {"type":"health-on"}: from now on each connection PINGs once per
 *                                          interval (first at a random point of it), as the SDK's listener
 *                                          checks its subscribed connection once per heartbeat
 *   {"cmd":"stop"}                      → {"type":"stopped","pings","pingFailures"}
 */
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { createInvalidationVerifier } from '../../src/protocol/index.js';
import { now } from './clock.js';

interface StartCommand {
  cmd: 'start';
  count: number;
  firstIndex: number;
  url: string;
  channel: string;
  verify: 'none' | 'signature';
  signingKeys: string[];
  /** Connections opened at once (a connect storm beyond the listen backlog only measures SYN retries). */
  parallel: number;
}

type Command = StartCommand | { cmd: 'expect'; seq: number; eventId: string } | { cmd: 'report'; seq: number } | { cmd: 'health'; intervalMs: number } | { cmd: 'stop' };

const print = (message: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(message)}\n`);
};

let connections: Redis[] = [];
const timers: NodeJS.Timeout[] = [];
/** The publish this process waits for: receipts of anything else count as stray. */
let expected: { seq: number; eventId: string; times: number[]; completed: boolean } | undefined;
const done = new Map<number, number[]>();
let stray = 0;
let rejected = 0;
let pings = 0;
let pingFailures = 0;

async function start(command: StartCommand): Promise<void> {
  const started = now();
  const verifier = command.verify === 'signature' ? createInvalidationVerifier({ keys: command.signingKeys }) : undefined;
  const onMessage = (_channel: string, message: string): void => {
    let receivedAt = now();
    if (verifier) {
      if (!verifier.verify(message).ok) {
        rejected += 1;
        return;
      }
      receivedAt = now();
    }
    const current = expected;
    // A substring test, not a parse: the unverified receipt does nothing to the message but this.
    if (!current || !message.includes(current.eventId)) {
      stray += 1;
      return;
    }
    current.times.push(receivedAt);
    if (!current.completed && current.times.length === connections.length) {
      current.completed = true;
      print({ type: 'complete', seq: current.seq, last: receivedAt });
    }
  };
  const opened: Redis[] = [];
  for (let offset = 0; offset < command.count; offset += command.parallel) {
    const batch = Array.from({ length: Math.min(command.parallel, command.count - offset) }, async () => {
      // Like the SDK's subscriber connection: ioredis defaults, a subscription, a message handler.
      const redis = new Redis(command.url, { maxRetriesPerRequest: 1 });
      redis.on('error', () => undefined);
      redis.on('message', onMessage);
      await redis.subscribe(command.channel);
      return redis;
    });
    opened.push(...(await Promise.all(batch)));
  }
  connections = opened;
  print({ type: 'ready', count: connections.length, startMs: Math.round(now() - started) });
}

function expect(seq: number, eventId: string): void {
  if (expected) done.set(expected.seq, expected.times);
  expected = { seq, eventId, times: [], completed: false };
  print({ type: 'expecting', seq });
}

function report(seq: number): void {
  const times = expected?.seq === seq ? expected.times : (done.get(seq) ?? []);
  print({ type: 'report', seq, received: times.length, times, stray, rejected });
}

function health(intervalMs: number): void {
  for (const redis of connections) {
    const ping = (): void => {
      pings += 1;
      redis.ping().catch(() => {
        pingFailures += 1;
      });
    };
    // The first at a random point of the interval, then once per interval: a fleet's checks spread
    // over the heartbeat, as instances that started at different times do.
    const first = setTimeout(() => {
      ping();
      timers.push(setInterval(ping, intervalMs));
    }, Math.random() * intervalMs);
    timers.push(first);
  }
  print({ type: 'health-on' });
}

async function stop(): Promise<void> {
  for (const timer of timers) clearInterval(timer);
  await Promise.allSettled(connections.map((redis) => redis.quit().catch(() => redis.disconnect())));
  connections = [];
  print({ type: 'stopped', pings, pingFailures });
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (!line.trim()) return;
  const command = JSON.parse(line) as Command;
  const run =
    command.cmd === 'start'
      ? start(command)
      : command.cmd === 'stop'
        ? stop()
        : Promise.resolve(command.cmd === 'expect' ? expect(command.seq, command.eventId) : command.cmd === 'report' ? report(command.seq) : health(command.intervalMs));
  run.catch((error: unknown) => print({ type: 'error', message: error instanceof Error ? error.message : String(error) }));
});
lines.on('close', () => process.exit(0));
process.once('SIGTERM', () => process.exit(0));
print({ type: 'hello', pid: process.pid });
