import { Cluster, Redis, type ClusterNode, type ClusterOptions, type RedisOptions } from 'ioredis';
import { silentLogger, type Logger } from '../../common/index.js';
import { applyRedisCredentials, writeRedisCredentials, type RedisCredentialsUpdate } from '../../redis/index.js';
import type { BackoffBounds, CredentialMode, CredentialSource, CredentialVersion, RevokedEvent } from '../cache/index.js';
import { isRedisAuthError, validationBackoff, RedisCredentialFollower, ValidatedSwitch, type RedisFollowerCounts, type ValidateBeforeSwitch } from '../rotating/index.js';
import { installAuthFailureHook, type AttemptedLogin } from './redis-auth-hook.js';
import { redisCredentialsFromSecret, type RedisCredentials } from './redis-credentials.js';
import { probeRedis, probeRedisCluster } from './redis-validate.js';

/** What the rotating client adds to ioredis' own options. */
interface RotatingRedisExtras {
  /** Rotation events (secret name, version ids, never a value). @defaultValue a silent logger */
  logger?: Logger;
  /**
   * How long a connection whose login failed waits for the refreshed credentials before
   * reconnecting anyway. @defaultValue 10 000 ms
   */
  authRecoveryTimeoutMs?: number;
  /**
   * On a rotation, log in once with the new credentials on a short-lived connection of its own
   * (AUTH, PING; a Cluster: on every node it lists, since ACLs are per node) before reconnects
   * use them; if the server (any node) refuses them, reconnects keep the current ones, the
   * failure is counted (`redisRotationStatus().validationFailures`, the cache's
   * `CredentialValidationFailures`) and the check is retried with backoff. Worth it where the
   * server applies a new password later than Secrets Manager has it (ElastiCache applies a user's
   * `modify-user` asynchronously); see docs/operations.md, "Validate before switching".
   * @defaultValue false
   */
  validateBeforeSwitch?: ValidateBeforeSwitch;
}

/**
 * ioredis `RedisOptions` without `password` (it comes from the secret). `username` is allowed: it
 * is used when the secret holds a bare token (ElastiCache RBAC with the user name in config).
 */
export type RotatingRedisOptions = Omit<RedisOptions, 'password'> & RotatingRedisExtras & { cluster?: undefined };

/** Cluster mode: startup nodes, ioredis `ClusterOptions`, and node options without `password`. */
export type RotatingRedisClusterOptions = Omit<ClusterOptions, 'redisOptions'> &
  RotatingRedisExtras & {
    cluster: ClusterNode[];
    redisOptions?: Omit<RedisOptions, 'password'>;
  };

/** Counters and state of one rotating client, for tests and `status`-style reporting. No values. */
export interface RedisRotationStatus {
  secretName: string;
  versionId: string;
  mode: CredentialMode;
  /** Failed logins the client saw (WRONGPASS/NOAUTH at connect). */
  authFailures: number;
  /** Failed logins followed by a successful login with other credentials (= recordAuthRecovery calls). */
  recoveries: number;
  reportAuthFailureCalls: number;
  pendingReads: number;
  /** Credential changes applied (rotations and recoveries). */
  switches: number;
  /** New credentials whose `validateBeforeSwitch` check the server refused (each kept the current ones; retried). */
  validationFailures: number;
  /** Emergency revokes that dropped the client's connections so they log in again with the current credentials. */
  terminations: number;
  /** False when the ioredis internals the queue-keeping hook needs were not found. */
  queueKeepingHook: boolean;
}

const statusByClient = new WeakMap<Redis | Cluster, () => RedisRotationStatus>();

/** The rotation state of a client made by {@link createRotatingRedis}; undefined for any other. */
export function redisRotationStatus(client: Redis | Cluster): RedisRotationStatus | undefined {
  return statusByClient.get(client)?.();
}

/**
 * An ioredis `Redis` (or `Cluster`, with `options.cluster`) whose credentials follow a rotating
 * secret. The app gets the real ioredis object and its whole API.
 *
 * How: ioredis has no password callback, but it rebuilds its AUTH arguments from
 * `options.password`/`options.username` on every (re)connect. So the client's options (in cluster
 * mode the shared `redisOptions` template and every node's options) are updated on each `rotated`
 * event: the live connection stays as it is (Redis does not re-check the password of an
 * authenticated connection), and every reconnect authenticates with the current value — with
 * ElastiCache ROTATE (old and new both valid) and with SET (only the new one; connections are
 * typically dropped and reconnect).
 *
 * When a login fails anyway (an invalidation was missed or is late: WRONGPASS / NOAUTH /
 * `invalid username-password pair`), the client reports the failure to the source (a shared
 * refresh of AWSCURRENT), and if that shows no change, tries AWSPENDING (a rotation between its
 * setSecret and finishSecret steps), puts what it found in the options and reconnects. Commands
 * issued meanwhile wait in ioredis' offline queue and run after the new login; see
 * redis-auth-hook.ts for why that needs a hook into ioredis.
 *
 * Why not the `RotatingResource` core's generations and `run`: an ioredis client is one
 * long-lived object that the app holds and that reconnects by itself; replacing it per rotation
 * would break every reference the app keeps (subscriptions, `duplicate()`s, listeners), and
 * wrapping each command in `run` would re-send commands that may already have executed. The
 * credential part is the same as the core's (refresh → AWSPENDING → recordAuthRecovery on the
 * first success: the one policy, sdk/cache/auth-recovery.ts); the switch is "update options"
 * instead of "build a new client".
 */
export function createRotatingRedis(source: CredentialSource, name: string, options?: RotatingRedisOptions): Redis;
export function createRotatingRedis(source: CredentialSource, name: string, options: RotatingRedisClusterOptions): Cluster;
export function createRotatingRedis(
  source: CredentialSource,
  name: string,
  options: RotatingRedisOptions | RotatingRedisClusterOptions = {},
): Redis | Cluster {
  if (options.cluster !== undefined) return createCluster(source, name, options as RotatingRedisClusterOptions);
  return createStandalone(source, name, options as RotatingRedisOptions);
}

function createStandalone(source: CredentialSource, name: string, options: RotatingRedisOptions): Redis {
  const { logger, authRecoveryTimeoutMs, validateBeforeSwitch, cluster: _cluster, ...redisOptions } = options;
  rejectPassword(redisOptions);
  const fallbackUsername = redisOptions.username;
  const follower = new CredentialFollower(source, name, fallbackUsername, logger ?? silentLogger());
  const client = new Redis(withCredentials(redisOptions, follower.credentials, fallbackUsername));
  follower.applyTo = (creds) => applyRedisCredentials(client, update(creds, fallbackUsername));
  follower.reconnect = () => reconnectNow(client);
  const backoff = validationBackoff(validateBeforeSwitch);
  if (backoff) follower.validateWith(backoff, (creds) => probeRedis(withCredentials(redisOptions, creds, fallbackUsername)));
  const hooked = installAuthFailureHook(client, { onAuthFailure: (err, attempted) => follower.recover(err, attempted), maxWaitMs: authRecoveryTimeoutMs });
  if (!hooked) fallBackToErrorEvents(client, follower);
  client.on('ready', () => follower.confirm());
  follower.bindLifecycle(client);
  statusByClient.set(client, () => follower.status(hooked));
  return client;
}

function createCluster(source: CredentialSource, name: string, options: RotatingRedisClusterOptions): Cluster {
  const { logger, authRecoveryTimeoutMs, validateBeforeSwitch, cluster: nodes, redisOptions: nodeOptions = {}, ...clusterOptions } = options;
  rejectPassword(nodeOptions);
  const fallbackUsername = nodeOptions.username;
  const follower = new CredentialFollower(source, name, fallbackUsername, logger ?? silentLogger());
  // One object, mutated in place from now on: ioredis' connection pool keeps a reference to it
  // and builds every new node connection from it (replacing it would strand new nodes on the
  // password of the day the cluster was created).
  const template: RedisOptions = withCredentials(nodeOptions, follower.credentials, fallbackUsername);
  const cluster = new Cluster(nodes, { ...clusterOptions, redisOptions: template });
  follower.applyTo = (creds) => {
    applyRedisCredentials(cluster, update(creds, fallbackUsername));
    if (cluster.options.redisOptions !== template) writeRedisCredentials(template, update(creds, fallbackUsername));
  };
  follower.reconnect = () => reconnectNow(cluster);
  const backoff = validationBackoff(validateBeforeSwitch);
  if (backoff) follower.validateWith(backoff, (creds) => probeRedisCluster(nodes, clusterOptions, withCredentials(nodeOptions, creds, fallbackUsername)));
  let hooked = true;
  const adopt = (node: Redis): void => {
    // A node created before a rotation we applied in between (the pool creates lazily): sync it.
    writeRedisCredentials(node.options, update(follower.credentials, fallbackUsername));
    hooked = installAuthFailureHook(node, { onAuthFailure: (err, attempted) => follower.recover(err, attempted), maxWaitMs: authRecoveryTimeoutMs }) && hooked;
    node.on('ready', () => follower.confirm());
  };
  cluster.on('+node', adopt);
  for (const node of cluster.nodes('all')) adopt(node);
  // Slot-cache refreshes run on short-lived duplicates of a node (no hook): a cluster-wide
  // "Failed to refresh slots cache" whose last node error is an auth error means every node
  // refused the password; refresh it so the cluster's own retry logs in with the new one.
  fallBackToErrorEvents(cluster, follower);
  follower.bindLifecycle(cluster);
  statusByClient.set(cluster, () => follower.status(hooked));
  return cluster;
}

/** Without the hook (or for cluster-wide errors): refresh on auth errors; ioredis retries by itself. */
function fallBackToErrorEvents(emitter: Redis | Cluster, follower: CredentialFollower): void {
  emitter.on('error', (err: unknown) => {
    if (isRedisAuthError(err)) void follower.recover(err as Error);
  });
}

/**
 * An emergency revoke: drop every connection now, so each logs in again with the credentials
 * now in the options. ioredis then re-sends the commands that were waiting for a reply and
 * resubscribes, as after any dropped connection. A client that never connected (`lazyConnect`)
 * or was closed holds no connection to drop.
 */
function reconnectNow(client: Redis | Cluster): boolean {
  if (client.status === 'wait' || client.status === 'end' || client.status === 'close') return false;
  if (client instanceof Cluster && client.status === 'ready') {
    // Node by node, not `cluster.disconnect(true)`: that takes the cluster out of 'ready' first,
    // and ioredis re-sends a command whose node connection closed only while the cluster is
    // ready (after `retryDelayOnFailover`), so the commands waiting for a reply failed with
    // "Connection is closed." (test/integration/clients/redis-cluster-validate-terminate.test.ts).
    // Each node the pool loses is replaced from the options (the current credentials); the
    // cluster's subscriber connection moves off a node that leaves and logs in again too.
    for (const node of client.nodes('all')) node.disconnect(true);
    return true;
  }
  client.disconnect(true);
  return true;
}

function rejectPassword(options: object): void {
  if ('password' in options && (options as { password?: unknown }).password !== undefined) {
    throw new TypeError('createRotatingRedis: do not pass `password`; it comes from the rotating secret');
  }
}

/** The user is always written: the secret's, else the options' (`default` when neither names one). */
function update(creds: RedisCredentials, fallbackUsername: string | undefined): RedisCredentialsUpdate {
  return { password: creds.password, username: creds.username ?? fallbackUsername };
}

/** A copy of `options` with the credentials in (the client keeps, and later mutates, this object). */
function withCredentials(options: RedisOptions, creds: RedisCredentials, fallbackUsername: string | undefined): RedisOptions {
  const copy: RedisOptions = { ...options };
  writeRedisCredentials(copy, update(creds, fallbackUsername));
  return copy;
}

type Counts = RedisFollowerCounts & { validationFailures: number; terminations: number };

/**
 * Holds the credentials a client should use, follows `rotated` (and `revoked`), and runs the
 * auth-failure recovery as one flight shared by every connection that fails at the same time (a
 * cluster's nodes, or a standalone reconnect racing an invalidation): the follower every Redis
 * client shares (sdk/rotating/redis-credential-follower.ts), whose switch here is "update the
 * options".
 */
class CredentialFollower extends RedisCredentialFollower<Counts> {
  applyTo: (creds: RedisCredentials) => void = () => {};
  /** Drops the client's connections (emergency revoke); false when it holds none. */
  reconnect: () => boolean = () => false;
  private validation: ValidatedSwitch<unknown, RedisCredentials> | undefined;
  /** What `validateBeforeSwitch` checks with, kept to build a new loop when the client connects again. */
  private check: { backoff: BackoffBounds; probe: (creds: RedisCredentials) => Promise<void> } | undefined;

  private readonly onRevoked = (event: RevokedEvent): void => {
    if (event.name === this.name) this.revoke(event);
  };

  constructor(source: CredentialSource, name: string, fallbackUsername: string | undefined, log: Logger) {
    super({
      source,
      name,
      fallbackUsername,
      logger: log,
      label: 'rotating redis',
      parse: redisCredentialsFromSecret,
      counts: { authFailures: 0, recoveries: 0, reportAuthFailureCalls: 0, pendingReads: 0, switches: 0, validationFailures: 0, terminations: 0 },
      messages: {
        refused: 'login rejected; refreshing the credentials',
        exhausted: 'no newer credentials (AWSCURRENT unchanged, no AWSPENDING); ioredis keeps retrying',
        switched: 'reconnects now use the new credentials',
      },
      countMovedOnAfterFailure: false,
    });
    this.listen();
  }

  /** Rotations are checked with `probe` (one login with the new credentials) before reconnects use them. */
  validateWith(backoff: BackoffBounds, probe: (creds: RedisCredentials) => Promise<void>): void {
    this.check = { backoff, probe };
    this.validation = this.newChecks();
  }

  private newChecks(): ValidatedSwitch<unknown, RedisCredentials> | undefined {
    if (!this.check) return undefined;
    return this.newValidatedSwitch(this.check.backoff, this.check.probe, () => void (this.counts.validationFailures += 1));
  }

  /** Follow rotations while the client may connect; stop once it has ended (no leak per client). */
  bindLifecycle(client: Redis | Cluster): void {
    client.on('end', () => {
      this.unlisten();
      // A retry waiting for its timer must not keep probing for a client that is gone.
      this.validation?.stop();
    });
    client.on('connecting', () => {
      if (!this.listen()) return;
      // Reconnected after 'end' (connect() again): a stopped check loop ignores requests, so
      // without a new one rotations would not reach this client until a login was refused.
      if (this.check) this.validation = this.newChecks();
      // Rotations missed while detached: catch up before this connection logs in.
      this.sync();
    });
  }

  /**
   * One failed login. Resolves true when other credentials are now in the options. `attempted`
   * (what that login sent, when known) tells a stale attempt — one that started before a rotation
   * we have already applied — from a real miss: the former needs no refresh, only a reconnect.
   */
  recover(err: Error, attempted?: AttemptedLogin): Promise<boolean> {
    this.counts.authFailures += 1;
    return this.recoverFrom(err, attempted?.password !== undefined && attempted.password !== this.creds.password);
  }

  status(hooked: boolean): RedisRotationStatus {
    return { ...this.state(), queueKeepingHook: hooked };
  }

  /** A switch puts the credentials in the options. */
  protected override applied(creds: RedisCredentials): void {
    this.applyTo(creds);
  }

  /** With `validateBeforeSwitch`, a new version is adopted only after its check. */
  protected override deferred(_current: CredentialVersion): boolean {
    if (!this.validation) return false;
    this.validation.request();
    return true;
  }

  /**
   * An emergency revoke: the current credentials first, unchecked if a check is still pending
   * (the operator wants the old ones gone; AWSPENDING in use is newer and stays), then every
   * connection drops and logs in again with them.
   */
  private revoke(event: RevokedEvent): void {
    this.adoptCurrentForRevoke(event);
    if (!this.reconnect()) return;
    this.counts.terminations += 1;
    this.log.warn(
      // `secretName`, not `secret`: the logger redacts a field named `secret`.
      { secretName: this.name, versionId: this.versionId, revokedFor: event.versionId },
      `rotating redis: emergency revoke of secret "${this.name}": dropped every connection; they log in again with the credentials of version ${this.versionId} now`,
    );
  }

  /** Starts following `rotated` and `revoked`; false when it already was. */
  private listen(): boolean {
    if (!this.follow()) return false;
    this.source.on('revoked', this.onRevoked);
    return true;
  }

  private unlisten(): void {
    if (this.unfollow()) this.source.off('revoked', this.onRevoked);
  }
}
