import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotConvergedError, readFleet, waitConverged } from '../../../src/sdk/fleet/index.js';
import { createInvalidation, publishInvalidation, signInvalidation } from '../../../src/protocol/index.js';
import { createCredentialCache, type CredentialCache } from '../../../src/sdk/cache/credential-cache.js';
import { runCliProcess, type CliProcess } from '../../support/cli-process.js';
import { registerSecretValue } from '../../support/leak-guard.js';
import { captureLogger } from '../../support/log-capture.js';
import { MotoSecrets, type TestSecret } from '../../support/moto-secrets.js';
import { motoClientConfig, startMoto, type MotoHandle } from '../../support/moto-server.js';
import { startRedis, type RedisHandle } from '../../support/redis-server.js';
import { waitUntil } from '../../support/wait-until.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const PREFIX = 'rotation-relay';
const CHANNEL = '{rotation-relay}:invalidations';

/** The one `user <name> …` line of the ```-block that holds it in `file`. */
function documentedAclLine(file: string, user: string): string {
  const lines = readFileSync(join(ROOT, file), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith(`user ${user} on >PASSWORD `));
  if (lines.length !== 1) throw new Error(`expected one "user ${user}" ACL line in ${file}, found ${lines.length}`);
  return lines[0] as string;
}

/** `user NAME on >PASSWORD rules…` → ACL SETUSER arguments for `name` with `password`, as the docs say to paste it. */
function setuserArgs(line: string, name: string, password: string): string[] {
  const [, , ...rules] = line.split(/\s+/);
  return [name, ...rules.map((rule) => (rule === '>PASSWORD' ? `>${password}` : rule))];
}

/** The presence grants, as the docs list them: removed, they make the user of the issue. */
const PRESENCE_GRANTS = ['~{rotation-relay}:instances', '~{rotation-relay}:instance:*', '+zadd', '+hset', '+hdel', '+pexpire', '+zremrangebyscore', '+zrem', '+del'];

/** Denied commands Redis logged for `user` (ACL LOG). */
async function deniedFor(admin: Redis, user: string): Promise<string[]> {
  const entries = (await admin.call('ACL', 'LOG')) as unknown[][];
  return entries
    .map((entry) => Object.fromEntries(Array.from({ length: entry.length / 2 }, (_, i) => [String(entry[2 * i]), entry[2 * i + 1]])))
    .filter((entry) => entry['username'] === user)
    .map((entry) => `${String(entry['reason'])}:${String(entry['object'])}`);
}

/**
 * The subscriber ACL of docs/protocol.md and SECURITY.md, and the fleet reader ACL of
 * docs/fleet-convergence.md, applied as written to a private redis-server 7 (ACL SETUSER with the
 * documented rules), with CredentialCaches on moto_server.
 */
describe('the documented ACLs on a real redis-server', () => {
  let redis: RedisHandle;
  let moto: MotoHandle;
  let admin: Redis;
  let secret: TestSecret;
  let motoSecrets: MotoSecrets;
  const signingKey = randomBytes(32).toString('base64url');
  const password = { subscriber: `sub-${randomBytes(8).toString('hex')}`, reader: `read-${randomBytes(8).toString('hex')}` };
  const caches: CredentialCache[] = [];
  const processes: CliProcess[] = [];

  const subscriberLine = documentedAclLine('docs/protocol.md', 'subscriber');
  const readerLine = documentedAclLine('docs/fleet-convergence.md', 'fleet-reader');
  const url = (user: string, pw: string) => `redis://${user}:${pw}@127.0.0.1:${redis.port}`;

  function startCache(user: string, instanceId: string): CredentialCache {
    const cache = createCredentialCache({
      redis: { url: url(user, password.subscriber), cluster: false, keyPrefix: PREFIX },
      signingKeys: [signingKey],
      secretsClient: new SecretsManagerClient(motoClientConfig(moto)),
      logger: captureLogger({ component: user }).logger,
      secrets: { db: { secretId: secret.arn, json: true } },
      presence: { instanceId, heartbeatIntervalMs: 300, ttlMs: 3_000 },
    });
    caches.push(cache);
    return cache;
  }

  /** What the worker does on a rotation: the signed broadcast, through the publish script. */
  async function rotateAndBroadcast(): Promise<string> {
    const versionId = await motoSecrets.rotate(secret);
    secret.versionId = versionId;
    const fields = { secretArn: secret.arn, secretName: secret.name, versionId, reason: 'acl test', eventId: randomBytes(8).toString('hex'), eventTime: new Date().toISOString() };
    await publishInvalidation(admin, PREFIX, signInvalidation(createInvalidation(fields), [signingKey]));
    return versionId;
  }

  const cli = async (args: string[], user: string, pw: string): Promise<{ code: number | string; out: string; err: string }> => {
    const p = runCliProcess(args, { ROTATION_RELAY_REDIS_URL: url(user, pw) });
    const code = await p.exited;
    return { code, out: p.stdout().join('\n'), err: p.stderr().join('\n') };
  };

  beforeAll(async () => {
    for (const [label, value] of Object.entries(password)) registerSecretValue(value, `ACL test password of ${label}`);
    registerSecretValue(signingKey, 'ACL test signing key');
    [redis, moto] = await Promise.all([startRedis(), startMoto()]);
    admin = new Redis(redis.url);
    motoSecrets = new MotoSecrets(moto);
    secret = await motoSecrets.create(`acl/db-${randomBytes(3).toString('hex')}`);
    await admin.call('ACL', 'SETUSER', ...setuserArgs(subscriberLine, 'subscriber', password.subscriber));
    const withoutPresence = subscriberLine.split(' ').filter((rule) => !PRESENCE_GRANTS.includes(rule)).join(' ');
    await admin.call('ACL', 'SETUSER', ...setuserArgs(withoutPresence, 'no-presence', password.subscriber));
    await admin.call('ACL', 'SETUSER', ...setuserArgs(readerLine, 'fleet-reader', password.reader));
    const countsOnly = readerLine.split(' ').filter((rule) => rule !== '+client|list').join(' ');
    await admin.call('ACL', 'SETUSER', ...setuserArgs(countsOnly, 'counts-reader', password.reader));
  }, 60_000);

  afterAll(async () => {
    for (const p of processes) p.signal('SIGKILL');
    await Promise.allSettled(caches.map((cache) => cache.stop()));
    admin?.disconnect();
    await Promise.allSettled([redis?.stop(), moto?.stop()]);
  });

  it('is the same subscriber line in docs/protocol.md and SECURITY.md', () => {
    expect(documentedAclLine('SECURITY.md', 'subscriber')).toBe(subscriberLine);
  });

  it('lets a CredentialCache under the documented subscriber ACL write presence and acks, sends exactly the granted commands, and is counted by waitConverged', async () => {
    // Prepare: every command on the server, by client address.
    const monitor = await admin.monitor();
    const sent: Array<{ source: string; command: string }> = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      const [name = '', sub = ''] = args.map((arg) => String(arg).toLowerCase());
      sent.push({ source, command: name === 'client' ? `${name}|${sub}` : name });
    });
    const cache = startCache('subscriber', 'acl-visible');

    // Act
    await cache.start();
    await waitUntil(() => cache.status().pubsub.connected, { message: 'subscribed' });
    const before = secret.versionId;
    const next = await rotateAndBroadcast();
    await waitUntil(() => cache.current('db').versionId === next, { message: 'the broadcast to reach the cache' });
    const converged = await waitConverged({ redis: admin, secretArn: secret.arn, versionId: next, timeoutMs: 10_000, pollMs: 100 });
    // Its own connections, while they are up; then a health-check PING and a clean stop.
    const clients = String(await admin.client('LIST')).split('\n').filter((line) => / user=subscriber /.test(line));
    const addresses = new Set(clients.map((line) => /addr=(\S+)/.exec(line)?.[1]));
    await waitUntil(() => sent.some((s) => addresses.has(s.source) && s.command === 'ping'), { message: 'a health-check PING' });
    const fleet = await readFleet(admin, PREFIX);
    await cache.stop();
    await waitUntil(() => sent.some((s) => addresses.has(s.source) && s.command === 'del'), { message: 'the deregistration' });
    monitor.disconnect();

    // Assess
    expect(before).not.toBe(next);
    expect(fleet.live).toEqual([expect.objectContaining({ id: 'acl-visible', subscribed: true, acks: [expect.objectContaining({ secret: secret.arn, versionId: next })] })]);
    expect(converged).toMatchObject({ converged: true, instances: 1, subscribers: { subscribers: 1, reporting: 1, unaccounted: 0, method: 'client-list' } });
    expect(await deniedFor(admin, 'subscriber')).toEqual([]);
    // Exactly the grants: every command it sent is granted, and every grant was used (HDEL only
    // runs when an ack moves from a configured name to the ARN; this cache was given the ARN).
    const used = new Set(sent.filter((s) => addresses.has(s.source)).map((s) => s.command));
    // AUTH and QUIT are never subject to an ACL.
    used.delete('auth');
    used.delete('quit');
    const granted = subscriberLine.split(' ').filter((rule) => rule.startsWith('+')).map((rule) => rule.slice(1));
    expect([...used, 'hdel'].sort()).toEqual([...granted].sort());
    process.stdout.write(`[acl] commands a CredentialCache sent under the documented ACL: ${[...used].sort().join(' ')}\n`);
  }, 60_000);

  it('shows a subscriber whose ACL lacks the presence grants as unaccounted for, and waitConverged and wait-converged refuse', async () => {
    // Prepare: one visible instance, one that can subscribe but not write presence (the case).
    const visible = startCache('subscriber', 'acl-visible-2');
    const hidden = startCache('no-presence', 'acl-hidden');
    await Promise.all([visible.start(), hidden.start()]);
    await waitUntil(() => visible.status().pubsub.connected && hidden.status().pubsub.connected, { message: 'both subscribed' });
    await waitUntil(async () => (await readFleet(admin, PREFIX)).live.some((i) => i.id === 'acl-visible-2'), { message: 'the visible one to register' });

    // Act
    // Deadlines that fit a loaded CI machine: a read the deadline cuts short counts nobody (a
    // fresh-clone run saw NUMSUB cut at 1.5 s: "0 subscribers"), and --timeout covers the CLI's
    // Redis connection and its first read too (one that runs out before any read is exit 1).
    const library = await waitConverged({ redis: admin, secretArn: secret.arn, versionId: secret.versionId, timeoutMs: 5_000, pollMs: 100 }).catch((error: unknown) => error);
    const command = await cli(['wait-converged', secret.arn, '--version', secret.versionId, '--timeout', '5s', '--poll', '200ms'], 'fleet-reader', password.reader);
    const status = await cli(['status'], 'fleet-reader', password.reader);

    // Assess
    expect(hidden.status().presence?.lastWriteAt).toBeUndefined();
    // Loud, and named: NOPERM is Redis's reason, not a secret.
    expect(hidden.status().presence).toMatchObject({ state: 'failing', reasonCode: 'NOPERM' });
    expect((await deniedFor(admin, 'no-presence')).length).toBeGreaterThan(0);
    expect(library).toBeInstanceOf(NotConvergedError);
    const error = library as NotConvergedError;
    expect(error.reason).toBe('unaccounted-subscribers');
    expect(error.result).toMatchObject({ instances: 1, stale: [], subscribers: { subscribers: 2, reporting: 1, unaccounted: 1 } });
    expect(error.result.subscribers.candidates).toEqual([expect.objectContaining({ name: 'rotation-relay:listener:acl-hidden', instanceId: 'acl-hidden' })]);
    expect(error.message).toContain(`1 of the 2 subscribers on ${CHANNEL} reports no presence`);
    expect(error.message).toContain('usually a subscriber ACL without the presence rights');
    expect(command.code).toBe(3);
    expect(command.out).toMatch(/^not converged after .*: 1 of the 2 subscribers on \{rotation-relay\}:invalidations reports no presence/);
    expect(command.out).toMatch(/rotation-relay:listener:acl-hidden\s+127\.0\.0\.1:\d+\s+127\.0\.0\.1:\d+\s+no live presence for acl-hidden/);
    expect(status.code).toBe(0);
    expect(status.out.split('\n')[1]).toBe('2 subscribers on the channel, 1 report presence (1 unaccounted for)');
    expect(status.out).toContain('rotation-relay:listener:acl-hidden');
    expect(await deniedFor(admin, 'fleet-reader')).toEqual([]);
    await hidden.stop();
    const after = await waitConverged({ redis: admin, secretArn: secret.arn, versionId: secret.versionId, timeoutMs: 10_000, pollMs: 100 });
    expect(after.subscribers).toMatchObject({ subscribers: 1, unaccounted: 0 });
    await visible.stop();
  }, 60_000);

  it('degrades to counts for a reader without CLIENT LIST (never fails), where a rotation-relay listen session counts as unaccounted for; with CLIENT LIST it is left out', async () => {
    // Prepare: one instance and a `rotation-relay listen` session under the subscriber user.
    const cache = startCache('subscriber', 'acl-visible-3');
    await cache.start();
    await waitUntil(async () => (await readFleet(admin, PREFIX)).live.some((i) => i.id === 'acl-visible-3'), { message: 'the instance to register' });
    const listen = runCliProcess(['listen'], { ROTATION_RELAY_REDIS_URL: url('subscriber', password.subscriber), ROTATION_RELAY_SIGNING_KEYS: signingKey });
    processes.push(listen);
    await listen.waitForLine('stderr', (line) => line.includes('"listening"'), 'rotation-relay listen to subscribe', 20_000);

    // Act
    const named = await cli(['status', '--json'], 'fleet-reader', password.reader);
    const counted = await cli(['status', '--json'], 'counts-reader', password.reader);
    const countedText = await cli(['status'], 'counts-reader', password.reader);
    // --timeout covers the CLI's Redis connection and first read, so it leaves room for a loaded CI
    // machine (a deadline that runs out before any read is a Redis error, not exit 0 or 3).
    const waitNamed = await cli(['wait-converged', secret.arn, '--version', secret.versionId, '--timeout', '10s'], 'fleet-reader', password.reader);
    const waitCounted = await cli(['wait-converged', secret.arn, '--version', secret.versionId, '--timeout', '5s'], 'counts-reader', password.reader);

    // Assess
    expect(named.code).toBe(0);
    expect(JSON.parse(named.out).subscribers).toMatchObject({ subscribers: 2, reporting: 1, unaccounted: 0, cliListeners: 1, method: 'client-list' });
    expect(counted.code).toBe(0);
    expect(JSON.parse(counted.out).subscribers).toMatchObject({ subscribers: 2, reporting: 1, unaccounted: 1, method: 'counts', clientListError: 'NOPERM' });
    expect(countedText.out).toContain('counts only: CLIENT LIST not allowed (NOPERM)');
    expect(waitNamed.code).toBe(0);
    expect(waitCounted.code).toBe(3);
    expect(waitCounted.out).toContain('CLIENT LIST was not allowed (NOPERM), so no connection can be named and a rotation-relay listen session counts too');
    expect(await deniedFor(admin, 'subscriber')).toEqual([]);
    listen.signal('SIGINT');
    await listen.exited;
    await cache.stop();
  }, 60_000);
});
