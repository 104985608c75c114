import type { Logger } from '../../common/index.js';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffBounds, type BackoffOptions, type CredentialVersion } from '../cache/index.js';
import { errorSummary } from './error-summary.js';

/**
 * `validateBeforeSwitch`, the option every rotating client takes: `true` (or options) checks new
 * credentials with one login before new work moves to them; `false` switches at once.
 */
export type ValidateBeforeSwitch = boolean | ValidateBeforeSwitchOptions;

export interface ValidateBeforeSwitchOptions {
  /**
   * Delays between the retries of a refused check: full jitter between `minMs` and a window that
   * doubles per failure up to `maxMs`, as the cache's own refresh retries.
   * @defaultValue `{ minMs: 1_000, maxMs: 60_000 }`
   */
  retryBackoff?: BackoffOptions;
}

/** The retry bounds when validation is on; undefined when it is off. Throws a TypeError for bounds that cannot work. */
export function validationBackoff(option: ValidateBeforeSwitch | undefined): BackoffBounds | undefined {
  if (option === undefined || option === false) return undefined;
  const given = option === true ? {} : (option.retryBackoff ?? {});
  const bounds = { minMs: given.minMs ?? DEFAULT_BACKOFF.minMs, maxMs: given.maxMs ?? DEFAULT_BACKOFF.maxMs };
  if (!(bounds.minMs > 0) || !(bounds.maxMs >= bounds.minMs) || !Number.isFinite(bounds.maxMs)) {
    throw new TypeError(`validateBeforeSwitch.retryBackoff: minMs must be > 0 and maxMs a finite number >= minMs (got ${bounds.minMs}, ${bounds.maxMs})`);
  }
  return bounds;
}

/** What a client does at each step; `P` is what it built for one version (a pool, parsed credentials). */
export interface ValidatedSwitchHooks<C, P> {
  /** The secret's name, for the log. */
  name: string;
  /** Prefix of the log lines (`rotating client`, `rotating redis`). */
  label: string;
  logger: Logger;
  backoff: BackoffBounds;
  /** The version new work should move to: the source's current one. */
  target(): CredentialVersion<C>;
  /** Is new work already on `versionId` (the auth-failure recovery may have moved there first)? */
  inUse(versionId: string): boolean;
  /** Builds what `check` and `commit` use, without I/O. Throws for a malformed value: logged, not retried. */
  build(version: CredentialVersion<C>): P;
  /** One login with the new credentials; rejects when the server refuses them or cannot be reached. */
  check(prepared: P): Promise<void>;
  /** Moves new work to `prepared`. */
  commit(prepared: P, version: CredentialVersion<C>): void;
  /** Releases a `prepared` that will not be used (superseded, or the client closed). */
  discard(prepared: P): void;
  /** A refused check, before its retry (count it). */
  failed(version: CredentialVersion<C>, error: unknown): void;
}

/**
 * The validate-then-switch loop shared by the rotating clients: on each rotation, build for the
 * source's current version, check it with one login, and only then move new work to it. A
 * refused check keeps the current credentials in use and is retried with backoff (on whatever
 * version is current by then); a success after failures switches. One check runs at a time; a
 * rotation during a check is checked right after it, and the older result is not used.
 *
 * Why the client keeps serving on the current credentials meanwhile: a server that learns the
 * new password later than Secrets Manager (a proxy or a managed service applying it
 * asynchronously, an IAM key not yet propagated to SES) still accepts the old one, and the
 * auth-failure recovery only moves forward (refresh AWSCURRENT, then AWSPENDING): without the
 * check, new logins would fail until the server caught up.
 */
export class ValidatedSwitch<C, P> {
  private running = false;
  private again = false;
  private stopped = false;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private candidate: { versionId: string; prepared: P } | undefined;

  constructor(private readonly hooks: ValidatedSwitchHooks<C, P>) {}

  /** Consecutive refused checks of the version waiting (0 once it switched or moved on). */
  get pendingFailures(): number {
    return this.failures;
  }

  /** Is `prepared` the one waiting for its check (not yet in use)? */
  isCandidate(prepared: P): boolean {
    return this.candidate?.prepared === prepared;
  }

  /** A rotation (or a retry): check the source's current version now, or right after the check in flight. */
  request(): void {
    if (this.stopped) return;
    this.clearTimer();
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.loop();
  }

  /** No more checks or retries; the waiting candidate, if any, is released once its check ends. */
  stop(): void {
    this.stopped = true;
    this.clearTimer();
    if (!this.running) this.release();
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        await this.once();
      } while (this.again && !this.stopped);
    } finally {
      this.running = false;
      if (this.stopped) this.release();
    }
  }

  private async once(): Promise<void> {
    const { hooks } = this;
    const version = hooks.target();
    if (hooks.inUse(version.versionId)) {
      this.failures = 0;
      this.release();
      return;
    }
    if (this.candidate?.versionId !== version.versionId) {
      this.release();
      try {
        this.candidate = { versionId: version.versionId, prepared: hooks.build(version) };
      } catch (error) {
        // A malformed value does not get better by retrying; the next rotation is checked anew.
        this.failures = 0;
        hooks.logger.error({ secretName: hooks.name, versionId: version.versionId, err: errorSummary(error) }, `${hooks.label}: cannot build a client for the new version; keeping the old one`);
        return;
      }
    }
    const { prepared } = this.candidate;
    try {
      await hooks.check(prepared);
    } catch (error) {
      if (this.stopped || this.again) return;
      this.failures += 1;
      const retryInMs = backoffDelay(this.failures, hooks.backoff);
      hooks.failed(version, error);
      hooks.logger.warn(
        { secretName: hooks.name, versionId: version.versionId, failures: this.failures, retryInMs, err: errorSummary(error) },
        `${hooks.label}: the new credentials failed their check; the current ones stay in use, checking again later`,
      );
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.request();
      }, retryInMs);
      this.timer.unref();
      return;
    }
    // Meanwhile: stopped, a newer rotation (checked next), or the recovery switched there already.
    if (this.stopped || this.again || hooks.target().versionId !== version.versionId) return;
    this.candidate = undefined;
    if (hooks.inUse(version.versionId)) {
      hooks.discard(prepared);
    } else {
      if (this.failures > 0) hooks.logger.info({ secretName: hooks.name, versionId: version.versionId, failures: this.failures }, `${hooks.label}: the new credentials passed their check after failures; switching`);
      hooks.commit(prepared, version);
    }
    this.failures = 0;
  }

  private release(): void {
    const candidate = this.candidate;
    this.candidate = undefined;
    if (candidate) this.hooks.discard(candidate.prepared);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
