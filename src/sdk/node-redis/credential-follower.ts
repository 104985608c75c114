import type { Logger } from '../../common/index.js';
import { recoverCredentials, type CredentialMode, type CredentialSource, type CredentialVersion, type RotatedEvent } from '../cache/index.js';
import { errorSummary } from '../rotating/index.js';
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
   * False when the node-redis internals the command retry needs were not found on a connection
   * (a future node-redis renamed them): rotations still reach every new login, but a command
   * caught in a refused login fails with node-redis' own error, as without rotation-relay.
   */
  commandRetry: boolean;
}

/**
 * Holds the credentials a node-redis client should log in with, follows `rotated`, hands them to
 * every handshake through the credentials provider, and runs the auth-failure recovery as one
 * flight shared by everything that fails at once (a reconnect's handshake, the commands it took
 * down with it, a cluster's nodes). The policy is the SDK's one (sdk/cache/auth-recovery.ts):
 * refresh AWSCURRENT, else AWSPENDING.
 */
export class CredentialFollower {
  private creds: RedisCredentials;
  private versionId: string;
  private mode: CredentialMode = 'current';
  /** The version the latest handshake was given: the one a refused login used. */
  private issuedVersionId: string;
  private flight: Promise<boolean> | undefined;
  private unconfirmedRecovery = false;
  private recoveryCountedFor: string | undefined;
  private listening = false;
  private readonly reported = new WeakSet<Error>();
  private readonly counts = {
    authFailures: 0, recoveries: 0, retriedCommands: 0, unrecovered: 0, reportAuthFailureCalls: 0, pendingReads: 0, switches: 0, credentialRequests: 0,
  };

  private readonly onRotated = (event: RotatedEvent): void => {
    if (event.name === this.name) this.sync();
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
      if (this.flight) await this.boundedWait(this.flight);
      this.counts.credentialRequests += 1;
      this.issuedVersionId = this.versionId;
      return { username: this.creds.username, password: this.creds.password };
    },
  };

  constructor(
    private readonly source: CredentialSource,
    readonly name: string,
    private readonly fallbackUsername: string | undefined,
    private readonly log: Logger,
    private readonly maxWaitMs: number,
  ) {
    const current = source.current(name);
    this.creds = nodeRedisCredentialsFromSecret(name, current.value, fallbackUsername);
    this.versionId = current.versionId;
    this.issuedVersionId = current.versionId;
    this.listen();
  }

  /** The version new logins use. */
  get currentVersionId(): string {
    return this.versionId;
  }

  /** A login succeeded: if it follows a recovery, count it (once per version). */
  confirm(): void {
    if (!this.unconfirmedRecovery) return;
    this.unconfirmedRecovery = false;
    this.recoveryCountedFor = this.versionId;
    this.counts.recoveries += 1;
    this.source.recordAuthRecovery(this.name);
    this.log.info({ secretName: this.name, versionId: this.versionId, mode: this.mode }, 'rotating node-redis: login succeeded after an authentication failure');
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
    return { secretName: this.name, versionId: this.versionId, mode: this.mode, ...this.counts, commandRetry };
  }

  /** Follow rotations while the client may log in; stop once it is closed (no leak per client). */
  listen(): void {
    if (this.listening) return;
    this.listening = true;
    this.source.on('rotated', this.onRotated);
    // Rotations missed while detached: catch up before the next login.
    this.sync();
  }

  unlisten(): void {
    if (!this.listening) return;
    this.listening = false;
    this.source.off('rotated', this.onRotated);
  }

  private recover(err: Error): Promise<boolean> {
    // The refused login used a version we already left (a rotation or another recovery got there
    // first): nothing to read, the next login uses the newer one.
    const failedVersion = this.issuedVersionId;
    if (failedVersion !== this.versionId) return Promise.resolve(this.recovered(true));
    if (this.flight) return this.flight;
    this.log.warn({ secretName: this.name, versionId: failedVersion, mode: this.mode, err: errorSummary(err) }, 'rotating node-redis: login refused; refreshing the credentials');
    const flight = this.fly(failedVersion).finally(() => {
      if (this.flight === flight) this.flight = undefined;
    });
    this.flight = flight;
    return flight;
  }

  /** The shared policy (sdk/cache/auth-recovery.ts); the switch here is "the provider hands out other credentials". */
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
      label: 'rotating node-redis',
    });
    switch (outcome.kind) {
      case 'switched':
      case 'overtaken':
        return this.recovered(true);
      case 'exhausted':
        this.log.warn({ secretName: this.name, versionId: failedVersion }, 'rotating node-redis: no newer credentials (AWSCURRENT unchanged, no AWSPENDING); node-redis keeps reconnecting');
        return false;
      case 'failed':
        this.log.warn({ secretName: this.name, err: errorSummary(outcome.error) }, 'rotating node-redis: credential recovery failed');
        return this.recovered(this.versionId !== failedVersion);
    }
  }

  /** Marks a recovery to be counted at the next successful login, at most once per version. */
  private recovered(changed: boolean): boolean {
    if (changed && this.recoveryCountedFor !== this.versionId) this.unconfirmedRecovery = true;
    return changed;
  }

  /** Puts `version` in use for new logins. Throws on a malformed value (the caller keeps the old one). */
  private switchTo(version: CredentialVersion, mode: CredentialMode): void {
    if (version.versionId === this.versionId) {
      if (this.mode === 'pending' && mode === 'current') {
        this.mode = 'current';
        this.log.info({ secretName: this.name, versionId: version.versionId }, 'rotating node-redis: AWSCURRENT caught up, pending mode ended');
      }
      return;
    }
    const creds = nodeRedisCredentialsFromSecret(this.name, version.value, this.fallbackUsername);
    const previousVersionId = this.versionId;
    this.creds = creds;
    this.versionId = version.versionId;
    this.mode = mode;
    this.counts.switches += 1;
    this.log.info({ secretName: this.name, versionId: version.versionId, previousVersionId, mode }, 'rotating node-redis: new logins use the new credentials');
  }

  /** Adopt the source's current version, if it is not the one in use. */
  private sync(): void {
    let current: CredentialVersion | undefined;
    try {
      current = this.source.current(this.name);
      this.switchTo(current, 'current');
    } catch (err) {
      // A malformed new value must not take down the working connections: keep the old one, say why.
      this.log.error({ secretName: this.name, versionId: current?.versionId, err: errorSummary(err) }, 'rotating node-redis: cannot use the new version; keeping the old credentials');
    }
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
