import type { Logger } from '../../common/index.js';
import type { BackoffBounds, CredentialMode, CredentialSource, CredentialVersion, RevokedEvent } from '../cache/index.js';
import { ConnectionTerminatedError, RedisCredentialFollower, ValidatedSwitch, type RedisFollowerCounts } from '../rotating/index.js';
import type { DropReport } from './connection-drop.js';
import { nodeRedisCredentialsFromSecret, type RedisCredentials } from './node-redis-credentials.js';

/** node-redis' async credentials provider, as its `credentialsProvider` option takes it. */
export interface AsyncCredentialsProvider {
  readonly type: 'async-credentials-provider';
  credentials(): Promise<{ username?: string; password?: string }>;
}

/** Counters and state of one rotating node-redis client, for tests and status pages. No values. */
export interface NodeRedisRotationStatus {
  secretName: string;
  /** The version new logins use. */
  versionId: string;
  /** `pending`: new logins use AWSPENDING (a single-user rotation between setSecret and finishSecret). */
  mode: CredentialMode;
  /** Logins the server refused (`WRONGPASS`, `NOAUTH` at the handshake), as 'error' events reported them. */
  authFailures: number;
  /** Refused logins followed by a successful login with other credentials (= recordAuthRecovery calls). */
  recoveries: number;
  /** Commands sent again because the server refused them unauthenticated (they never ran). */
  retriedCommands: number;
  /** Commands rejected with CredentialsRejectedError: no credential the secret offers was accepted. */
  unrecovered: number;
  reportAuthFailureCalls: number;
  pendingReads: number;
  /** Credential changes (rotations and recoveries). */
  switches: number;
  /** Handshakes that asked the credentials provider (each connect and reconnect of every connection). */
  credentialRequests: number;
  /**
   * New versions whose `validateBeforeSwitch` check (one login on a connection of its own) the
   * server refused or did not answer: each kept the current credentials for new logins and was
   * retried with backoff. Always 0 without the option.
   */
  validationFailures: number;
  /**
   * Emergency revokes (the cache's `revoked` event for this secret) that dropped the client's
   * connections — the socket of a client, every node connection of a Cluster — so they log in
   * again with the current credentials. A revoke while the client holds no connection (not
   * connected yet, or closed) drops nothing and is not counted.
   */
  terminations: number;
  /**
   * False when the node-redis internals the command retry needs were not found on a connection
   * (a future node-redis renamed them): rotations still reach every new login, but a command
   * caught in a refused login fails with node-redis' own error, as without rotation-relay.
   */
  commandRetry: boolean;
  /**
   * False when the node-redis internal an emergency revoke drops a connection with was not found
   * on a connection (a future node-redis renamed it; see connection-drop.ts): a revoke still
   * switches the credentials, but leaves the live connections on the old ones — end them at the
   * server (`CLIENT KILL USER`).
   */
  connectionDrop: boolean;
}

type Counts = RedisFollowerCounts & { retriedCommands: number; unrecovered: number; credentialRequests: number; validationFailures: number; terminations: number };

/** What `validateBeforeSwitch` needs: the retry bounds and the one-login check of new credentials. */
interface Validation {
  backoff: BackoffBounds;
  probe: (creds: RedisCredentials) => Promise<void>;
}


/**
 * Holds the credentials a node-redis client should log in with, follows `rotated` (and
 * `revoked`: an emergency revoke drops the client's connections), hands them to
 * every handshake through the credentials provider, and runs the auth-failure recovery as one
 * flight shared by everything that fails at once (a reconnect's handshake, the commands it took
 * down with it, a cluster's nodes). The policy is the SDK's one (sdk/cache/auth-recovery.ts):
 * refresh AWSCURRENT, else AWSPENDING; the follower itself is the one every Redis client shares
 * (sdk/rotating/redis-credential-follower.ts). The switch here is "the provider hands out other
 * credentials".
 */
export class CredentialFollower extends RedisCredentialFollower<Counts> {
  /** The version the latest handshake was given: the one a refused login used. */
  private issuedVersionId: string;
  private readonly reported = new WeakSet<Error>();
  private dropSupported = true;
  private validation: Validation | undefined;
  /** The check loop while the client follows the secret; a new one each time it follows again (a stopped one stays stopped). */
  private checks: ValidatedSwitch<unknown, RedisCredentials> | undefined;

  /**
   * Drops every connection of the client (emergency revoke), each failing its commands in
   * flight with `err`; set by the client, which knows its connections.
   */
  dropConnections: (err: ConnectionTerminatedError) => DropReport = () => ({ dropped: 0, unsupported: false });

  private readonly onRevoked = (event: RevokedEvent): void => {
    if (event.name === this.name) this.revoke(event);
  };

  /**
   * Why a provider rather than `password` in the options: node-redis calls it at every handshake
   * (the first connect, every reconnect, and in a Cluster every node connection and every slot
   * discovery connection, which all share `defaults`), so each login reads the newest password
   * here, with no options object to keep in sync. It is async, so a handshake that starts while
   * a recovery is in flight waits for its outcome instead of trying the password just refused.
   */
  readonly provider: AsyncCredentialsProvider = {
    type: 'async-credentials-provider',
    credentials: async () => {
      const flight = this.recovering;
      if (flight) await this.boundedWait(flight);
      this.counts.credentialRequests += 1;
      this.issuedVersionId = this.versionId;
      return { username: this.creds.username, password: this.creds.password };
    },
  };

  constructor(
    source: CredentialSource,
    name: string,
    fallbackUsername: string | undefined,
    log: Logger,
    private readonly maxWaitMs: number,
  ) {
    super({
      source,
      name,
      fallbackUsername,
      logger: log,
      label: 'rotating node-redis',
      parse: nodeRedisCredentialsFromSecret,
      counts: { authFailures: 0, recoveries: 0, retriedCommands: 0, unrecovered: 0, reportAuthFailureCalls: 0, pendingReads: 0, switches: 0, credentialRequests: 0, validationFailures: 0, terminations: 0 },
      messages: {
        refused: 'login refused; refreshing the credentials',
        exhausted: 'no newer credentials (AWSCURRENT unchanged, no AWSPENDING); node-redis keeps reconnecting',
        switched: 'new logins use the new credentials',
      },
      countMovedOnAfterFailure: true,
    });
    this.issuedVersionId = this.versionId;
    this.listen();
  }

  /** Refused logins seen so far. */
  get refusedLogins(): number {
    return this.counts.authFailures;
  }

  /**
   * A handshake was refused (an 'error' event with WRONGPASS/NOAUTH). Resolves true when other
   * credentials are in use now. An error reported twice (a Cluster emits a refused discovery
   * login once from its connection and once from the discovery) counts once.
   */
  loginRefused(err: Error): Promise<boolean> {
    if (!this.reported.has(err)) this.counts.authFailures += 1;
    this.reported.add(err);
    return this.recover(err);
  }

  /**
   * A command was refused because its connection was not logged in, or is being refused again
   * at connect (a Cluster's discovery). Resolves true when a retry is worth it: other
   * credentials are in use now. Joins the flight the refused login started, if any.
   */
  commandRefused(err: Error): Promise<boolean> {
    return this.recover(err);
  }

  /** Bookkeeping of the command retry (command-retry.ts). */
  countRetry(): void {
    this.counts.retriedCommands += 1;
  }

  countUnrecovered(): void {
    this.counts.unrecovered += 1;
  }

  status(commandRetry: boolean): NodeRedisRotationStatus {
    return { ...this.state(), commandRetry, connectionDrop: this.dropSupported };
  }

  /** A connection lacks the internal an emergency revoke needs (connection-drop.ts): warn once, and the status says so. */
  dropUnsupported(): void {
    if (!this.dropSupported) return;
    this.dropSupported = false;
    this.log.warn({ secretName: this.name }, 'rotating node-redis: node-redis internals not found; an emergency revoke will switch the credentials but cannot drop the live connections');
  }

  /**
   * `validateBeforeSwitch`: from now on a rotation's version reaches new logins only once `probe`
   * (one login with its credentials) succeeded; a refused check keeps the current ones and is
   * retried with `backoff`. The auth-failure recovery and an emergency revoke still switch at
   * once: the credentials in use are refused, or the operator wants them gone.
   */
  validateWith(backoff: BackoffBounds, probe: (creds: RedisCredentials) => Promise<void>): void {
    this.validation = { backoff, probe };
    this.checks ??= this.newChecks(this.validation);
  }

  /** Follow rotations and revokes while the client may log in; stop once it is closed (no leak per client). */
  listen(): void {
    if (!this.follow()) return;
    this.source.on('revoked', this.onRevoked);
    if (this.validation) this.checks ??= this.newChecks(this.validation);
    // Rotations missed while detached: catch up before the next login.
    this.sync();
  }

  unlisten(): void {
    if (!this.unfollow()) return;
    this.source.off('revoked', this.onRevoked);
    // A retry waiting for its timer must not keep probing for a client that is closed.
    this.checks?.stop();
    this.checks = undefined;
  }

  /** With `validateBeforeSwitch`, a new version waits for its check instead of reaching new logins now. */
  protected override deferred(_current: CredentialVersion): boolean {
    if (!this.checks) return false;
    this.checks.request();
    return true;
  }

  private newChecks({ backoff, probe }: Validation): ValidatedSwitch<unknown, RedisCredentials> {
    return this.newValidatedSwitch(backoff, probe, () => void (this.counts.validationFailures += 1));
  }

  /**
   * An emergency revoke, as the ioredis client: the current credentials first, unchecked if their
   * `validateBeforeSwitch` check has not passed yet (the operator wants the old ones gone;
   * AWSPENDING in use is newer than what the revoke names, and stays), then every connection
   * drops and logs in again through the provider. The commands in flight on them fail with
   * ConnectionTerminatedError naming the version of the latest login before the revoke (for a
   * standalone client, the one its connection used); the commands not yet written go out behind
   * the new login.
   */
  private revoke(event: RevokedEvent): void {
    const retired = this.issuedVersionId;
    this.adoptCurrentForRevoke(event);
    const { dropped, unsupported } = this.dropConnections(new ConnectionTerminatedError(this.name, retired));
    if (unsupported) {
      this.dropUnsupported();
      this.log.warn({ secretName: this.name, versionId: this.versionId, revokedFor: event.versionId }, `rotating node-redis: emergency revoke of secret "${this.name}": node-redis internals not found, live connections not dropped; end them at the server (CLIENT KILL USER)`);
    }
    if (dropped === 0) return;
    this.counts.terminations += 1;
    this.log.warn(
      // `secretName`, not `secret`: the logger redacts a field named `secret`.
      { secretName: this.name, versionId: this.versionId, revokedFor: event.versionId, connections: dropped },
      `rotating node-redis: emergency revoke of secret "${this.name}": dropped every connection; they log in again with the credentials of version ${this.versionId} now`,
    );
  }

  /** The refused login used the version the latest handshake was given: stale when we have left it since. */
  private recover(err: Error): Promise<boolean> {
    return this.recoverFrom(err, this.issuedVersionId !== this.versionId);
  }

  /** Waits for `promise`, at most `maxWaitMs`: a login must not hang on a Secrets Manager that does not answer. */
  private async boundedWait(promise: Promise<unknown>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.maxWaitMs);
      timer.unref();
    });
    try {
      await Promise.race([promise.then(() => undefined, () => undefined), bound]);
    } finally {
      clearTimeout(timer);
    }
  }
}
