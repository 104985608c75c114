import { createClient, type RedisClientOptions, type RedisClusterOptions, type RespVersions } from 'redis';
import type { RedisCredentials } from './node-redis-credentials.js';

/**
 * `validateBeforeSwitch` for the rotating node-redis clients: one login with the new credentials
 * on a node-redis connection of its own — the handshake's AUTH (or HELLO … AUTH), then a PING —
 * destroyed right after, whatever the outcome. The app's client is not touched, so a refused
 * check costs it nothing. The same handshake as the app's logins (its `url`, `socket`, `RESP`,
 * `database`, `name`…), so what the probe proves is what the next real login will see.
 */

/** The options of one node-redis connection, as the rotating clients pass them on. */
type ConnectionOptions = RedisClientOptions;
type NodeOptions = NonNullable<RedisClusterOptions['defaults']>;

/** node-redis' own default `socket.connectTimeout`, also the probe's bound on its handshake and PING. */
const DEFAULT_PROBE_TIMEOUT_MS = 5_000;

/** A standalone server: `options` are the client's (without the credentials). */
export function probeNodeRedis(options: ConnectionOptions, creds: RedisCredentials): Promise<void> {
  return probe(probeOptions(options, creds));
}

/** The parts of a Cluster a probe needs: its masters (`cluster.masters`, public) and its options. */
export interface ClusterProbeTarget {
  masters: ReadonlyArray<{ host: string; port: number; address: string }>;
}

/**
 * A Cluster: one master of the cluster's own node list (at random, so a fleet checking at the same
 * moment spreads over the nodes), with the options the cluster gives its node connections
 * (`defaults`, the node's address through `nodeAddressMap`, the cluster's `RESP`); before
 * the cluster has discovered its nodes, the first root node, as node-redis' own discovery.
 */
export function probeNodeRedisCluster(
  cluster: ClusterProbeTarget,
  options: { rootNodes: readonly NodeOptions[]; nodeAddressMap?: RedisClusterOptions['nodeAddressMap']; RESP?: RespVersions },
  defaults: NodeOptions,
  creds: RedisCredentials,
): Promise<void> {
  const { masters } = cluster;
  const master = masters[Math.floor(Math.random() * masters.length)];
  const node: NodeOptions = master ? { socket: mappedAddress(options.nodeAddressMap, master.address) ?? { host: master.host, port: master.port } } : (options.rootNodes[0] ?? {});
  // As node-redis builds a node connection's options: `defaults`, then the node's, sockets merged.
  const merged = { ...defaults, ...node, socket: { ...defaults.socket, ...node.socket }, RESP: options.RESP } as ConnectionOptions;
  return probe(probeOptions(merged, creds));
}

function mappedAddress(map: RedisClusterOptions['nodeAddressMap'], address: string): { host: string; port: number } | undefined {
  if (typeof map === 'function') return map(address);
  return map?.[address];
}

/**
 * The client's options with the new credentials, without what the probe must not share or keep:
 * as node-redis' own slot-discovery connection, no reconnects, no command options, no
 * maintenance notifications; no client-side cache, ping timer or metrics of the app's; no offline
 * queue. `socketTimeout` bounds the handshake and the PING (connectTimeout only bounds the TCP
 * connect): a server that accepts the connection and never answers must not hold the check up.
 */
function probeOptions(options: ConnectionOptions, creds: RedisCredentials): ConnectionOptions {
  const socket = options.socket ?? {};
  const timeout = socket.socketTimeout ?? socket.connectTimeout ?? DEFAULT_PROBE_TIMEOUT_MS;
  return {
    ...options,
    username: creds.username,
    password: creds.password,
    credentialsProvider: undefined,
    clientSideCache: undefined,
    commandOptions: undefined,
    pingInterval: undefined,
    metrics: undefined,
    maintNotifications: 'disabled',
    disableOfflineQueue: true,
    socket: { ...socket, reconnectStrategy: false, socketTimeout: timeout },
  } as ConnectionOptions;
}

async function probe(options: ConnectionOptions): Promise<void> {
  const client = createClient(options);
  // A refused login rejects connect() with the server's reply (WRONGPASS…) and is emitted as
  // 'error' too: node-redis would throw that one without a listener.
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
  } finally {
    client.destroy();
  }
}
