import { silentLogger, type Logger } from '../../common/index.js';
import { recoverCredentials, type CredentialMode, type CredentialSource, type CredentialVersion, type RotatedEvent } from '../cache/index.js';
import { errorSummary } from '../rotating/index.js';
import { pgConnectionFromSecret, type PgConnection, type PgConnectionOverrides } from './pg-credentials.js';

/** Thrown by a recovery's switch to a version a recovery already left: the rejection was a late one. */
const LATE_REJECTION = new Error('late rejection');
/** How many left versions are remembered: a rotation adds one (two when AWSPENDING is abandoned). */
const MAX_LEFT = 16;

/** What the next login of an ORM that opens its own connections uses. Never logged. */
export interface PgLogin extends PgConnection {
  /** The secret version the user and password come from. */
  versionId: string;
  /** `pending`: AWSPENDING, during a single-user rotation's setSecret → finishSecret window. */
  mode: CredentialMode;
}

/** Counters of {@link PgLoginCredentials}, for status pages and tests. */
export interface PgLoginStats {
  /** Logins the server rejected (28P01/28000) that were reported with `rejected()`. */
  rejectedLogins: number;
  /** Recoveries confirmed by a successful login afterwards (each is one `recordAuthRecovery`). */
  recoveries: number;
  reportAuthFailureCalls: number;
  pendingReads: number;
  /** Credential versions taken after the first one. */
  switches: number;
}

export interface PgLoginCredentialsOptions extends PgConnectionOverrides {
  /** @defaultValue a silent logger */
  logger?: Logger;
}

/**
 * The credentials for the next login of a library that opens its own PostgreSQL connections
 * (Sequelize's connection manager, a hand-made pg.Client), following the secret `name` (RDS
 * format) of `source`: the current version, or AWSPENDING while a recovery found the server
 * already on it.
 *
 * Such a library cannot be retried inside the rotating pool, so recovery is split: the library's
 * own retry notices a rejected login and calls `rejected()`, which starts the shared recovery
 * (the cache's rate-limited `reportAuthFailure`, then its cached AWSPENDING read: the policy of
 * sdk/cache/auth-recovery.ts); the retried login then asks `next()`, which waits for that
 * recovery and answers with what it found. Logins rejected together share one recovery, so a
 * rotation costs about one Secrets Manager read whatever the number of connections.
 *
 * Such a library does not say which credentials a rejected login used (Sequelize's pool even hands
 * a failed login's error to whichever query waits longest), so a rejection is attributed to the
 * version in use when it is reported. A late one — a login started with the old password and
 * rejected after the switch — must not undo the switch: a recovery never goes back to a version a
 * recovery has left (the server rejected it), unless the cache announces that version again (a
 * roll-back). Such a late rejection costs one refresh at most (the cache rate-limits them).
 */
export class PgLoginCredentials {
  readonly stats: PgLoginStats = { rejectedLogins: 0, recoveries: 0, reportAuthFailureCalls: 0, pendingReads: 0, switches: 0 };
  private version!: CredentialVersion;
  private mode: CredentialMode = 'current';
  private connection!: PgConnection;
  /** The version a recovery's refresh switched to: if it is rejected too, go straight to AWSPENDING. */
  private refreshedInto: string | undefined;
  /** Versions a recovery moved away from because the server rejected them (most recent last). */
  private readonly left = new Set<string>();
  private flight: Promise<void> | undefined;
  private unconfirmedRecovery = false;
  private closed = false;
  private readonly log: Logger;
  private readonly overrides: PgConnectionOverrides;
  private readonly onRotated = (event: RotatedEvent): void => {
    if (event.name !== this.name || this.closed) return;
    this.left.delete(event.versionId); // announced again: a roll-back onto it is genuine
    try {
      this.use(this.source.current(this.name), 'current');
    } catch (err) {
      // A malformed new value must not stop the logins that work: keep the old one, say why.
      this.log.error({ secretName: this.name, versionId: event.versionId, err: errorSummary(err) }, 'rotating pg login: cannot use the new version; keeping the old one');
    }
  };

  /** Reads the current version at once: `source` must be started (as for `createRotatingPgPool`). */
  constructor(
    private readonly source: CredentialSource,
    private readonly name: string,
    options: PgLoginCredentialsOptions = {},
  ) {
    const { logger, ...overrides } = options;
    this.log = logger ?? silentLogger();
    this.overrides = overrides;
    this.use(source.current(name), 'current');
    source.on('rotated', this.onRotated);
  }

  /** What a login started now uses (no wait). */
  get current(): PgLogin {
    return { ...this.connection, versionId: this.version.versionId, mode: this.mode };
  }

  /** What the next login should use: waits for a recovery in flight first. */
  async next(): Promise<PgLogin> {
    await this.whenRecovered();
    return this.current;
  }

  /** Resolves once no recovery is in flight (never rejects). */
  async whenRecovered(): Promise<void> {
    while (this.flight) await this.flight;
  }

  /**
   * A login was rejected with 28P01/28000: start the shared recovery (or join the one in flight).
   * Resolves once it is over; never rejects (a recovery that fails is logged, and the next login
   * uses what is known).
   */
  rejected(): Promise<void> {
    this.stats.rejectedLogins += 1;
    this.flight ??= this.recover().finally(() => {
      this.flight = undefined;
    });
    return this.flight;
  }

  /** A login succeeded: confirms a recovery (counted once, as the rotating clients do). */
  succeeded(): void {
    if (!this.unconfirmedRecovery) return;
    this.unconfirmedRecovery = false;
    this.stats.recoveries += 1;
    this.source.recordAuthRecovery(this.name);
  }

  /** Stops following rotations. */
  close(): void {
    this.closed = true;
    this.source.off('rotated', this.onRotated);
  }

  private async recover(): Promise<void> {
    const failed = this.version.versionId;
    const outcome = await recoverCredentials({
      source: this.source,
      name: this.name,
      failedVersionId: failed,
      // An AWSPENDING that is rejected may belong to an abandoned rotation: AWSCURRENT first.
      refresh: this.mode === 'pending' || this.refreshedInto !== failed,
      awsPending: true,
      movedOn: () => this.version.versionId !== failed,
      switchTo: (version, mode) => {
        if (this.left.has(version.versionId)) throw LATE_REJECTION;
        this.use(version, mode);
        if (mode === 'current') this.refreshedInto = version.versionId;
      },
      counts: this.stats,
      logger: this.log,
      label: 'rotating pg login',
    });
    if (outcome.kind === 'switched') {
      this.unconfirmedRecovery = true;
      this.left.add(failed);
      if (this.left.size > MAX_LEFT) this.left.delete(this.left.values().next().value as string);
    } else if (outcome.kind === 'failed' && outcome.error === LATE_REJECTION) {
      this.log.debug({ secretName: this.name, versionId: failed }, 'rotating pg login: a login started before the last switch was rejected; keeping the switch');
    } else if (outcome.kind === 'failed') {
      this.log.warn({ secretName: this.name, err: errorSummary(outcome.error) }, 'rotating pg login: credential recovery failed');
    }
  }

  /** Parses first, so a malformed value leaves the working credentials in place. */
  private use(version: CredentialVersion, mode: CredentialMode): void {
    const connection = pgConnectionFromSecret(this.name, version.value, this.overrides);
    if (this.version?.versionId === version.versionId) {
      // AWSCURRENT caught up with the AWSPENDING in use: same credentials, pending mode ends.
      if (mode === 'current') this.mode = 'current';
      this.version = version;
      return;
    }
    if (this.version) this.stats.switches += 1;
    this.version = version;
    this.mode = mode;
    this.connection = connection;
  }
}
