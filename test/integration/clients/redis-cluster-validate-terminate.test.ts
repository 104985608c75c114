import { randomBytes } from 'node:crypto';
import { Redis, type Cluster } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCredentialCache, type CredentialCache } from '../../../src/sdk/cache/credential-cache.js';
import { createRotatingRedis, redisRotationStatus } from '../../../src/sdk/ioredis/redis-client.js';
import { captureLogger, type CapturedLogger } from '../../support/log-capture.js';
import { registerSecretValue } from '../../support/leak-guard.js';
import { startRedisCluster, type RedisClusterHandle } from '../../support/redis-cluster.js';
import { startRedisLoad } from '../../support/redis-load.js';
import { SecretsManagerClientDouble } from '../../support/secrets-manager-client-double.js';
import { waitUntil } from '../../support/wait-until.js';

/**
 * The Cluster paths of the rotating ioredis client's `validateBeforeSwitch` and emergency revoke,
 * against a real 3-master Redis Cluster whose ACL users the test creates on every node (ACLs are
 * per node in Redis: nothing propagates them), with the credentials coming from a real
 * CredentialCache over a Secrets Manager double.
 *
 * Each rotation moves to another ACL user, so `CLIENT LIST` (read as the admin on every node)
 * tells which credentials each node connection logged in with. The `default` user has a password
 * on every node, as on ElastiCache: a refused login leaves the connection unauthenticated.
 */

const NAME = 'cache';
const SECRET_ID = 'app/redis-cluster-validate-terminate';
const ADMIN_PASSWORD = `admin-${randomBytes(12).toString('base64url')}`;
/** 4 loops: the hash tags {0}..{3} put keys on all 3 masters (slots 13907, 9842, 5649, 1584). */
const LOOPS = 4;

interface Login {
  user: string;
  password: string;
}

interface Connection {
  id: string;
  user: string;
  name: string;
  /** The last command the connection ran (`blpop` while one blocks). */
  cmd: string;
}

let cluster: RedisClusterHandle;
let admins: Redis[] = [];
let userCounter = 0;
const passwords: string[] = [];
const logs: CapturedLogger[] = [];
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
  admins = await Promise.all(
    cluster.nodes.map(async (node) => {
      const admin = new Redis({ host: node.host, port: node.port, connectionName: 'admin' });
      await admin.call('ACL', 'SETUSER', 'default', 'resetpass', `>${ADMIN_PASSWORD}`);
      return admin;
    }),
  );
}, 90_000);

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  for (const admin of admins) admin.disconnect();
  await cluster?.stop();
  const text = logs.flatMap((l) => l.lines()).join('\n');
  expect(text.length).toBeGreaterThan(0);
  for (const password of passwords) expect(text).not.toContain(password);
});

function newPassword(): string {
  const password = `pw-${randomBytes(12).toString('base64url')}`;
  registerSecretValue(password, 'redis-cluster-validate-terminate password');
  passwords.push(password);
  return password;
}

/** A fresh user name and password, not yet known to any node. */
function newLogin(): Login {
  userCounter += 1;
  return { user: `app_${userCounter}`, password: newPassword() };
}

/** Makes the nodes at `indexes` (default: every node) accept `login`. */
async function createUser(login: Login, indexes: number[] = admins.map((_, i) => i)): Promise<void> {
  for (const i of indexes) await admins[i]?.call('ACL', 'SETUSER', login.user, 'on', `>${login.password}`, '~*', '&*', '+@all');
}

const secretValue = (login: Login): string => JSON.stringify({ username: login.user, password: login.password });

/** A started cache holding `login` as AWSCURRENT of NAME, and the double behind it. */
async function cacheFor(login: Login): Promise<{ cache: CredentialCache; sm: SecretsManagerClientDouble; log: CapturedLogger }> {
  const sm = new SecretsManagerClientDouble();
  sm.create(SECRET_ID, secretValue(login));
  const log = captureLogger({ component: 'cache' });
  logs.push(log);
  const cache = createCredentialCache({ secrets: { [NAME]: { secretId: SECRET_ID, json: true } }, secretsClient: sm.client, logger: log.logger });
  await cache.start();
  cleanups.push(() => cache.stop());
  return { cache, sm, log };
}

/** A rotation as the cache sees it: AWSCURRENT moves to `login`, the cache reads it (a `rotated` event). */
async function rotate(cache: CredentialCache, sm: SecretsManagerClientDouble, login: Login): Promise<string> {
  const versionId = sm.putPending(SECRET_ID, secretValue(login));
  sm.moveCurrent(SECRET_ID, versionId);
  await cache.forceRefresh(NAME);
  return versionId;
}

async function rotatingCluster(cache: CredentialCache, validate: boolean): Promise<{ client: Cluster; log: CapturedLogger }> {
  const log = captureLogger({ component: 'ioredis' });
  logs.push(log);
  const client = createRotatingRedis(cache, NAME, {
    cluster: cluster.nodes.map((node) => ({ host: node.host, port: node.port })),
    redisOptions: { connectionName: 'rotating' },
    logger: log.logger,
    ...(validate ? { validateBeforeSwitch: { retryBackoff: { minMs: 50, maxMs: 200 } } } : {}),
  });
  client.on('error', () => undefined); // counted through the status; an unhandled 'error' would crash the file
  cleanups.push(async () => client.disconnect());
  await waitUntil(() => client.status === 'ready', { message: 'the rotating cluster client to be ready' });
  return { client, log };
}

/**
 * The SET/GET loops, stopped before the client closes if the test ends early: on a closed client
 * every command rejects at once and the loops would spin without yielding to the event loop.
 */
function loadOn(client: Cluster, prefix: string): ReturnType<typeof startRedisLoad> {
  const load = startRedisLoad(client, LOOPS, prefix);
  cleanups.push(() => load.stop());
  return load;
}

/** Every node's connections, from CLIENT LIST read as the admin: index i is node i. */
async function connectionsByNode(): Promise<Connection[][]> {
  return Promise.all(
    admins.map(async (admin) => {
      const list = String(await admin.call('CLIENT', 'LIST'));
      return list
        .split('\n')
        .filter((line) => line.trim().length > 0)
        .map((line) => ({ id: /\bid=(\d+)/.exec(line)?.[1] ?? '', user: /\buser=(\S*)/.exec(line)?.[1] ?? '', name: /\bname=(\S*)/.exec(line)?.[1] ?? '', cmd: /\bcmd=(\S*)/.exec(line)?.[1] ?? '' }));
    }),
  );
}

/** The users the rotating client's node connections are logged in as, per node. */
async function rotatingUsersByNode(): Promise<string[][]> {
  return (await connectionsByNode()).map((conns) => conns.filter((c) => c.name === 'rotating').map((c) => c.user));
}

/** True once every node has at least one rotating connection, all of them logged in as `user`. */
async function everyNodeOn(user: string): Promise<boolean> {
  const byNode = await rotatingUsersByNode();
  return byNode.every((users) => users.length > 0 && users.every((u) => u === user));
}

async function killUserEverywhere(user: string): Promise<void> {
  await Promise.all(admins.map((admin) => admin.call('CLIENT', 'KILL', 'USER', user)));
}

describe('createRotatingRedis in cluster mode: validateBeforeSwitch and the emergency revoke on a real 3-master Redis Cluster', () => {
  it('keeps every node connection on the old user while no node (then not every node) accepts the new one, then switches: 0 failed commands', { timeout: 60_000 }, async () => {
    // Prepare: user A on every node, the client on A under load on all three masters.
    const oldLogin = newLogin();
    await createUser(oldLogin);
    const { cache, sm } = await cacheFor(oldLogin);
    const { client } = await rotatingCluster(cache, true);
    const load = loadOn(client, 'validate');
    await waitUntil(() => everyNodeOn(oldLogin.user), { message: 'a rotating connection of the old user on every node' });
    const firstVersion = redisRotationStatus(client)?.versionId;

    // Act 1: rotate to user B, which no node knows yet.
    const newLogin_ = newLogin();
    const newVersion = await rotate(cache, sm, newLogin_);
    await waitUntil(() => (redisRotationStatus(client)?.validationFailures ?? 0) >= 2, { message: 'two refused checks' });
    // Every node connection dropped now logs in again: as the old user, the one that works.
    await killUserEverywhere(oldLogin.user);
    const afterKill = load.completed();
    await waitUntil(async () => load.completed() > afterKill + 100 && (await everyNodeOn(oldLogin.user)), { message: 'every node back on the old user after CLIENT KILL' });
    expect(redisRotationStatus(client)).toMatchObject({ versionId: firstVersion, authFailures: 0, switches: 0 });
    for (const node of client.nodes('all')) expect(node.options.username).toBe(oldLogin.user);
    expect(client.options.redisOptions?.username).toBe(oldLogin.user);

    // Act 2: two of the three nodes accept B (ACLs are per node; ElastiCache applies a user change
    // asynchronously). A check that logs in on one node only would pass here and strand the
    // client's connections to the third node on a user it refuses.
    await createUser(newLogin_, [0, 1]);
    const partial = redisRotationStatus(client)?.validationFailures ?? 0;
    await waitUntil(() => (redisRotationStatus(client)?.validationFailures ?? 0) >= partial + 5, { message: 'five more refused checks while node 2 refuses the new user' });
    expect(redisRotationStatus(client)).toMatchObject({ versionId: firstVersion, authFailures: 0, switches: 0 });

    // Act 3: every node accepts B: the next check passes and the client switches.
    await createUser(newLogin_, [2]);
    await waitUntil(() => redisRotationStatus(client)?.versionId === newVersion, { message: 'the switch once every node accepts the new user' });
    for (const node of client.nodes('all')) expect(node.options.username).toBe(newLogin_.user);
    expect(client.options.redisOptions?.username).toBe(newLogin_.user);
    // The old connections stay (Redis does not re-check a logged-in connection) until they log in again.
    await killUserEverywhere(oldLogin.user);
    const afterSwitch = load.completed();
    await waitUntil(async () => load.completed() > afterSwitch + 100 && (await everyNodeOn(newLogin_.user)), { message: 'every node on the new user after CLIENT KILL' });
    const result = await load.stop();

    // Assess
    expect(result.failures).toEqual([]);
    const status = redisRotationStatus(client);
    expect(status).toMatchObject({ versionId: newVersion, mode: 'current', authFailures: 0, recoveries: 0, switches: 1, queueKeepingHook: true });
    expect(status?.validationFailures).toBeGreaterThanOrEqual(partial + 5);
    expect(cache.status().counts.credentialValidationFailures).toBe(status?.validationFailures);
    expect(await client.call('ACL', 'WHOAMI')).toBe(newLogin_.user);
    // No probe connection is left behind on any node.
    await waitUntil(async () => (await connectionsByNode()).flat().every((c) => c.name !== 'rotation-relay:validate'), { message: 'no validation connection left' });
    console.info(`[redis cluster validate] operations=${result.operations} failed=${result.failures.length} validationFailures=${status?.validationFailures} p99LatencyMs=${result.p99LatencyMs.toFixed(2)}`);
  });

  it('forceRefresh({ terminateOld: true }): no connection of the old user left on any node within 2 s; a blocked BLPOP, the subscription and the load carry on', { timeout: 60_000 }, async () => {
    // Prepare: alternating users, both valid on every node, so nothing but the revoke makes the
    // old user's connections log in again.
    const oldLogin = newLogin();
    const nextLogin = newLogin();
    await createUser(oldLogin);
    await createUser(nextLogin);
    const { cache, sm, log: cacheLog } = await cacheFor(oldLogin);
    const { client, log } = await rotatingCluster(cache, false);
    const load = loadOn(client, 'revoke');
    await waitUntil(() => everyNodeOn(oldLogin.user), { message: 'a rotating connection of the old user on every node' });
    const newVersion = await rotate(cache, sm, nextLogin);
    expect(redisRotationStatus(client)?.versionId).toBe(newVersion);
    const beforeRevoke = load.completed();
    await waitUntil(() => load.completed() > beforeRevoke + 100, { message: 'the load after the rotation' });
    // Rotated, yet every node connection is still logged in as the old user.
    expect(await everyNodeOn(oldLogin.user)).toBe(true);

    // The cluster's subscriber connection (ioredis keeps one of its own), logged in as the old user.
    const messages: string[] = [];
    client.on('message', (_channel: string, message: string) => messages.push(message));
    await client.subscribe('revoke:events');
    await waitUntil(async () => (await connectionsByNode()).flat().some((c) => c.user === oldLogin.user && c.cmd === 'subscribe'), { message: 'the subscriber connection of the old user' });
    // A command waiting for its reply on an old connection when the revoke drops it.
    const blocked = client.blpop('revoke:{blocked}', 20).then(
      (reply) => reply,
      (err: unknown) => err,
    );
    await waitUntil(async () => (await connectionsByNode()).some((conns) => conns.some((c) => c.user === oldLogin.user && c.cmd === 'blpop')), { message: 'the BLPOP waiting on a connection of the old user' });

    // Act
    const started = Date.now();
    await cache.forceRefresh(NAME, { terminateOld: true });
    await waitUntil(async () => (await connectionsByNode()).flat().every((c) => c.user !== oldLogin.user), { timeoutMs: 2_000, intervalMs: 10, message: 'no connection of the old user on any node' });
    const goneAfterMs = Date.now() - started;
    // The BLPOP was re-sent on a new connection: a push now answers it. Pushed by the admin of
    // that node: the client's own connection to it is the one blocked in the BLPOP.
    let owner = -1;
    await waitUntil(async () => {
      owner = (await connectionsByNode()).findIndex((conns) => conns.some((c) => c.user === nextLogin.user && c.cmd === 'blpop'));
      return owner >= 0;
    }, { message: 'the BLPOP re-sent as the new user' });
    await admins[owner]?.lpush('revoke:{blocked}', 'after-revoke');
    expect(await blocked).toEqual(['revoke:{blocked}', 'after-revoke']);
    // The subscription came back on the new connection (PUBLISH reaches every node's subscribers).
    await waitUntil(async () => {
      await admins[0]?.publish('revoke:events', 'after-revoke');
      return messages.includes('after-revoke');
    }, { message: 'a message on the subscription after the revoke' });
    const afterRevoke = load.completed();
    await waitUntil(async () => load.completed() > afterRevoke + 100 && (await everyNodeOn(nextLogin.user)), { message: 'every node on the new user after the revoke' });
    const result = await load.stop();

    // Assess: ioredis re-sent what was waiting for a reply on the dropped connections.
    expect(result.failures).toEqual([]);
    expect(await client.call('ACL', 'WHOAMI')).toBe(nextLogin.user);
    expect(redisRotationStatus(client)).toMatchObject({ versionId: newVersion, terminations: 1, authFailures: 0, recoveries: 0 });
    expect(cache.status().counts.revocations).toBe(1);
    expect(cacheLog.records().find((r) => r['code'] === 'TERMINATE_OLD')).toMatchObject({ level: 'warn', name: NAME });
    expect(log.records().find((r) => String(r['msg']).startsWith(`rotating redis: emergency revoke of secret "${NAME}"`))).toMatchObject({ level: 'warn', secretName: NAME });
    console.info(`[redis cluster revoke] oldUserGoneAfterMs=${goneAfterMs} operations=${result.operations} failed=${result.failures.length} maxLatencyMs=${result.maxLatencyMs.toFixed(1)}`);
  });
});
