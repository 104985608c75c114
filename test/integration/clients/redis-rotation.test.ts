import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRotatingRedis, redisRotationStatus } from '../../../src/sdk/ioredis/redis-client.js';
import { CredentialSourceDouble } from '../../support/credential-source-double.js';
import { captureLogger } from '../../support/log-capture.js';
import { startRedis, type RedisHandle } from '../../support/redis-server.js';
import { waitUntil } from '../../support/wait-until.js';
import { startRedisLoad } from '../../support/redis-load.js';

/**
 * The rotating ioredis client against a real redis-server with an ACL user, rotated the two
 * ways ElastiCache does it:
 * - ROTATE: `ACL SETUSER u >new` (old and new both valid), later `<old`;
 * - SET: `ACL SETUSER u resetpass >new` (only the new one), and `CLIENT KILL USER u` so every
 *   connection has to log in again.
 * Credentials come from a CredentialSourceDouble: `setCurrent` = the secret changed in Secrets
 * Manager, `publish` = the invalidation reached the app.
 */

const NAME = 'cache';
const USER = 'app';

let server: RedisHandle;
let admin: Redis;
let generation = 0;
const cleanups: Array<() => void> = [];

interface Secret {
  username: string;
  password: string;
}

const allPasswords: string[] = [];
const log = captureLogger({ test: 'redis-rotation' });

function nextPassword(): string {
  generation += 1;
  const password = `pw-${generation}-${Math.random().toString(36).slice(2)}`;
  allPasswords.push(password);
  return password;
}

beforeAll(async () => {
  const initial = nextPassword();
  server = await startRedis({ aclUsers: [{ name: USER, passwords: [initial] }] });
  admin = new Redis({ host: server.host, port: server.port, connectionName: 'admin' });
  await admin.ping();
  firstPassword = initial;
});

let firstPassword = '';

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  // Back to one known password for the next test.
  firstPassword = nextPassword();
  await admin.call('ACL', 'SETUSER', USER, 'resetpass', `>${firstPassword}`);
  await admin.call('CLIENT', 'KILL', 'USER', USER);
});

afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
  // Every rotation and recovery above was logged; no line may carry a password.
  const lines = log.lines();
  expect(lines.length).toBeGreaterThan(20);
  for (const password of allPasswords) expect(lines.filter((line) => line.includes(password))).toEqual([]);
});

/** A rotating client for USER, plus a count of its logins ('ready' events). */
async function rotatingClient(source: CredentialSourceDouble<Secret>) {
  const client = createRotatingRedis(source, NAME, { host: server.host, port: server.port, connectionName: 'rotating', logger: log.logger });
  const state = { readies: 0, errors: [] as string[] };
  client.on('ready', () => (state.readies += 1));
  client.on('error', (err: Error) => state.errors.push(err.message));
  cleanups.push(() => client.disconnect());
  await waitUntil(() => client.status === 'ready', { message: 'the rotating client to be ready' });
  return { client, state };
}

/** Kills USER's connections and waits until the client has logged in again. */
async function killAndAwaitLogin(state: { readies: number }, client: Redis): Promise<void> {
  const before = state.readies;
  await admin.call('CLIENT', 'KILL', 'USER', USER);
  await waitUntil(() => state.readies > before && client.status === 'ready', { message: 'the client to log in again after CLIENT KILL' });
}

async function loginWorks(password: string): Promise<boolean> {
  const probe = new Redis({ host: server.host, port: server.port, username: USER, password, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.call('ACL', 'WHOAMI')) === USER;
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

describe('createRotatingRedis against a real redis-server (ACL user)', () => {
  it('keeps 3 SET/GET loops failure-free across 10 ROTATE-style and 10 SET-style rotations', { timeout: 120_000 }, async () => {
    // Prepare
    const source = new CredentialSourceDouble<Secret>(NAME, { username: USER, password: firstPassword });
    const { client, state } = await rotatingClient(source);
    const load = startRedisLoad(client, 3, 'rotation');
    await waitUntil(() => load.completed() > 100, { message: 'the load to get going' });
    let current = firstPassword;
    const rotationWindows: Array<{ kind: string; startedAt: number; endedAt: number }> = [];
    let lateInvalidations = 0;

    // Act
    for (let i = 0; i < 20; i += 1) {
      const kind = i % 2 === 0 ? 'ROTATE' : 'SET';
      const startedAt = Date.now();
      const next = nextPassword();
      const ops = load.completed();
      source.setCurrent({ username: USER, password: next });
      if (kind === 'ROTATE') {
        // Both valid, the app learns of it, connections recycle, then the old one is revoked.
        await admin.call('ACL', 'SETUSER', USER, `>${next}`);
        source.publish();
        await killAndAwaitLogin(state, client);
        await admin.call('ACL', 'SETUSER', USER, `<${current}`);
        await killAndAwaitLogin(state, client);
      } else if (i % 4 === 1) {
        // SET, invalidation first: every reconnect already has the new password.
        await admin.call('ACL', 'SETUSER', USER, 'resetpass', `>${next}`);
        source.publish();
        await killAndAwaitLogin(state, client);
      } else {
        // SET, connections dropped before the invalidation lands: the reconnect gets WRONGPASS,
        // refreshes the secret itself, and the late invalidation is a no-op.
        await admin.call('ACL', 'SETUSER', USER, 'resetpass', `>${next}`);
        await killAndAwaitLogin(state, client);
        source.publish();
        lateInvalidations += 1;
      }
      current = next;
      await waitUntil(() => load.completed() > ops + 30, { message: 'the load to make progress after the rotation' });
      rotationWindows.push({ kind, startedAt, endedAt: Date.now() });
    }
    const result = await load.stop();

    // Assess
    expect(result.failures).toEqual([]);
    expect(client.options.password).toBe(current);
    expect(await client.call('ACL', 'WHOAMI')).toBe(USER);
    expect(await loginWorks(current)).toBe(true);
    expect(await loginWorks(firstPassword)).toBe(false);
    expect(lateInvalidations).toBe(5);
    expect(source.counts.authRecoveries).toBe(lateInvalidations);
    expect(redisRotationStatus(client)).toMatchObject({ versionId: 'v21', mode: 'current', queueKeepingHook: true, recoveries: lateInvalidations });
    // Recovered logins are not 'error' events (socket resets from CLIENT KILL are, as in ioredis).
    expect(state.errors.filter((m) => /WRONGPASS|NOAUTH/.test(m))).toEqual([]);
    report('redis ROTATE+SET x20', result, rotationWindows, redisRotationStatus(client));
  });

  it('recovers from a missed invalidation: WRONGPASS at reconnect → refresh → reconnect, no failed command', { timeout: 60_000 }, async () => {
    // Prepare
    const source = new CredentialSourceDouble<Secret>(NAME, { username: USER, password: firstPassword });
    const { client, state } = await rotatingClient(source);
    const load = startRedisLoad(client, 3, 'missed');
    await waitUntil(() => load.completed() > 100, { message: 'the load to get going' });
    const next = nextPassword();

    // Act: the secret changes, the invalidation never arrives, the server forgets the old password
    source.setCurrent({ username: USER, password: next });
    await admin.call('ACL', 'SETUSER', USER, 'resetpass', `>${next}`);
    const ops = load.completed();
    await killAndAwaitLogin(state, client);
    await waitUntil(() => load.completed() > ops + 100, { message: 'the load to make progress after the recovery' });
    const result = await load.stop();

    // Assess
    expect(result.failures).toEqual([]);
    expect(source.counts.authFailureReports).toBe(1);
    expect(source.counts.authRecoveries).toBe(1);
    expect(client.options.password).toBe(next);
    expect(await client.call('ACL', 'WHOAMI')).toBe(USER);
    // A recovered failure is not surfaced as an 'error' event.
    expect(state.errors.filter((m) => /WRONGPASS/.test(m))).toEqual([]);
    expect(redisRotationStatus(client)).toMatchObject({ authFailures: 1, recoveries: 1, reportAuthFailureCalls: 1, pendingReads: 0 });
    report('redis missed invalidation', result, [], redisRotationStatus(client));
  });

  it('uses AWSPENDING when the refreshed AWSCURRENT is still rejected, and leaves pending mode when AWSCURRENT catches up', { timeout: 60_000 }, async () => {
    // Prepare
    const source = new CredentialSourceDouble<Secret>(NAME, { username: USER, password: firstPassword });
    const { client, state } = await rotatingClient(source);
    const load = startRedisLoad(client, 3, 'pending');
    await waitUntil(() => load.completed() > 100, { message: 'the load to get going' });
    const next = nextPassword();

    // Act: setSecret ran (server has only the new password) but finishSecret did not yet
    source.setPending({ username: USER, password: next });
    await admin.call('ACL', 'SETUSER', USER, 'resetpass', `>${next}`);
    await killAndAwaitLogin(state, client);
    const inPending = redisRotationStatus(client);
    // finishSecret: AWSCURRENT moves to the pending version, the invalidation arrives
    source.setCurrent({ username: USER, password: next });
    source.publish();
    const result = await load.stop();

    // Assess
    expect(result.failures).toEqual([]);
    expect(inPending).toMatchObject({ mode: 'pending', pendingReads: 1, recoveries: 1 });
    expect(redisRotationStatus(client)).toMatchObject({ mode: 'current' });
    expect(client.options.password).toBe(next);
    expect(source.counts.authRecoveries).toBe(1);
  });

  it('surfaces the error and keeps retrying when no credentials work (nothing is swallowed)', { timeout: 60_000 }, async () => {
    // Prepare
    const source = new CredentialSourceDouble<Secret>(NAME, { username: USER, password: firstPassword });
    const { client, state } = await rotatingClient(source);

    // Act: the server changes the password and nobody tells the secret
    await admin.call('ACL', 'SETUSER', USER, 'resetpass', `>${nextPassword()}`);
    await admin.call('CLIENT', 'KILL', 'USER', USER);

    // Assess
    await waitUntil(() => state.errors.some((m) => /WRONGPASS/.test(m)), { message: 'a WRONGPASS error event' });
    expect(source.counts.authRecoveries).toBe(0);
    expect(source.counts.pendingReads).toBeGreaterThanOrEqual(1);
    expect(client.status).not.toBe('ready');
  });
});

function report(label: string, result: Awaited<ReturnType<ReturnType<typeof startRedisLoad>['stop']>>, windows: Array<{ kind: string; startedAt: number; endedAt: number }>, status: unknown): void {
  const perKind = new Map<string, number>();
  for (const w of windows) perKind.set(w.kind, (perKind.get(w.kind) ?? 0) + 1);
  console.info(
    `[${label}] operations=${result.operations} failed=${result.failures.length} maxLatencyMs=${result.maxLatencyMs.toFixed(1)} ` +
      `p99LatencyMs=${result.p99LatencyMs.toFixed(2)} rotations=${JSON.stringify(Object.fromEntries(perKind))} status=${JSON.stringify(status)}`,
  );
}
