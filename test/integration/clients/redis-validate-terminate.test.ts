import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RevokedEvent } from '../../../src/sdk/cache/types.js';
import { createRotatingRedis, redisRotationStatus } from '../../../src/sdk/ioredis/redis-client.js';
import { CredentialSourceDouble } from '../../support/credential-source-double.js';
import { captureLogger } from '../../support/log-capture.js';
import { startRedis, type RedisHandle } from '../../support/redis-server.js';
import { startRedisLoad } from '../../support/redis-load.js';
import { waitUntil } from '../../support/wait-until.js';

/**
 * The rotating ioredis client's `validateBeforeSwitch` and emergency revoke against a real
 * redis-server with an ACL user. ioredis keeps one client object, so "switching" means what its
 * reconnects log in with, and a revoke means every connection drops and logs in again now.
 */

const NAME = 'cache';
const USER = 'app';

interface Secret {
  username: string;
  password: string;
}

/** The source double, plus the cache's validation-failure count. */
class CountingSource extends CredentialSourceDouble<Secret> {
  validationFailures = 0;
  recordValidationFailure(): void {
    this.validationFailures += 1;
  }
}

let server: RedisHandle;
let admin: Redis;
let counter = 0;
const passwords: string[] = [];
const log = captureLogger({ test: 'redis-validate-terminate' });
const cleanups: Array<() => void> = [];

function nextPassword(): string {
  counter += 1;
  const password = `pw-${counter}-${Math.random().toString(36).slice(2)}`;
  passwords.push(password);
  return password;
}

let firstPassword = nextPassword();

beforeAll(async () => {
  server = await startRedis({ aclUsers: [{ name: USER, passwords: [firstPassword] }] });
  admin = new Redis({ host: server.host, port: server.port, connectionName: 'admin' });
  await admin.ping();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  firstPassword = nextPassword();
  await admin.call('ACL', 'SETUSER', USER, 'resetpass', `>${firstPassword}`);
  await admin.call('CLIENT', 'KILL', 'USER', USER);
});

afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
  for (const password of passwords) expect(log.lines().filter((line) => line.includes(password))).toEqual([]);
});

async function rotatingClient(source: CredentialSourceDouble<Secret>, validate: boolean) {
  const client = createRotatingRedis(source, NAME, {
    host: server.host,
    port: server.port,
    connectionName: 'rotating',
    logger: log.logger,
    ...(validate ? { validateBeforeSwitch: { retryBackoff: { minMs: 50, maxMs: 200 } } } : {}),
  });
  const errors: string[] = [];
  client.on('error', (err: Error) => errors.push(err.message));
  cleanups.push(() => client.disconnect());
  await waitUntil(() => client.status === 'ready', { message: 'the rotating client to be ready' });
  return { client, errors };
}

/** Connection ids and names of USER's connections, from CLIENT LIST. */
async function connectionsOf(user: string): Promise<Array<{ id: string; name: string }>> {
  const list = (await admin.call('CLIENT', 'LIST')) as string;
  return list
    .split('\n')
    .filter((line) => line.includes(` user=${user} `))
    .map((line) => ({ id: /\bid=(\d+)/.exec(line)?.[1] ?? '', name: /\bname=(\S*)/.exec(line)?.[1] ?? '' }));
}

describe('createRotatingRedis: validateBeforeSwitch and terminateOld against a real redis-server', () => {
  it('keeps reconnecting with the working password while the server refuses the new one, then switches once it accepts it: 0 failed commands', async () => {
    const source = new CountingSource(NAME, { username: USER, password: firstPassword });
    const { client } = await rotatingClient(source, true);
    const load = startRedisLoad(client, 3, 'validate');
    await waitUntil(() => load.completed() > 100, { message: 'the load to get going' });

    const next = nextPassword();
    const newVersion = source.setCurrent({ username: USER, password: next }); // Redis does not know `next` yet
    source.publish();
    await waitUntil(() => (redisRotationStatus(client)?.validationFailures ?? 0) >= 2, { message: 'two refused checks' });
    // A reconnect meanwhile logs in with the password that works.
    const before = load.completed();
    await admin.call('CLIENT', 'KILL', 'USER', USER);
    await waitUntil(() => client.status === 'ready' && load.completed() > before + 100, { message: 'the load after a reconnect' });
    expect(redisRotationStatus(client)).toMatchObject({ versionId: 'v1', authFailures: 0 });
    expect(source.validationFailures).toBe(redisRotationStatus(client)?.validationFailures);

    await admin.call('ACL', 'SETUSER', USER, `>${next}`); // the server catches up (both valid, ROTATE-style)
    await waitUntil(() => redisRotationStatus(client)?.versionId === newVersion, { message: 'the switch once Redis accepts the new password' });
    await admin.call('ACL', 'SETUSER', USER, `<${firstPassword}`);
    await admin.call('CLIENT', 'KILL', 'USER', USER);
    const after = load.completed();
    await waitUntil(() => client.status === 'ready' && load.completed() > after + 100, { message: 'the load on the new password' });
    const result = await load.stop();

    expect(result.failures).toEqual([]);
    expect(redisRotationStatus(client)).toMatchObject({ authFailures: 0, recoveries: 0 });
    // No probe connection is left behind.
    expect((await connectionsOf(USER)).filter((c) => c.name === 'rotation-relay:validate')).toEqual([]);
  });

  it('a client closed and connected again still checks and switches (a new check loop, not the stopped one)', async () => {
    const source = new CountingSource(NAME, { username: USER, password: firstPassword });
    const { client } = await rotatingClient(source, true);
    client.disconnect(); // 'end': the check loop stops
    await waitUntil(() => client.status === 'end', { message: 'the client to end' });
    await client.connect();

    const next = nextPassword();
    const newVersion = source.setCurrent({ username: USER, password: next });
    source.publish();
    await waitUntil(() => (redisRotationStatus(client)?.validationFailures ?? 0) >= 1, { message: 'a refused check after the reconnect' });
    await admin.call('ACL', 'SETUSER', USER, `>${next}`);

    await waitUntil(() => redisRotationStatus(client)?.versionId === newVersion, { message: 'the switch once Redis accepts the new password' });
    expect(redisRotationStatus(client)).toMatchObject({ authFailures: 0 });
  });

  it('on revoked, drops the connection that logged in with the old password and logs in again with the new one', async () => {
    const source = new CountingSource(NAME, { username: USER, password: firstPassword });
    const { client } = await rotatingClient(source, false);
    const [old] = (await connectionsOf(USER)).filter((c) => c.name === 'rotating');
    expect(old).toBeDefined();
    // SET-style: only the new password is valid now, but Redis keeps the authenticated connection.
    const next = nextPassword();
    await admin.call('ACL', 'SETUSER', USER, 'resetpass', `>${next}`);
    const newVersion = source.setCurrent({ username: USER, password: next });
    source.publish();
    expect((await connectionsOf(USER)).map((c) => c.id)).toContain(old?.id);
    const load = startRedisLoad(client, 3, 'revoke');
    await waitUntil(() => load.completed() > 50, { message: 'the load to get going' });

    source.emit('revoked', { name: NAME, secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:cache-AbCdEf', versionId: newVersion, trigger: 'invalidation' } satisfies RevokedEvent);

    await waitUntil(async () => {
      const ids = (await connectionsOf(USER)).filter((c) => c.name === 'rotating').map((c) => c.id);
      return ids.length === 1 && !ids.includes(old?.id ?? '');
    }, { message: 'the old connection replaced by a new login' });
    const before = load.completed();
    await waitUntil(() => client.status === 'ready' && load.completed() > before + 50, { message: 'the load on the new connection' });
    const result = await load.stop();

    expect(await client.call('ACL', 'WHOAMI')).toBe(USER);
    expect(redisRotationStatus(client)).toMatchObject({ versionId: newVersion, terminations: 1, authFailures: 0 });
    // ioredis re-sends what was waiting for a reply on the dropped connection: nothing failed.
    expect(result.failures).toEqual([]);
    const warning = log.records().find((r) => String(r.msg).startsWith(`rotating redis: emergency revoke of secret "${NAME}"`));
    expect(warning).toMatchObject({ level: 'warn', secretName: NAME });
  });
});
