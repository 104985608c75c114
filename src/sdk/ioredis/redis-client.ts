import { Cluster, Redis, type ClusterNode, type ClusterOptions, type RedisOptions } from 'ioredis';
import { silentLogger, type Logger } from '../../common/index.js';
import { applyRedisCredentials, writeRedisCredentials, type RedisCredentialsUpdate } from '../../redis/index.js';
import { recoverCredentials, type BackoffBounds, type CredentialMode, type CredentialSource, type CredentialVersion, type RevokedEvent, type RotatedEvent } from '../cache/index.js';
import { isRedisAuthError, errorSummary, validationBackoff, ValidatedSwitch, type ValidateBeforeSwitch } from '../rotating/index.js';
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
   * (AUTH, PING) before reconnects use them; if the server refuses them, reconnects keep the
   * current ones, the failure is counted (`redisRotationStatus().validationFailures`, the cache's
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

/**
 * Holds the credentials a client should use, follows `rotated`, and runs the auth-failure
 * recovery as one flight shared by every connection that fails at the same time (a cluster's
 * nodes, or a standalone reconnect racing an invalidation).
 */
class CredentialFollower {
  applyTo: (creds: RedisCredentials) => void = () => {};
  /** Drops the client's connections (emergency revoke); false when it holds none. */
  reconnect: () => boolean = () => false;
  private validation: ValidatedSwitch<unknown, RedisCredentials> | undefined;
  private creds: RedisCredentials;
  private versionId: string;
  private mode: CredentialMode = 'current';
  private flight: Promise<boolean> | undefined;
  private unconfirmedRecovery = false;
  private recoveryCountedFor: string | undefined;
  private listening = false;
  private readonly counts = { authFailures: 0, recoveries: 0, reportAuthFailureCalls: 0, pendingReads: 0, switches: 0, validationFailures: 0, terminations: 0 };

  private readonly onRotated = (event: RotatedEvent): void => {
    if (event.name === this.name) this.sync();
  };
  private readonly onRevoked = (event: RevokedEvent): void => {
    if (event.name === this.name) this.revoke(event);
  };

  constructor(
    private readonly source: CredentialSource,
    private readonly name: string,
    private readonly fallbackUsername: string | undefined,
    private readonly log: Logger,
  ) {
    const current = source.current(name);
    this.creds = redisCredentialsFromSecret(name, current.value, fallbackUsername);
    this.versionId = current.versionId;
    this.listen();
  }

  get credentials(): RedisCredentials {
    return this.creds;
  }

  /** Rotations are checked with `probe` (one login with the new credentials) before reconnects use them. */
  validateWith(backoff: BackoffBounds, probe: (creds: RedisCredentials) => Promise<void>): void {
    this.validation = new ValidatedSwitch<unknown, RedisCredentials>({
      name: this.name,
      label: 'rotating redis',
      logger: this.log,
      backoff,
      target: () => this.source.current(this.name),
      inUse: (versionId) => versionId === this.versionId,
      build: (version) => redisCredentialsFromSecret(this.name, version.value, this.fallbackUsername),
      check: probe,
      commit: (_creds, version) => void this.switchTo(version, 'current'),
      discard: () => undefined,
      failed: () => {
        this.counts.validationFailures += 1;
        this.source.recordValidationFailure?.(this.name);
      },
    });
  }

  /** Follow rotations while the client may connect; stop once it has ended (no leak per client). */
  bindLifecycle(client: Redis | Cluster): void {
    client.on('end', () => {
      this.unlisten();
      // A retry waiting for its timer must not keep probing for a client that is gone.
      this.validation?.stop();
    });
    client.on('connecting', () => {
      if (this.listening) return;
      this.listen();
      // Rotations missed while detached: catch up before this connection logs in.
      this.sync();
    });
  }

  /** A login succeeded: if it follows a recovery, count it (once). */
  confirm(): void {
    if (!this.unconfirmedRecovery) return;
    this.unconfirmedRecovery = false;
    this.recoveryCountedFor = this.versionId;
    this.counts.recoveries += 1;
    this.source.recordAuthRecovery(this.name);
    this.log.info({ secretName: this.name, versionId: this.versionId, mode: this.mode }, 'rotating redis: login succeeded after an authentication failure');
  }

  /**
   * One failed login. Resolves true when other credentials are now in the options. `attempted`
   * (what that login sent, when known) tells a stale attempt — one that started before a rotation
   * we have already applied — from a real miss: the former needs no refresh, only a reconnect.
   */
  recover(err: Error, attempted?: AttemptedLogin): Promise<boolean> {
    this.counts.authFailures += 1;
    if (attempted?.password !== undefined && attempted.password !== this.creds.password) return Promise.resolve(this.recovered(true));
    if (this.flight) return this.flight;
    const failedVersion = this.versionId;
    this.log.warn({ secretName: this.name, versionId: failedVersion, mode: this.mode, err: errorSummary(err) }, 'rotating redis: login rejected; refreshing the credentials');
    const flight = this.fly(failedVersion).finally(() => {
      if (this.flight === flight) this.flight = undefined;
    });
    this.flight = flight;
    return flight;
  }

  status(hooked: boolean): RedisRotationStatus {
    return { secretName: this.name, versionId: this.versionId, mode: this.mode, ...this.counts, queueKeepingHook: hooked };
  }

  /** The shared policy (sdk/cache/auth-recovery.ts); the switch here is "update the options". */
  private async fly(failedVersion: string): Promise<boolean> {
    const outcome = await recoverCredentials({
      source: this.source,
      name: this.name,
      failedVersionId: failedVersion,
      refresh: true,
      awsPending: true,
      movedOn: () => this.versionId !== failedVersion,
      switchTo: (version, mode) => {
        this.switchTo(version, mode);
      },
      counts: this.counts,
      logger: this.log,
      label: 'rotating redis',
    });
    switch (outcome.kind) {
      case 'switched':
      case 'overtaken':
        return this.recovered(true);
      case 'exhausted':
        this.log.warn({ secretName: this.name, versionId: failedVersion }, 'rotating redis: no newer credentials (AWSCURRENT unchanged, no AWSPENDING); ioredis keeps retrying');
        return false;
      case 'failed':
        this.log.warn({ secretName: this.name, err: errorSummary(outcome.error) }, 'rotating redis: credential recovery failed');
        return this.versionId !== failedVersion;
    }
  }

  /**
   * Marks a recovery to be counted at the next successful login — at most once per version, so
   * the several connections of a cluster failing on the same stale password count as one.
   */
  private recovered(changed: boolean): boolean {
    if (changed && this.recoveryCountedFor !== this.versionId) this.unconfirmedRecovery = true;
    return changed;
  }

  /** Puts `version` in the options. Returns whether anything changed. Throws on a malformed value. */
  private switchTo(version: CredentialVersion, mode: CredentialMode): boolean {
    if (version.versionId === this.versionId) {
      if (this.mode === 'pending' && mode === 'current') {
        this.mode = 'current';
        this.log.info({ secretName: this.name, versionId: version.versionId }, 'rotating redis: AWSCURRENT caught up, pending mode ended');
      }
      return false;
    }
    const creds = redisCredentialsFromSecret(this.name, version.value, this.fallbackUsername);
    const previousVersionId = this.versionId;
    this.creds = creds;
    this.versionId = version.versionId;
    this.mode = mode;
    this.counts.switches += 1;
    this.applyTo(creds);
    this.log.info({ secretName: this.name, versionId: version.versionId, previousVersionId, mode }, 'rotating redis: reconnects now use the new credentials');
    return true;
  }

  /**
   * An emergency revoke: the current credentials first, unchecked if a check is still pending
   * (the operator wants the old ones gone; AWSPENDING in use is newer and stays), then every
   * connection drops and logs in again with them.
   */
  private revoke(event: RevokedEvent): void {
    if (this.versionId !== event.versionId && this.mode !== 'pending') {
      try {
        this.switchTo(this.source.current(this.name), 'current');
      } catch (err) {
        this.log.error({ secretName: this.name, versionId: event.versionId, err: errorSummary(err) }, `rotating redis: emergency revoke of secret "${this.name}": cannot use the current version; keeping the old credentials`);
      }
    }
    if (!this.reconnect()) return;
    this.counts.terminations += 1;
    this.log.warn(
      // `secretName`, not `secret`: the logger redacts a field named `secret`.
      { secretName: this.name, versionId: this.versionId, revokedFor: event.versionId },
      `rotating redis: emergency revoke of secret "${this.name}": dropped every connection; they log in again with the credentials of version ${this.versionId} now`,
    );
  }

  /** Adopt the source's current version, if it is not the one in use (after its check, with `validateBeforeSwitch`). */
  private sync(): void {
    let current: CredentialVersion | undefined;
    try {
      current = this.source.current(this.name);
      if (this.validation && current.versionId !== this.versionId) return this.validation.request();
      this.switchTo(current, 'current');
    } catch (err) {
      // A malformed new value must not take down the working connection: keep it, say why.
      this.log.error({ secretName: this.name, versionId: current?.versionId, err: errorSummary(err) }, 'rotating redis: cannot use the new version; keeping the old credentials');
    }
  }

  private listen(): void {
    if (this.listening) return;
    this.listening = true;
    this.source.on('rotated', this.onRotated);
    this.source.on('revoked', this.onRevoked);
  }

  private unlisten(): void {
    if (!this.listening) return;
    this.listening = false;
    this.source.off('rotated', this.onRotated);
    this.source.off('revoked', this.onRevoked);
  }
}
