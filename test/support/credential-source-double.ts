import { EventEmitter } from 'node:events';
import type { CredentialSource, CredentialVersion, RotatedEvent } from '../../src/sdk/cache/types.js';

/**
 * A DOUBLE of the CredentialCache as the rotating clients see it (`CredentialSource`): values
 * live in memory and the test moves them, the way Secrets Manager's labels would move. Used to
 * test a client adapter against a real server (PostgreSQL, Redis, SMTP) without the cache's own
 * machinery; the real cache is exercised by the end-to-end tests.
 *
 * - `setCurrent` = what AWSCURRENT holds in "Secrets Manager"; `publish` = the cache noticed it
 *   (an invalidation arrived): `current()` changes and `rotated` fires.
 * - `reportAuthFailure` picks up whatever `setCurrent` last set (a refresh), counted in `reads`.
 * - `setPending` = AWSPENDING during a rotation's setSecret → finishSecret window.
 */
export class CredentialSourceDouble<T = unknown> extends EventEmitter implements CredentialSource {
  private held: CredentialVersion<T>;
  private latest: CredentialVersion<T>;
  private pendingVersion: CredentialVersion<T> | undefined;
  private counter = 1;
  readonly counts = { reads: 0, pendingReads: 0, authFailureReports: 0, authRecoveries: 0 };

  constructor(
    private readonly name: string,
    initial: T,
    private readonly secretArn = `arn:aws:secretsmanager:us-east-1:123456789012:secret:${name}-AbCdEf`,
  ) {
    super();
    this.held = { value: initial, versionId: 'v1', secretArn: this.secretArn };
    this.latest = this.held;
  }

  private check(name: string): void {
    if (name !== this.name) throw new Error(`CredentialSourceDouble holds "${this.name}", not "${name}"`);
  }

  /** AWSCURRENT moves in "Secrets Manager"; the holder does not know yet. Returns the version id. */
  setCurrent(value: T): string {
    this.counter += 1;
    this.latest = { value, versionId: `v${this.counter}`, secretArn: this.secretArn };
    if (this.pendingVersion && JSON.stringify(this.pendingVersion.value) === JSON.stringify(value)) {
      this.latest = { ...this.latest, versionId: this.pendingVersion.versionId };
    }
    return this.latest.versionId;
  }

  /** An invalidation reached the holder: it now holds the latest AWSCURRENT. */
  publish(): void {
    this.adopt('invalidation');
  }

  setPending(value: T | undefined): void {
    this.counter += 1;
    this.pendingVersion = value === undefined ? undefined : { value, versionId: `v${this.counter}`, secretArn: this.secretArn };
  }

  private adopt(trigger: RotatedEvent['trigger']): boolean {
    if (this.latest.versionId === this.held.versionId) return false;
    const previous = this.held;
    this.held = this.latest;
    this.emit('rotated', { name: this.name, secretArn: this.secretArn, versionId: this.held.versionId, previousVersionId: previous.versionId, trigger } satisfies RotatedEvent);
    return true;
  }

  get<V = unknown>(name: string): V {
    return this.current<V>(name).value;
  }

  current<V = unknown>(name: string): CredentialVersion<V> {
    this.check(name);
    return this.held as unknown as CredentialVersion<V>;
  }

  async reportAuthFailure<V = unknown>(name: string): Promise<{ changed: boolean; current: CredentialVersion<V> }> {
    this.check(name);
    this.counts.authFailureReports += 1;
    this.counts.reads += 1;
    const changed = this.adopt('auth-failure');
    return { changed, current: this.held as unknown as CredentialVersion<V> };
  }

  async pending<V = unknown>(name: string): Promise<CredentialVersion<V> | undefined> {
    this.check(name);
    this.counts.pendingReads += 1;
    return this.pendingVersion as unknown as CredentialVersion<V> | undefined;
  }

  recordAuthRecovery(name: string): void {
    this.check(name);
    this.counts.authRecoveries += 1;
  }
}
