/**
 * Scenario `hostile` (issue 13): what a flood on the invalidation channel costs one app instance.
 *
 * Two floods, each against one CredentialCache in its own process (bench/support/hostile-app.ts,
 * so that its RSS is its own), each holding one secret on the Secrets Manager latency double:
 * - `forged`: the unsigned opt-in; N invalidations for the instance's secret, each naming a
 *   random version, pipelined on the channel by one client (anyone who can PUBLISH);
 * - `replayed`: signed; one older genuine message (its version since superseded) published N
 *   times within its max age.
 * Halfway through each flood a genuine rotation is made and broadcast in the same stream.
 *
 * Measured per flood: GetSecretValue calls for the secret (counted by the double, from the mark
 * before the flood until the instance has taken every message and no read follows for 1 s),
 * RSS growth (peak during the flood − the baseline after a full GC at the mark), and the genuine
 * rotation's broadcast → the instance's `rotated` event. Floors, in the same run: the same
 * instance's broadcast → `rotated` for a genuine rotation with no flood; and a receive-only flood
 * just before each (as many messages of the same kind, naming a secret the instance does not
 * hold). The first burst a process takes grows V8's young generation (HOSTILE_NODE_FLAGS=
 * '--max-semi-space-size=1' shows that share shrink), which stays committed: the receive-only floor
 * shows that cost of any 10,000 messages to a cold process, the flood what the SDK adds on top.
 * No peer: no other tool takes invalidations on a channel.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Redis } from 'ioredis';
import { createInvalidation, protocolKeys, publishInvalidation, signIfKeyed, type Invalidation } from '../src/protocol/index.js';
import { startRedis } from '../test/support/redis-server.js';
import { JsonLineChild, type ChildMessage } from './support/child.js';
import type { HostileAppConfig } from './support/hostile-app.js';
import { machine, progressFor, round, scenarioArgs, writeResult } from './support/scenario.js';
import { startSecretsManagerDouble } from '../test/support/secrets-manager-double.js';

const args = scenarioArgs('hostile', ['messages', 'delay-ms']);
const progress = progressFor('hostile');
const MESSAGES = Number(args.options.messages ?? (args.quick ? 2_000 : 10_000));
const DELAY_MS = Number(args.options['delay-ms'] ?? 20);
/** Pipelined in chunks: one client writing as fast as Redis takes it. */
const CHUNK = 500;
const APP = new URL('./support/hostile-app.ts', import.meta.url).pathname;
const CHANNEL = protocolKeys('rotation-relay').channel;

export interface HostileFlood {
  kind: 'forged' | 'replayed';
  messages: number;
  /** GetSecretValue for the instance's secret from the mark to the end of the flood's reads (the genuine rotation's included). */
  getSecretValue: number;
  /** GetSecretValue for the genuine rotation alone, no flood (the floor). */
  floorGetSecretValue: number;
  rssBaselineMb: number;
  rssPeakMb: number;
  rssGrowthMb: number;
  /**
   * The receive-only floor: RSS growth for as many messages of the same kind naming a secret the
   * instance does not hold (parsed, verified, dropped), measured the same way just before.
   */
  floorRssGrowthMb: number;
  /** The genuine rotation's broadcast → `rotated` in the instance, during the flood. */
  genuineSwitchMs: number;
  /** The same without a flood (floor, same instance, same run). */
  floorSwitchMs: number;
  /** First message published → the instance had taken all of them. */
  drainMs: number;
  refreshesThrottled: number;
  invalidationsReceived: number;
}

const [redis, double] = await Promise.all([startRedis(), startSecretsManagerDouble({ delayMs: DELAY_MS })]);
const sm = new SecretsManagerClient({ endpoint: double.endpoint, region: double.region, credentials: double.credentials });
const publisher = new Redis(redis.url);
const signingKeys = [randomBytes(32).toString('base64url')];

/** Messages of one child, awaited by predicate (dispatched as they arrive). */
function next(app: JsonLineChild, test: (m: ChildMessage) => boolean, what: string, timeoutMs = 30_000): Promise<ChildMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      app.off('message', on);
      reject(new Error(`hostile: no ${what} within ${timeoutMs} ms`));
    }, timeoutMs);
    const on = (message: ChildMessage): void => {
      if (!test(message)) return;
      clearTimeout(timer);
      app.off('message', on);
      resolve(message);
    };
    app.on('message', on);
  });
}

function ask(app: JsonLineChild, cmd: string, reply: string): Promise<ChildMessage> {
  const answer = next(app, (m) => m.type === reply, reply);
  app.process.child.stdin?.write(`${JSON.stringify({ cmd })}\n`);
  return answer;
}

/** AWSCURRENT moves to a new version; returns the genuine invalidation the worker would publish. */
async function rotate(secret: { arn: string; name: string }, signed: boolean): Promise<{ versionId: string; message: Invalidation }> {
  const put = await sm.send(new PutSecretValueCommand({ SecretId: secret.arn, SecretString: JSON.stringify({ username: 'app', password: randomBytes(12).toString('hex') }) }));
  const versionId = put.VersionId ?? '';
  const invalidation = createInvalidation({ secretArn: secret.arn, secretName: secret.name, versionId, reason: 'hostile bench: genuine rotation', eventId: randomUUID(), eventTime: new Date().toISOString() });
  return { versionId, message: signed ? signIfKeyed(invalidation, signingKeys) : invalidation };
}

/** Broadcast → `rotated` for `versionId` in the instance. */
async function switchTime(app: JsonLineChild, versionId: string, publish: () => Promise<unknown>): Promise<number> {
  const rotated = next(app, (m) => m.type === 'rotated' && m.versionId === versionId, `rotated to ${versionId}`);
  const at = Date.now();
  await publish();
  return Number((await rotated).at) - at;
}

async function flood(kind: HostileFlood['kind']): Promise<HostileFlood> {
  const signed = kind === 'replayed';
  const name = `hostile/${kind}`;
  const created = await sm.send(new CreateSecretCommand({ Name: name, SecretString: JSON.stringify({ username: 'app', password: randomBytes(12).toString('hex') }) }));
  const secret = { arn: created.ARN ?? '', name };
  const config: HostileAppConfig = { aws: { endpoint: double.endpoint, region: double.region, credentials: double.credentials }, redisUrl: redis.url, secretId: name, signingKeys: signed ? signingKeys : [] };
  const app = new JsonLineChild(APP, { HOSTILE_APP_CONFIG: JSON.stringify(config) }, `hostile-app ${kind}`, [], ['--expose-gc', ...(process.env.HOSTILE_NODE_FLAGS ? process.env.HOSTILE_NODE_FLAGS.split(' ') : [])]);
  app.on('stderr', (line) => process.stderr.write(`  app ${kind}: ${line}\n`));
  try {
    await next(app, (m) => m.type === 'ready', 'ready');

    // Floor: a genuine rotation, nothing else on the channel.
    double.resetStats();
    const first = await rotate(secret, signed);
    const floorSwitchMs = await switchTime(app, first.versionId, () => publishInvalidation(publisher, 'rotation-relay', first.message));
    const floorGetSecretValue = double.stats().getSecretValueBySecret[secret.arn] ?? 0;
    // The replayed message must be an older genuine one: supersede it by another rotation.
    const second = await rotate(secret, signed);
    await switchTime(app, second.versionId, () => publishInvalidation(publisher, 'rotation-relay', second.message));
    const replayed = JSON.stringify(first.message);
    const forged = (): string =>
      JSON.stringify(createInvalidation({ secretArn: secret.arn, secretName: secret.name, versionId: randomUUID(), reason: 'forged', eventId: randomUUID(), eventTime: new Date().toISOString() }));

    const counted = (m: ChildMessage): number => Number((m['counts'] as Record<string, number>)['invalidationsReceived']) + Number((m['counts'] as Record<string, number>)['invalidationsRejected']);
    /**
     * GC'd baseline, then MESSAGES made by `make` pipelined on the channel (and `midway` halfway),
     * until the instance has taken them all; resolves with its RSS baseline and peak and the time.
     */
    const received = (m: ChildMessage): number => Number((m['counts'] as Record<string, number>)['invalidationsReceived']);
    const publishFlood = async (make: () => string, expected: number, midway?: () => Promise<void>) => {
      const before = await ask(app, 'sample', 'sample');
      const takenBefore = counted(before);
      await ask(app, 'mark', 'marked');
      const startedAt = Date.now();
      for (let sent = 0; sent < MESSAGES; sent += CHUNK) {
        if (midway && sent >= MESSAGES / 2 && sent - CHUNK < MESSAGES / 2) await midway();
        const pipeline = publisher.pipeline();
        for (let i = sent; i < Math.min(MESSAGES, sent + CHUNK); i += 1) pipeline.publish(CHANNEL, make());
        await pipeline.exec();
      }
      let sample = await ask(app, 'sample', 'sample');
      const deadline = Date.now() + 120_000;
      while (counted(sample) - takenBefore < expected) {
        if (Date.now() > deadline) throw new Error(`hostile ${kind}: the instance took ${counted(sample) - takenBefore} of ${expected} messages in 120 s`);
        await new Promise((resolve) => setTimeout(resolve, 100));
        sample = await ask(app, 'sample', 'sample');
      }
      const mb = (bytes: unknown): number => round(Number(bytes) / 1024 / 1024, 1);
      return { sample, drainMs: Date.now() - startedAt, received: received(sample) - received(before), rssGrowthMb: mb(Number(sample['peakRss']) - Number(sample['baselineRss'])) };
    };

    // Receive-only floor: as many messages of the same kind for a secret this instance does not hold
    // (parsed, verified and dropped). What any subscriber pays to take them off the socket.
    const otherArn = `${secret.arn.slice(0, secret.arn.lastIndexOf(':') + 1)}hostile/not-held-AbCdEf`;
    const { sig: _sig, ...unsignedFirst } = first.message as Invalidation & { sig?: string };
    const otherMessage = signed ? signIfKeyed({ ...unsignedFirst, secretArn: otherArn }, signingKeys) : undefined;
    const other = (): string =>
      otherMessage
        ? JSON.stringify(otherMessage)
        : JSON.stringify(createInvalidation({ secretArn: otherArn, secretName: 'hostile/not-held', versionId: randomUUID(), reason: 'forged', eventId: randomUUID(), eventTime: new Date().toISOString() }));
    const floorFlood = await publishFlood(other, MESSAGES);

    double.resetStats();
    progress(`${kind}: ${MESSAGES.toLocaleString('en-US')} ${signed ? 'replays of an older signed message' : 'forged unsigned messages'}, a genuine rotation halfway`);
    let genuine: Promise<number> | undefined;
    const { drainMs, received: invalidationsReceived } = await publishFlood(signed ? () => replayed : forged, MESSAGES + 1, async () => {
      const third = await rotate(secret, signed);
      genuine = switchTime(app, third.versionId, () => publishInvalidation(publisher, 'rotation-relay', third.message));
    });
    const genuineSwitchMs = await (genuine ?? Promise.reject(new Error('no genuine rotation was made')));
    // Reads a waiting refresh may still make: settled once a whole second passes without one.
    let reads = double.stats().getSecretValueBySecret[secret.arn] ?? 0;
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const now = double.stats().getSecretValueBySecret[secret.arn] ?? 0;
      if (now === reads) break;
      reads = now;
    }
    // The peak since the mark before the flood: the reads that followed it count too.
    const sample = await ask(app, 'sample', 'sample');
    const counts = sample['counts'] as Record<string, number>;
    const mb = (bytes: unknown): number => round(Number(bytes) / 1024 / 1024, 1);
    const result: HostileFlood = {
      kind,
      messages: MESSAGES,
      getSecretValue: reads,
      floorGetSecretValue,
      rssBaselineMb: mb(sample['baselineRss']),
      rssPeakMb: mb(sample['peakRss']),
      rssGrowthMb: mb(Number(sample['peakRss']) - Number(sample['baselineRss'])),
      floorRssGrowthMb: floorFlood.rssGrowthMb,
      genuineSwitchMs,
      floorSwitchMs,
      drainMs,
      refreshesThrottled: counts['refreshesThrottled'] ?? 0,
      invalidationsReceived,
    };
    progress(`${kind}: ${reads} GetSecretValue, RSS +${result.rssGrowthMb} MB (receive-only floor +${result.floorRssGrowthMb} MB), genuine rotation switched ${genuineSwitchMs} ms after its broadcast (floor ${floorSwitchMs} ms), drained in ${drainMs} ms`);
    await ask(app, 'stop', 'stopped');
    return result;
  } finally {
    app.process.signal('SIGTERM');
    await app.process.exited;
  }
}

try {
  const floods = [await flood('forged'), await flood('replayed')];
  writeResult(args.out, { hostile: { delayMs: DELAY_MS, floods }, machine: machine() });
} finally {
  publisher.disconnect();
  sm.destroy();
  await Promise.allSettled([redis.stop(), double.stop()]);
}
process.exit(0);
