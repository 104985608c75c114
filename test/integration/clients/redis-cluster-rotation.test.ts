import { Redis, type Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRotatingRedis, redisRotationStatus } from '../../../src/sdk/ioredis/redis-client.js';
import { CredentialSourceDouble } from '../../support/credential-source-double.js';
import { startRedis, type RedisHandle } from '../../support/redis-server.js';
import { waitUntil } from '../../support/wait-until.js';
import { startRedisLoad } from '../../support/redis-load.js';

/**
 * The Cluster path of the rotating client against a real redis-server in cluster mode (one node
 * owning all 16 384 slots: the smallest real cluster; ioredis runs its full cluster machinery —
 * CLUSTER SLOTS discovery, a connection pool of node clients, slot-cache refreshes on
 * short-lived duplicates — against it).
 */

const NAME = 'cache';
const USER = 'app';

let server: RedisHandle;
let admin: Redis;

beforeAll(async () => {
  server = await startRedis({
    aclUsers: [{ name: USER, passwords: ['cluster-pw-0'] }],
    // Announce the loopback address, or CLUSTER SLOTS reports an empty host ioredis skips.
    extraArgs: ['--cluster-enabled', 'yes', '--cluster-announce-ip', '127.0.0.1'],
  });
  admin = new Redis({ host: server.host, port: server.port, connectionName: 'admin' });
  await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
  await waitUntil(async () => String(await admin.call('CLUSTER', 'INFO')).includes('cluster_state:ok'), { message: 'the one-node cluster to be ok' });
});

afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

describe('createRotatingRedis in cluster mode against a real redis-server cluster', () => {
  it('keeps 3 SET/GET loops failure-free across ROTATE, SET and missed-invalidation rotations', { timeout: 120_000 }, async () => {
    // Prepare
    const source = new CredentialSourceDouble<{ username: string; password: string }>(NAME, { username: USER, password: 'cluster-pw-0' });
    const cluster: Cluster = createRotatingRedis(source, NAME, { cluster: [{ host: server.host, port: server.port }], redisOptions: { connectionName: 'rotating' } });
    const errors: string[] = [];
    cluster.on('error', (err: Error) => errors.push(err.message));
    await waitUntil(() => cluster.status === 'ready', { message: 'the cluster client to be ready' });
    const load = startRedisLoad(cluster, 3, 'cluster');
    await waitUntil(() => load.completed() > 100, { message: 'the load to get going' });
    let current = 'cluster-pw-0';
    let missed = 0;

    // Act: 12 rotations: ROTATE (both valid, then old revoked), SET with the invalidation
    // first, SET with the invalidation never arriving (the node login fails and refreshes)
    for (let i = 1; i <= 12; i += 1) {
      const next = `cluster-pw-${i}`;
      const ops = load.completed();
      source.setCurrent({ username: USER, password: next });
      if (i % 3 === 0) {
        await admin.call('ACL', 'SETUSER', USER, `>${next}`);
        source.publish();
        await admin.call('CLIENT', 'KILL', 'USER', USER);
        await waitUntil(() => load.completed() > ops + 30, { message: 'progress with both passwords valid' });
        await admin.call('ACL', 'SETUSER', USER, `<${current}`);
      } else {
        await admin.call('ACL', 'SETUSER', USER, 'resetpass', `>${next}`);
        if (i % 3 === 1) source.publish();
        else missed += 1;
      }
      await admin.call('CLIENT', 'KILL', 'USER', USER);
      current = next;
      await waitUntil(() => load.completed() > ops + 100, { message: `the load to make progress after rotation ${i}` });
    }
    const result = await load.stop();

    // Assess
    expect(result.failures).toEqual([]);
    expect(cluster.options.redisOptions?.password).toBe(current);
    for (const node of cluster.nodes('all')) expect(node.options.password).toBe(current);
    expect(await cluster.call('ACL', 'WHOAMI')).toBe(USER);
    expect(source.counts.authRecoveries).toBe(missed);
    expect(redisRotationStatus(cluster)).toMatchObject({ versionId: 'v13', mode: 'current', recoveries: missed, queueKeepingHook: true });
    console.info(
      `[redis cluster x12] operations=${result.operations} failed=${result.failures.length} maxLatencyMs=${result.maxLatencyMs.toFixed(1)} ` +
        `p99LatencyMs=${result.p99LatencyMs.toFixed(2)} missedInvalidations=${missed} clusterErrorEvents=${errors.length}`,
    );
    cluster.disconnect();
  });
});
