import type { Logger } from '../../common/index.js';
import type { RedisCredentials } from '../../redis/index.js';
import { recoverCredentials, type BackoffBounds, type CredentialMode, type CredentialSource, type CredentialVersion, type RevokedEvent, type RotatedEvent } from '../cache/index.js';
import { errorSummary } from './error-summary.js';
import { ValidatedSwitch } from './validated-switch.js';

/** The counters every Redis follower keeps; a client adds its own after them (its status lists them all). */
export interface RedisFollowerCounts {
  authFailures: number;
  recoveries: number;
  reportAuthFailureCalls: number;
  pendingReads: number;
  switches: number;
}

/** What differs between the Redis clients that follow a rotating secret (ioredis, node-redis). */
export interface RedisCredentialFollowerOptions<K extends RedisFollowerCounts> {
  source: CredentialSource;
  /** Logical secret name in the source. */
  name: string;
  /** The options' `username`, used when the secret names no user. */
  fallbackUsername: string | undefined;
  logger: Logger;
  /** Prefix of every log line, naming the client (`rotating redis`, `rotating node-redis`). */
  label: string;
  /** The client's secret parser; throws a typed error on a malformed value (never quoting it). */
  parse(secretName: string, value: unknown, fallbackUsername?: string): RedisCredentials;
  /** The counters, in the order the status lists them: the shared ones and the client's own. */
  counts: K;
  /** The log lines that name what the client does next (after `label: `). */
  messages: {
    /** A login was refused and a recovery starts. */
    refused: string;
    /** Neither AWSCURRENT nor AWSPENDING offers other credentials. */
    exhausted: string;
    /** New credentials are in use. */
    switched: string;
  };
  /**
   * When a recovery's read failed but the client left the failed version meanwhile (a rotation
   * arrived): true counts a recovery at the next successful login, as for an overtaken one;
   * false only reports that other credentials are in use.
   */
  countMovedOnAfterFailure: boolean;
}

/**
 * Holds the credentials a Redis client should log in with, follows `rotated`, and runs the
 * auth-failure recovery as one flight shared by everything that fails at once (a reconnect, a
 * cluster's nodes, the commands a refused login took down). The policy is the SDK's one
 * (sdk/cache/auth-recovery.ts): refresh AWSCURRENT, else AWSPENDING. Each client subclasses it
 * for how a switch reaches its connections (ioredis: the options; node-redis: the credentials
 * provider) and how it tells a stale attempt from a real miss.
 */
export class RedisCredentialFollower<K extends RedisFollowerCounts> {
  readonly name: string;
  protected readonly source: CredentialSource;
  protected readonly log: Logger;
  protected readonly counts: K;
  protected creds: RedisCredentials;
  protected versionId: string;
  protected mode: CredentialMode = 'current';
  private flight: Promise<boolean> | undefined;
  private unconfirmedRecovery = false;
  private recoveryCountedFor: string | undefined;
  private listening = false;

  private readonly onRotated = (event: RotatedEvent): void => {
    if (event.name === this.name) this.sync();
  };

  constructor(private readonly options: RedisCredentialFollowerOptions<K>) {
    this.name = options.name;
    this.source = options.source;
    this.log = options.logger;
    this.counts = options.counts;
    const current = options.source.current(options.name);
    this.creds = this.credentialsOf(current);
    this.versionId = current.versionId;
  }

  /** The credentials new logins use. */
  get credentials(): RedisCredentials {
    return this.creds;
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
    this.log.info({ secretName: this.name, versionId: this.versionId, mode: this.mode }, `${this.options.label}: login succeeded after an authentication failure`);
  }

  /** The recovery in flight, if any: a login that starts meanwhile may wait for its outcome. */
  protected get recovering(): Promise<boolean> | undefined {
    return this.flight;
  }

  /**
   * The first half of an emergency revoke, the same for every Redis client: the current
   * credentials, unchecked if a check is still pending (the operator wants the old ones gone);
   * AWSPENDING in use is newer than what the revoke names, and stays. The client then drops its
   * connections.
   */
  protected adoptCurrentForRevoke(event: RevokedEvent): void {
    if (this.versionId === event.versionId || this.mode === 'pending') return;
    try {
      this.switchTo(this.source.current(this.name), 'current');
    } catch (err) {
      this.log.error({ secretName: this.name, versionId: event.versionId, err: errorSummary(err) }, `${this.options.label}: emergency revoke of secret "${this.name}": cannot use the current version; keeping the old credentials`);
    }
  }

  /**
   * The `validateBeforeSwitch` loop of a Redis client: the current version reaches new logins
   * only once `check` (one login with its credentials) passed; `failed` counts a refused check.
   * A stopped loop stays stopped: a client that follows the secret again builds a new one.
   */
  protected newValidatedSwitch(backoff: BackoffBounds, check: (creds: RedisCredentials) => Promise<void>, failed: () => void): ValidatedSwitch<unknown, RedisCredentials> {
    return new ValidatedSwitch<unknown, RedisCredentials>({
      name: this.name,
      label: this.options.label,
      logger: this.log,
      backoff,
      target: () => this.source.current(this.name),
      inUse: (versionId) => versionId === this.versionId,
      build: (version) => this.credentialsOf(version),
      check,
      commit: (_creds, version) => void this.switchTo(version, 'current'),
      discard: () => undefined,
      failed: () => {
        failed();
        this.source.recordValidationFailure?.(this.name);
      },
    });
  }

  /** The status fields every Redis follower reports; the client adds its own flag. */
  protected state(): { secretName: string; versionId: string; mode: CredentialMode } & K {
    return { secretName: this.name, versionId: this.versionId, mode: this.mode, ...this.counts };
  }

  /**
   * One refused login. Resolves true when other credentials are in use now. `stale`: the login
   * used credentials we already left (a rotation or another recovery got there first), so there
   * is nothing to read and the next login uses the newer ones.
   */
  protected recoverFrom(err: Error, stale: boolean): Promise<boolean> {
    if (stale) return Promise.resolve(this.recovered(true));
    if (this.flight) return this.flight;
    const failedVersion = this.versionId;
    this.log.warn({ secretName: this.name, versionId: failedVersion, mode: this.mode, err: errorSummary(err) }, `${this.options.label}: ${this.options.messages.refused}`);
    const flight = this.fly(failedVersion).finally(() => {
      if (this.flight === flight) this.flight = undefined;
    });
    this.flight = flight;
    return flight;
  }

  /** Reads `version` as credentials. Throws on a malformed value. */
  protected credentialsOf(version: CredentialVersion): RedisCredentials {
    return this.options.parse(this.name, version.value, this.options.fallbackUsername);
  }

  /** Puts `version` in use for new logins. Returns whether anything changed. Throws on a malformed value (the caller keeps the old one). */
  protected switchTo(version: CredentialVersion, mode: CredentialMode): boolean {
    if (version.versionId === this.versionId) {
      if (this.mode === 'pending' && mode === 'current') {
        this.mode = 'current';
        this.log.info({ secretName: this.name, versionId: version.versionId }, `${this.options.label}: AWSCURRENT caught up, pending mode ended`);
      }
      return false;
    }
    const creds = this.credentialsOf(version);
    const previousVersionId = this.versionId;
    this.creds = creds;
    this.versionId = version.versionId;
    this.mode = mode;
    this.counts.switches += 1;
    this.applied(creds);
    this.log.info({ secretName: this.name, versionId: version.versionId, previousVersionId, mode }, `${this.options.label}: ${this.options.messages.switched}`);
    return true;
  }

  /** What a switch does besides holding the new credentials (ioredis writes them into the client's options). */
  protected applied(_creds: RedisCredentials): void {}

  /** True when adopting `current` (a version other than the one in use) waits for a check instead (`validateBeforeSwitch`). */
  protected deferred(_current: CredentialVersion): boolean {
    return false;
  }

  /** Adopt the source's current version, if it is not the one in use. */
  protected sync(): void {
    let current: CredentialVersion | undefined;
    try {
      current = this.source.current(this.name);
      if (current.versionId !== this.versionId && this.deferred(current)) return;
      this.switchTo(current, 'current');
    } catch (err) {
      // A malformed new value must not take down the working connections: keep the old one, say why.
      this.log.error({ secretName: this.name, versionId: current?.versionId, err: errorSummary(err) }, `${this.options.label}: cannot use the new version; keeping the old credentials`);
    }
  }

  /** Starts following `rotated`; false when it already was. */
  protected follow(): boolean {
    if (this.listening) return false;
    this.listening = true;
    this.source.on('rotated', this.onRotated);
    return true;
  }

  /** Stops following `rotated`; false when it already had. */
  protected unfollow(): boolean {
    if (!this.listening) return false;
    this.listening = false;
    this.source.off('rotated', this.onRotated);
    return true;
  }

  /** The shared policy (sdk/cache/auth-recovery.ts); the switch is the client's (`applied`). */
  private async fly(failedVersion: string): Promise<boolean> {
    const { label, messages } = this.options;
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
      label,
    });
    switch (outcome.kind) {
      case 'switched':
      case 'overtaken':
        return this.recovered(true);
      case 'exhausted':
        this.log.warn({ secretName: this.name, versionId: failedVersion }, `${label}: ${messages.exhausted}`);
        return false;
      case 'failed': {
        this.log.warn({ secretName: this.name, err: errorSummary(outcome.error) }, `${label}: credential recovery failed`);
        const movedOn = this.versionId !== failedVersion;
        return this.options.countMovedOnAfterFailure ? this.recovered(movedOn) : movedOn;
      }
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
}
