import { join } from 'node:path';
import { Redis } from 'ioredis';
import { requireBinary } from './require-binary.js';
import { startRedis, type RedisHandle } from './redis-server.js';
import { runCommand } from './run-command.js';
import { createTempDir, type TempDir } from './temp-dir.js';
import { waitUntil } from './wait-until.js';

/** A Redis Cluster of masters (no replicas) on loopback, for one test file. */
export interface RedisClusterHandle {
  /** One handle per master; `restart()`/`kill()`+`start()` keep its identity and slots. */
  readonly nodes: readonly RedisHandle[];
  /** `redis://127.0.0.1:<port>` of node `index`: a seed for `cluster: true` clients. */
  url(index: number): string;
  /** Index in `nodes` of the master that owns the slot of `key` (`CLUSTER KEYSLOT` + `CLUSTER SLOTS`). */
  ownerOf(key: string): Promise<number>;
  /** Resolves once every running node reports `cluster_state:ok` and knows every master. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Stops every node and removes the cluster's config directory. Idempotent. */
  stop(): Promise<void>;
}

export interface StartRedisClusterOptions {
  /** Number of masters. @defaultValue 3 */
  masters?: number;
  /**
   * `cluster-node-timeout` in ms: how long a node may be unreachable before the others flag it.
   * Restarts in tests stay well below it, so a restarted master rejoins without a failover.
   * @defaultValue 5 000
   */
  nodeTimeoutMs?: number;
}

const INSTALL_HINT = 'apt-get install redis-server (redis-cli ships with it, or redis-tools)';

/**
 * Starts `masters` redis-servers with `--cluster-enabled yes` on free loopback ports and joins
 * them with `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes`, then waits for
 * `cluster_state:ok` on every node.
 *
 * Why each choice:
 * - Every node's `nodes.conf` lives in a directory of the cluster's own (not the per-launch temp
 *   dir of startRedis), so a node that is killed and started again on its port comes back with
 *   its node id and slots, as a crashed master does — only its data is gone (no persistence).
 * - `--cluster-announce-ip 127.0.0.1`: otherwise CLUSTER SLOTS may report an empty host, which
 *   ioredis skips.
 */
export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<RedisClusterHandle> {
  const masters = options.masters ?? 3;
  const redisCli = requireBinary('redis-cli', INSTALL_HINT);
  const dir: TempDir = await createTempDir('rr-redis-cluster-');
  const nodes: RedisHandle[] = [];
  let stopped = false;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.allSettled(nodes.map((node) => node.stop()));
    await dir.remove();
  };

  try {
    for (let i = 0; i < masters; i += 1) {
      nodes.push(
        await startRedis({
          extraArgs: [
            '--cluster-enabled', 'yes',
            '--cluster-config-file', join(dir.path, `nodes-${i}.conf`),
            '--cluster-node-timeout', String(options.nodeTimeoutMs ?? 5_000),
            '--cluster-announce-ip', '127.0.0.1',
          ],
        }),
      );
    }
    await runCommand(
      redisCli,
      ['--cluster', 'create', ...nodes.map((node) => `127.0.0.1:${node.port}`), '--cluster-replicas', '0', '--cluster-yes'],
      { timeoutMs: 30_000 },
    );
  } catch (error) {
    await stop();
    throw error;
  }

  const clusterInfo = async (port: number): Promise<string> => {
    const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return String(await client.call('CLUSTER', 'INFO'));
    } finally {
      client.disconnect();
    }
  };

  const handle: RedisClusterHandle = {
    nodes,
    url: (index) => {
      const node = nodes[index];
      if (!node) throw new Error(`the cluster has no node ${index}`);
      return node.url;
    },
    async ownerOf(key) {
      const client = new Redis({ host: '127.0.0.1', port: nodes[0]?.port ?? 0, maxRetriesPerRequest: 1 });
      try {
        const slot = Number(await client.call('CLUSTER', 'KEYSLOT', key));
        const ranges = (await client.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, ...unknown[]], ...unknown[]]>;
        const range = ranges.find(([from, to]) => slot >= from && slot <= to);
        const port = range?.[2][1];
        const index = nodes.findIndex((node) => node.port === port);
        if (index < 0) throw new Error(`no node owns slot ${slot} of ${key}`);
        return index;
      } finally {
        client.disconnect();
      }
    },
    async waitHealthy(timeoutMs = 30_000) {
      await waitUntil(
        async () => {
          for (const node of nodes) {
            const info = await clusterInfo(node.port);
            if (!info.includes('cluster_state:ok') || !info.includes(`cluster_known_nodes:${masters}`) || !info.includes('cluster_slots_ok:16384')) return false;
          }
          return true;
        },
        { timeoutMs, message: `the ${masters}-master cluster to report cluster_state:ok on every node` },
      );
    },
    stop,
  };
  try {
    await handle.waitHealthy();
  } catch (error) {
    await stop();
    throw error;
  }
  return handle;
}
