import { Cluster, Redis, type ClusterNode, type ClusterOptions, type RedisOptions } from 'ioredis';

/**
 * `validateBeforeSwitch` for the rotating ioredis client: one login with the new credentials on a
 * connection of its own — the handshake's AUTH, then a PING — closed right after, whatever the
 * outcome. No retries and no offline queue: one attempt, its own error. The app's client is not
 * touched, so a refused check costs it nothing.
 */
const PROBE: RedisOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  retryStrategy: () => null,
  reconnectOnError: null,
  autoResubscribe: false,
  connectionName: 'rotation-relay:validate',
};

/** A standalone server: `options` are the client's, with the new credentials written in. */
export function probeRedis(options: RedisOptions): Promise<void> {
  return probe(new Redis({ ...options, ...PROBE }));
}

/**
 * A Cluster: its startup nodes and options, the node options with the new credentials written in.
 * Passes only if every node the cluster lists (masters and replicas) accepts them.
 *
 * Why not one Cluster client's connect + PING: ACLs are per node (ElastiCache applies a user
 * change to each node on its own schedule), and that logs in on one or two nodes only, so it
 * passed while other nodes still refused, stranding the app's connections to them. And when the
 * node its ready check picked refused, its connect() never settled (ioredis drops the close
 * listener once the slots are known), which stalled the check and every retry. So: CLUSTER SLOTS
 * through one node (no ready check: the discovery client sends nothing else), then one
 * standalone probe per listed node, all settled before returning (no probe connection left).
 */
export async function probeRedisCluster(nodes: ClusterNode[], options: ClusterOptions, redisOptions: RedisOptions): Promise<void> {
  const discovery = new Cluster(nodes, {
    ...options,
    redisOptions: { ...redisOptions, ...PROBE },
    lazyConnect: true,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    clusterRetryStrategy: () => null,
  });
  let members: RedisOptions[] = [];
  await probe(discovery, () => {
    // Each node's options as the pool built them: NAT-mapped address, TLS, credentials.
    members = discovery.nodes('all').map((node) => ({ ...node.options }));
  });
  const outcomes = await Promise.allSettled(members.map((member) => probeRedis(member)));
  const refused = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (refused) throw refused.reason;
}

async function probe(client: Redis | Cluster, afterConnect: () => unknown = () => client.ping()): Promise<void> {
  // connect() rejects with "Connection is closed." after a refused AUTH; the server's own error
  // (WRONGPASS…) arrives as an 'error' event first and is the one worth reporting.
  let serverError: unknown;
  client.on('error', (err: unknown) => {
    serverError ??= err;
  });
  try {
    await client.connect();
    await afterConnect();
  } catch (err) {
    throw serverError ?? err;
  } finally {
    client.disconnect();
  }
}
