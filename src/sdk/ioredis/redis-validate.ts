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

/** A Cluster: its startup nodes and options, the node options with the new credentials written in. */
export function probeRedisCluster(nodes: ClusterNode[], options: ClusterOptions, redisOptions: RedisOptions): Promise<void> {
  return probe(
    new Cluster(nodes, { ...options, redisOptions: { ...redisOptions, ...PROBE }, lazyConnect: true, enableOfflineQueue: false, clusterRetryStrategy: () => null }),
  );
}

async function probe(client: Redis | Cluster): Promise<void> {
  // connect() rejects with "Connection is closed." after a refused AUTH; the server's own error
  // (WRONGPASS…) arrives as an 'error' event first and is the one worth reporting.
  let serverError: unknown;
  client.on('error', (err: unknown) => {
    serverError ??= err;
  });
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    throw serverError ?? err;
  } finally {
    client.disconnect();
  }
}
