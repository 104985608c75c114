/**
 * A fleet of raw ioredis subscribers in one process, for load.test.ts: FLEET_CONFIG (JSON) says
 * how many connections to open on which Redis, with which signing keys. Every connection
 * SUBSCRIBEs to the invalidation channel on its own and keeps, per secret, the last version it
 * received. Messages are verified (signature, age) with the protocol's verifier; identical bytes
 * arrive on every connection, so the verdict is memoised per distinct message (verifying the same
 * bytes a thousand times proves nothing more and would starve two cores).
 *
 * Talks JSON lines: prints `ready` once every connection is subscribed; on stdin `check` (with
 * the final version sequence of every secret) it answers with what each connection is missing.
 */
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { createInvalidationVerifier, protocolKeys } from '../../../src/protocol/index.js';

export interface FleetConfig {
  redisUrl: string;
  keyPrefix: string;
  signingKeys: string[];
  /** Connections this process opens. */
  subscribers: number;
  /** Number of secrets (indexes 0 … secrets − 1). */
  secrets: number;
  /** Label of this process in the output. */
  name: string;
}

/** The version ids the load test writes: `v<sequence>-s<secret index>-<random>`. */
const VERSION_RE = /^v(\d+)-s(\d+)-/;

const config = JSON.parse(process.env.FLEET_CONFIG ?? '{}') as FleetConfig;
const print = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ fleet: config.name, ...line })}\n`);
const channel = protocolKeys(config.keyPrefix).channel;
const verifier = createInvalidationVerifier({ keys: config.signingKeys });

/** Verdict per distinct message: the secret index and version sequence, or null (rejected). */
const verdicts = new Map<string, { secret: number; sequence: number } | null>();
let received = 0;
let rejected = 0;

function verdictOf(raw: string): { secret: number; sequence: number } | null {
  let verdict = verdicts.get(raw);
  if (verdict !== undefined) return verdict;
  verdict = null;
  const result = verifier.verify(raw);
  if (result.ok) {
    const match = VERSION_RE.exec(result.invalidation.versionId ?? '');
    const secret = Number(match?.[2]);
    // The version names the secret; the signed secretName must agree with it.
    if (match && result.invalidation.secretName === `load/s${secret}`) verdict = { secret, sequence: Number(match[1]) };
  }
  if (verdicts.size > 50_000) verdicts.clear();
  verdicts.set(raw, verdict);
  return verdict;
}

/** Per connection, per secret: the sequence of the last version received (0 = none yet). */
const last = Array.from({ length: config.subscribers }, () => new Uint16Array(config.secrets));
const clients: Redis[] = [];

async function connect(index: number): Promise<void> {
  const client = new Redis(config.redisUrl, { connectionName: `load:${config.name}:${index}`, enableReadyCheck: false });
  let reported = false;
  client.on('error', (error: Error) => {
    if (!reported) print({ type: 'error', index, message: error.message });
    reported = true;
  });
  const seen = last[index] as Uint16Array;
  client.on('message', (_channel: string, raw: string) => {
    received += 1;
    const verdict = verdictOf(raw);
    if (verdict === null) {
      rejected += 1;
      return;
    }
    if (verdict.secret < seen.length) seen[verdict.secret] = verdict.sequence;
  });
  clients.push(client);
  await client.subscribe(channel);
}

for (let from = 0; from < config.subscribers; from += 100) {
  const to = Math.min(config.subscribers, from + 100);
  await Promise.all(Array.from({ length: to - from }, (_, i) => connect(from + i)));
}
print({ type: 'ready', subscribers: config.subscribers });

const commands = createInterface({ input: process.stdin });
commands.on('line', (line) => {
  const command = JSON.parse(line) as { type: string; finals?: number[] };
  if (command.type === 'check') {
    const finals = command.finals ?? [];
    let lost = 0;
    let subscribersMissing = 0;
    const examples: Array<{ subscriber: number; secret: number; got: number; want: number }> = [];
    last.forEach((seen, subscriber) => {
      let missing = 0;
      finals.forEach((want, secret) => {
        const got = seen[secret] ?? 0;
        if (got === want) return;
        missing += 1;
        if (examples.length < 5) examples.push({ subscriber, secret, got, want });
      });
      lost += missing;
      if (missing > 0) subscribersMissing += 1;
    });
    print({ type: 'check', subscribers: last.length, checked: last.length * finals.length, lost, subscribersMissing, examples, received, rejected });
  } else if (command.type === 'stats') {
    print({ type: 'stats', received, rejected, distinct: verdicts.size });
  }
});

process.once('SIGTERM', () => {
  for (const client of clients) client.disconnect();
  process.exit(0);
});
