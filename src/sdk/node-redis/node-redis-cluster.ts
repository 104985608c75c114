import { createCluster, type RedisClusterOptions, type RedisClusterType, type RedisFunctions, type RedisModules, type RedisScripts, type RespVersions, type TypeMapping } from 'redis';
import { silentLogger, type Logger } from '../../common/index.js';
import { isRedisAuthError } from '../../redis/index.js';
import type { CredentialSource } from '../cache/index.js';
import { validationBackoff } from '../rotating/index.js';
import { installCommandRetry } from './command-retry.js';
import { canDropConnection, dropConnections } from './connection-drop.js';
import { listenForLoginErrors } from './error-listener.js';
import { CredentialFollower } from './credential-follower.js';
import { DEFAULT_AUTH_RECOVERY_TIMEOUT_MS, type RotatingNodeRedisExtras } from './node-redis-client.js';
import { rejectCredentialOptions } from './node-redis-credentials.js';
import { probeNodeRedisCluster } from './node-redis-validate.js';
import { registerRotationStatus } from './rotation-status.js';

/** The options of one node connection, as `createCluster` takes them in `defaults` and `rootNodes`. */
type NodeOptions = NonNullable<RedisClusterOptions['defaults']>;
type NoCredentials<T> = Omit<T, 'password' | 'credentialsProvider'>;

/**
 * node-redis' `createCluster` options without the credentials: `rootNodes` and `defaults` (the
 * options of every node connection) take no `password`, no `credentialsProvider` and no URL with
 * user info. `defaults.username` is the user when the secret names none. Everything else goes
 * to `createCluster` unchanged, with node-redis' defaults (`maxCommandRedirections` 16,
 * `useReplicas` false, `minimizeConnections` false, RESP3).
 */
export type RotatingNodeRedisClusterOptions<
  /* eslint-disable @typescript-eslint/no-empty-object-type */
  M extends RedisModules = {},
  F extends RedisFunctions = {},
  S extends RedisScripts = {},
  RESP extends RespVersions = 3,
  TYPE_MAPPING extends TypeMapping = {},
  /* eslint-enable @typescript-eslint/no-empty-object-type */
> = Omit<RedisClusterOptions<M, F, S, RESP, TYPE_MAPPING>, 'defaults' | 'rootNodes'> &
  RotatingNodeRedisExtras & {
    rootNodes: Array<NoCredentials<RedisClusterOptions['rootNodes'][number]>>;
    defaults?: NoCredentials<NodeOptions>;
  };

/** The parts of a node-redis Cluster this module reaches: its node connections and its `connect`. */
interface ClusterInternals {
  _self?: { connect?: () => Promise<unknown> };
  masters?: Array<{ client?: unknown; pubSub?: { client?: unknown } }>;
  replicas?: Array<{ client?: unknown }>;
  pubSubNode?: { client?: unknown };
}

/** Attempts of `connect()` whose slot discovery was refused for its credentials. */
const MAX_CONNECT_ATTEMPTS = 3;

/**
 * A node-redis Cluster (`createCluster` of `redis` v6) whose logins follow the secret `name` of
 * `source`. The app gets the real RedisCluster; call `connect()` on it as usual.
 *
 * The same as {@link createRotatingNodeRedis}, for every connection the cluster opens: the one
 * credentials provider goes in `defaults`, which node-redis copies into each node connection,
 * replica, pub/sub connection and slot-discovery connection it creates, now or after a
 * resharding or a failover, so each of their logins reads the newest credentials. A node whose
 * login is refused (`node-error` WRONGPASS) starts the shared recovery; the commands it took down
 * are sent again once its connection has logged in with the new credentials (each node
 * connection gets the retry when it first connects). `connect()` itself is retried when slot
 * discovery failed only because its login was refused (a process starting inside a single-user
 * rotation's window, say): node-redis gives up on the first round there, with
 * `RootNodesUnavailableError`.
 *
 * An emergency revoke drops every node connection (masters, replicas, pub/sub) at once, as on the
 * standalone client: each reconnects and logs in with the current credentials; the commands in
 * flight on them reject with `ConnectionTerminatedError`, which each node also emits as
 * `'node-error'`.
 *
 * Not covered, as for the standalone client: `duplicate()` (its logins follow rotations, without
 * the retry) and SUBSCRIBE calls.
 */
export function createRotatingNodeRedisCluster<
  /* eslint-disable @typescript-eslint/no-empty-object-type */
  M extends RedisModules = {},
  F extends RedisFunctions = {},
  S extends RedisScripts = {},
  RESP extends RespVersions = 3,
  TYPE_MAPPING extends TypeMapping = {},
  /* eslint-enable @typescript-eslint/no-empty-object-type */
>(source: CredentialSource, name: string, options: RotatingNodeRedisClusterOptions<M, F, S, RESP, TYPE_MAPPING>): RedisClusterType<M, F, S, RESP, TYPE_MAPPING> {
  const { logger, authRecoveryTimeoutMs, validateBeforeSwitch, defaults = {}, ...clusterOptions } = options;
  const fn = 'createRotatingNodeRedisCluster';
  rejectCredentialOptions(defaults, 'defaults', fn);
  clusterOptions.rootNodes.forEach((node, i) => rejectCredentialOptions(node, `rootNodes[${i}]`, fn));
  const backoff = validationBackoff(validateBeforeSwitch);
  const log: Logger = logger ?? silentLogger();
  const follower = new CredentialFollower(source, name, defaults.username, log, authRecoveryTimeoutMs ?? DEFAULT_AUTH_RECOVERY_TIMEOUT_MS);
  const cluster = createCluster<M, F, S, RESP, TYPE_MAPPING>({
    ...clusterOptions,
    defaults: { ...defaults, credentialsProvider: follower.provider },
  } as RedisClusterOptions<M, F, S, RESP, TYPE_MAPPING>);
  const internals = cluster as unknown as ClusterInternals;
  if (backoff) follower.validateWith(backoff, (creds) => probeNodeRedisCluster(cluster, clusterOptions, defaults, creds));

  let retrying = retryConnect(internals, follower);
  // A node connection emits 'connect' on its socket before its first handshake, and the cluster
  // sends it commands only once it is ready: wrapping every connection not yet wrapped here
  // covers each before its first command, whenever the cluster creates it.
  const adoptNodes = (): void => {
    for (const client of nodeClients(internals)) {
      retrying = installCommandRetry(client, follower) && retrying;
      if (!canDropConnection(client)) follower.dropUnsupported();
    }
  };
  follower.dropConnections = (err) => dropConnections(nodeClients(internals), err);
  cluster.on('node-connect', adoptNodes);
  cluster.on('node-error', (err: unknown) => {
    if (isRedisAuthError(err)) void follower.loginRefused(err as Error);
  });
  cluster.on('node-ready', () => follower.confirm());
  // Slot discovery runs on connections of its own: their refused logins reach only 'error'.
  listenForLoginErrors(cluster, follower);
  cluster.on('connect', () => follower.listen());
  cluster.on('disconnect', () => follower.unlisten());
  registerRotationStatus(cluster, () => follower.status(retrying));
  return cluster;
}

/** Every node connection of the cluster: masters, replicas, pub/sub (sharded ones included). */
function nodeClients(cluster: ClusterInternals): unknown[] {
  const found: unknown[] = [];
  for (const node of cluster.masters ?? []) found.push(node.client, node.pubSub?.client);
  for (const node of cluster.replicas ?? []) found.push(node.client);
  found.push(cluster.pubSubNode?.client);
  return found.filter((client) => client !== undefined);
}

/**
 * Wraps the cluster's `connect`: when discovery failed and a login was refused meanwhile, wait
 * for the recovery and try again (at most {@link MAX_CONNECT_ATTEMPTS} times in all).
 */
function retryConnect(cluster: ClusterInternals, follower: CredentialFollower): boolean {
  const self = cluster._self;
  const original = self?.connect;
  if (self === undefined || typeof original !== 'function') return false;
  self.connect = async function connect(this: unknown): Promise<unknown> {
    for (let attempt = 1; ; attempt += 1) {
      const refusedBefore = follower.refusedLogins;
      try {
        return await original.call(this);
      } catch (err) {
        const refused = follower.refusedLogins > refusedBefore;
        if (!refused || attempt >= MAX_CONNECT_ATTEMPTS || !(await follower.commandRefused(err as Error))) throw err;
      }
    }
  };
  return true;
}
