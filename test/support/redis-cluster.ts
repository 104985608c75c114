import { join } from 'node:path';
import { Redis } from 'ioredis';
import { requireBinary } from './require-binary.js';
import { startRedis, type RedisHandle } from './redis-server.js';
import { runCommand } from './run-command.js';
import { createTempDir, type TempDir } from './temp-dir.js';
import { waitUntil } from './wait-until.js';

/** The master owning one key's slot and its replicas, as indexes in `RedisClusterHandle.nodes`. */
export interface ClusterShard {
  slot: number;
  master: number;
  replicas: number[];
}

/** One failover, timed on this process's clock (ms since the epoch). */
export interface ClusterFailover {
  /** The master that went away (killed) or stepped down (manual failover). */
  from: number;
  /** The replica that is master now. */
  to: number;
  /** When the SIGKILL / `CLUSTER FAILOVER` was issued. */
  startedAt: number;
  /** When `to` first answered `ROLE` as a master (polled every 10 ms). */
  promotedAt: number;
  /** When every running node reported `cluster_state:ok` with `to` owning the slot. */
  healthyAt: number;
}

/** A Redis Cluster on loopback, for one test file: masters, optionally with replicas. */
export interface RedisClusterHandle {
  /**
   * One handle per node, masters first in the order `--cluster create` got them, then replicas.
   * Roles change with failovers: ask {@link RedisClusterHandle.shardOf}. `restart()`/`kill()`+`start()`
   * keep a node's identity; a killed master that was failed over comes back as a replica.
   */
  readonly nodes: readonly RedisHandle[];
  /** `redis://127.0.0.1:<port>` of node `index`: a seed for `cluster: true` clients. */
  url(index: number): string;
  /** Index in `nodes` of the master that owns the slot of `key` (`CLUSTER KEYSLOT` + `CLUSTER SLOTS`). */
  ownerOf(key: string): Promise<number>;
  /** The master owning `key`'s slot and its replicas, as a running node sees them (`CLUSTER NODES`). */
  shardOf(key: string): Promise<ClusterShard>;
  /** Indexes of the masters that own slots, as a running node sees them (`CLUSTER NODES`). */
  masters(): Promise<number[]>;
  /** False between a node's `kill()`/`stop()` and its `start()`. */
  isRunning(index: number): boolean;
  /** One command on node `index`, on a short-lived connection of its own. */
  call(index: number, ...args: Array<string | number>): Promise<unknown>;
  /**
   * Resolves once every running node reports `cluster_state:ok`, knows every node and serves all
   * 16 384 slots, and every running replica's link to its master is up.
   */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** SIGKILLs the master owning `key`'s slot and resolves once a replica of it took over. */
  killMasterOf(key: string, timeoutMs?: number): Promise<ClusterFailover>;
  /**
   * SIGSTOPs node `index`: a hung server whose sockets stay open and silent (no reset), unlike a
   * killed one. It counts as not running until {@link RedisClusterHandle.thaw}.
   */
  freeze(index: number): Promise<void>;
  /** SIGCONTs a node {@link RedisClusterHandle.freeze} stopped. */
  thaw(index: number): Promise<void>;
  /** `CLUSTER FAILOVER` on a replica of the master owning `key`'s slot (a planned switchover). */
  failOverManually(key: string, timeoutMs?: number): Promise<ClusterFailover>;
  /**
   * Waits for a replica of `shard` to be master and the cluster to be ok again, after the caller
   * took `shard.master` away at `startedAt` (e.g. killed it while doing something else).
   */
  waitFailover(shard: ClusterShard, startedAt: number, timeoutMs?: number): Promise<ClusterFailover>;
  /** Stops every node and removes the cluster's config directory. Idempotent. */
  stop(): Promise<void>;
}

export interface StartRedisClusterOptions {
  /** Number of masters. @defaultValue 3 */
  masters?: number;
  /** Replicas of each master (`--cluster-replicas`). @defaultValue 0 */
  replicasPerMaster?: number;
  /**
   * `cluster-node-timeout` in ms: how long a node may be unreachable before the others flag it.
   * Without replicas, restarts in tests stay well below it, so a restarted master rejoins without
   * a failover. With replicas it is what a failover waits for before the election, so it is short.
   * @defaultValue 5 000 without replicas, 1 000 with replicas
   */
  nodeTimeoutMs?: number;
}

const INSTALL_HINT = 'apt-get install redis-server (redis-cli ships with it, or redis-tools)';

/** One line of `CLUSTER NODES`. */
interface NodeLine {
  id: string;
  port: number;
  flags: string[];
  masterId: string | undefined;
  slots: Array<[number, number]>;
}

/**
 * Starts `masters × (1 + replicasPerMaster)` redis-servers with `--cluster-enabled yes` on free
 * loopback ports and joins them with `redis-cli --cluster create … --cluster-replicas
 * <replicasPerMaster> --cluster-yes`, then waits until the cluster is healthy.
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
  const replicasPerMaster = options.replicasPerMaster ?? 0;
  const total = masters * (1 + replicasPerMaster);
  const nodeTimeoutMs = options.nodeTimeoutMs ?? (replicasPerMaster > 0 ? 1_000 : 5_000);
  const redisCli = requireBinary('redis-cli', INSTALL_HINT);
  const dir: TempDir = await createTempDir('rr-redis-cluster-');
  const nodes: RedisHandle[] = [];
  const running = new Set<number>();
  /** Process ids of frozen nodes, by index. */
  const frozen = new Map<number, number>();
  let stopped = false;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // A stopped process ignores SIGTERM until it continues.
    for (const pid of frozen.values()) process.kill(pid, 'SIGCONT');
    frozen.clear();
    await Promise.allSettled(nodes.map((node) => node.stop()));
    await dir.remove();
  };

  try {
    for (let i = 0; i < total; i += 1) {
      const server = await startRedis({
        extraArgs: [
          '--cluster-enabled', 'yes',
          '--cluster-config-file', join(dir.path, `nodes-${i}.conf`),
          '--cluster-node-timeout', String(nodeTimeoutMs),
          '--cluster-announce-ip', '127.0.0.1',
        ],
      });
      running.add(i);
      nodes.push(tracked(server, i, running));
    }
    await runCommand(
      redisCli,
      ['--cluster', 'create', ...nodes.map((node) => `127.0.0.1:${node.port}`), '--cluster-replicas', String(replicasPerMaster), '--cluster-yes'],
      { timeoutMs: 30_000 },
    );
  } catch (error) {
    await stop();
    throw error;
  }

  const call = async (index: number, ...args: Array<string | number>): Promise<unknown> => {
    const node = nodes[index];
    if (!node) throw new Error(`the cluster has no node ${index}`);
    // Bounded: a frozen node accepts the connection (the kernel does) and never answers.
    const client = new Redis({ host: '127.0.0.1', port: node.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1_000, commandTimeout: 1_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const [command, ...rest] = args;
      return await client.call(String(command), ...rest);
    } finally {
      client.disconnect();
    }
  };

  const runningIndexes = (): number[] => [...running].sort((a, b) => a - b);
  const indexOfPort = (port: number): number => nodes.findIndex((node) => node.port === port);

  /** `CLUSTER NODES` as node `index` sees it. */
  const clusterNodes = async (index: number): Promise<NodeLine[]> => parseClusterNodes(String(await call(index, 'CLUSTER', 'NODES')));

  /** Asks running nodes in turn: the first that answers is the one whose view counts. */
  const anyRunning = async <T>(query: (index: number) => Promise<T>): Promise<T> => {
    let lastError: unknown = new Error('no node of the cluster is running');
    for (const index of runningIndexes()) {
      try {
        return await query(index);
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  };

  const shardOf = (key: string): Promise<ClusterShard> =>
    anyRunning(async (index) => {
      const slot = Number(await call(index, 'CLUSTER', 'KEYSLOT', key));
      const view = await clusterNodes(index);
      const owner = view.find((line) => line.flags.includes('master') && !line.flags.includes('fail') && line.slots.some(([from, to]) => slot >= from && slot <= to));
      if (!owner) throw new Error(`no master owns slot ${slot} of ${key}`);
      const replicas = view.filter((line) => line.masterId === owner.id).map((line) => indexOfPort(line.port)).filter((i) => i >= 0);
      return { slot, master: indexOfPort(owner.port), replicas };
    });

  const healthy = async (): Promise<boolean> => {
    for (const index of runningIndexes()) {
      const info = String(await call(index, 'CLUSTER', 'INFO'));
      if (!info.includes('cluster_state:ok') || !info.includes(`cluster_known_nodes:${total}`) || !info.includes('cluster_slots_ok:16384')) return false;
      const role = (await call(index, 'ROLE')) as unknown[];
      // A replica's ROLE: ['slave', masterIp, masterPort, 'connected' | 'connecting' | 'sync' | …, offset].
      if (role[0] === 'slave' && role[3] !== 'connected') return false;
    }
    return true;
  };

  const waitHealthy = async (timeoutMs = 30_000): Promise<void> => {
    const shape = replicasPerMaster > 0 ? `${masters}-master, ${replicasPerMaster}-replica-each` : `${masters}-master`;
    await waitUntil(healthy, { timeoutMs, message: `the ${shape} cluster to report cluster_state:ok on every running node` });
  };

  const waitFailover = async (shard: ClusterShard, startedAt: number, timeoutMs = 30_000): Promise<ClusterFailover> => {
    let to = -1;
    await waitUntil(
      async () => {
        for (const replica of shard.replicas) {
          if (!running.has(replica)) continue;
          const role = (await call(replica, 'ROLE').catch(() => [])) as unknown[];
          if (role[0] === 'master') {
            to = replica;
            return true;
          }
        }
        return false;
      },
      { timeoutMs, intervalMs: 10, message: `a replica of node ${shard.master} (${shard.replicas.join(', ')}) to be promoted` },
    );
    const promotedAt = Date.now();
    await waitUntil(
      async () => {
        if (!(await healthy())) return false;
        // Every running node must route the slot to the new master, not only the new master itself.
        for (const index of runningIndexes()) {
          const owner = (await clusterNodes(index)).find((line) => line.flags.includes('master') && line.slots.some(([from, end]) => shard.slot >= from && shard.slot <= end));
          if (!owner || indexOfPort(owner.port) !== to) return false;
        }
        return true;
      },
      { timeoutMs, intervalMs: 10, message: `every running node to route slot ${shard.slot} to node ${to} with cluster_state:ok` },
    );
    return { from: shard.master, to, startedAt, promotedAt, healthyAt: Date.now() };
  };

  const handle: RedisClusterHandle = {
    nodes,
    url: (index) => {
      const node = nodes[index];
      if (!node) throw new Error(`the cluster has no node ${index}`);
      return node.url;
    },
    ownerOf: async (key) => (await shardOf(key)).master,
    shardOf,
    masters: () =>
      anyRunning(async (index) =>
        (await clusterNodes(index))
          .filter((line) => line.flags.includes('master') && !line.flags.includes('fail') && line.slots.length > 0)
          .map((line) => indexOfPort(line.port))
          .sort((a, b) => a - b),
      ),
    isRunning: (index) => running.has(index),
    call,
    waitHealthy,
    async killMasterOf(key, timeoutMs) {
      const shard = await shardOf(key);
      if (shard.replicas.length === 0) throw new Error(`node ${shard.master} has no replica to fail over to`);
      const master = nodes[shard.master];
      if (!master) throw new Error(`the cluster has no node ${shard.master}`);
      const startedAt = Date.now();
      await master.kill();
      return waitFailover(shard, startedAt, timeoutMs);
    },
    async freeze(index) {
      const pid = Number(/process_id:(\d+)/.exec(String(await call(index, 'INFO', 'server')))?.[1]);
      if (!Number.isInteger(pid)) throw new Error(`node ${index} did not report its process id`);
      frozen.set(index, pid);
      running.delete(index);
      process.kill(pid, 'SIGSTOP');
    },
    async thaw(index) {
      const pid = frozen.get(index);
      if (pid === undefined) return;
      frozen.delete(index);
      process.kill(pid, 'SIGCONT');
      running.add(index);
      await waitUntil(async () => (await call(index, 'PING')) === 'PONG', { message: `node ${index} to answer again after SIGCONT` });
    },
    async failOverManually(key, timeoutMs) {
      const shard = await shardOf(key);
      const replica = shard.replicas.find((index) => running.has(index));
      if (replica === undefined) throw new Error(`node ${shard.master} has no running replica to fail over to`);
      const startedAt = Date.now();
      await call(replica, 'CLUSTER', 'FAILOVER');
      return waitFailover({ ...shard, replicas: [replica] }, startedAt, timeoutMs);
    },
    waitFailover,
    stop,
  };
  try {
    await waitHealthy();
  } catch (error) {
    await stop();
    throw error;
  }
  return handle;
}

/** `server` with its running state mirrored into `running`, so cluster checks skip nodes that are down. */
function tracked(server: RedisHandle, index: number, running: Set<number>): RedisHandle {
  return {
    host: server.host,
    port: server.port,
    url: server.url,
    async stop() {
      running.delete(index);
      await server.stop();
    },
    async kill() {
      running.delete(index);
      await server.kill();
    },
    async start() {
      await server.start();
      running.add(index);
    },
    async restart() {
      running.delete(index);
      await server.restart();
      running.add(index);
    },
  };
}

/** `<id> <ip:port@cport[,hostname]> <flags> <master|-> <ping> <pong> <epoch> <link> <slot> …` per line. */
function parseClusterNodes(text: string): NodeLine[] {
  return text
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .map((line) => {
      const [id = '', address = '', flags = '', master = '-', , , , , ...slots] = line.trim().split(' ');
      const port = Number(address.split('@')[0]?.split(':').at(-1));
      return {
        id,
        port,
        flags: flags.split(','),
        masterId: master === '-' ? undefined : master,
        slots: slots
          .filter((slot) => !slot.startsWith('[')) // slots being migrated: `[slot->-id]`
          .map((slot): [number, number] => {
            const [from, to = from] = slot.split('-');
            return [Number(from), Number(to)];
          }),
      };
    });
}
