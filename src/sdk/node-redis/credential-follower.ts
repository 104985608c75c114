import type { Logger } from '../../common/index.js';
import type { CredentialMode, CredentialSource } from '../cache/index.js';
import { RedisCredentialFollower, type RedisFollowerCounts } from '../rotating/index.js';
import { nodeRedisCredentialsFromSecret } from './node-redis-credentials.js';

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
   * False when the node-redis internals the command retry needs were not found on a connection
   * (a future node-redis renamed them): rotations still reach every new login, but a command
   * caught in a refused login fails with node-redis' own error, as without rotation-relay.
   */
  commandRetry: boolean;
}

type Counts = RedisFollowerCounts & { retriedCommands: number; unrecovered: number; credentialRequests: number };

/**
 * Holds the credentials a node-redis client should log in with, follows `rotated`, hands them to
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
      counts: { authFailures: 0, recoveries: 0, retriedCommands: 0, unrecovered: 0, reportAuthFailureCalls: 0, pendingReads: 0, switches: 0, credentialRequests: 0 },
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
    return { ...this.state(), commandRetry };
  }

  /** Follow rotations while the client may log in; stop once it is closed (no leak per client). */
  listen(): void {
    // Rotations missed while detached: catch up before the next login.
    if (this.follow()) this.sync();
  }

  unlisten(): void {
    this.unfollow();
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
