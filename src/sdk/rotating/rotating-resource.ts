import { silentLogger, type Logger } from '../../common/index.js';
import { DEFAULT_BACKOFF, recoverCredentials, type BackoffBounds, type CredentialMode, type CredentialSource, type CredentialVersion, type RevokedEvent, type RotatedEvent } from '../cache/index.js';
import { errorSummary } from './error-summary.js';
import { ConnectionTerminatedError, CredentialsRejectedError, ResourceClosedError } from './errors.js';
import { ValidatedSwitch } from './validated-switch.js';

export { errorSummary } from './error-summary.js';

export type { CredentialMode } from '../cache/index.js';

export interface RotatingResourceOptions<T, C = unknown> {
  source: CredentialSource;
  /** Logical secret name in the source. */
  name: string;
  /** Builds a client for one credential version. Must not do I/O that can fail on bad credentials. */
  create(creds: CredentialVersion<C>, mode: CredentialMode): T;
  /** Closes a retired client; called once, after its last in-flight operation ended. */
  drain(resource: T): Promise<void>;
  /** Did the server reject the credentials (as opposed to any other failure)? */
  isAuthError(err: unknown): boolean;
  logger?: Logger;
  /**
   * Checks a new generation before new work moves to it: one login with its credentials (pg:
   * connect and release; mysql2: getConnection and release; nodemailer: verify). Given, a
   * `rotated` event builds the new generation, awaits this, and routes new work to it only once
   * it resolves. When it rejects, the current generation keeps serving, the failure is counted
   * (`stats.validationFailures`, the source's `recordValidationFailure`), and the check is retried
   * after `validateBackoff` on whatever version the source then holds. The switches of the
   * auth-failure recovery are not checked: the current credentials were just refused, and the
   * retry on the new ones is the check. @defaultValue none: a rotation switches at once
   */
  validate?: (resource: T) => Promise<void>;
  /** Retry delays of a refused `validate`. @defaultValue 1 000 ms to 60 000 ms, full jitter (the cache's backoff) */
  validateBackoff?: BackoffBounds;
  /**
   * Closes a retired generation at once, for an emergency revoke (the source's `revoked` event):
   * the work in flight on it fails, with an error from `terminated()` where the client can inject
   * one. Resolves once its connections are closed (not once its borrowers gave them back).
   * @defaultValue `drain` (the generation then closes only once its work has ended)
   */
  terminate?: (resource: T, terminated: () => ConnectionTerminatedError) => Promise<void>;
}

/** A hold on one generation: it is not drained while any lease on it is unreleased. */
export interface Lease<T> {
  readonly resource: T;
  readonly versionId: string;
  readonly mode: CredentialMode;
  /** Idempotent. */
  release(): void;
  /** Keeps the generation alive past this lease (e.g. a checked-out pg client); call the result once done. */
  retain(): () => void;
}

export interface RotatingResourceStats {
  /** Auth errors seen by `run` (each is one rejected login/command). */
  authFailures: number;
  /** Recovery flights that ended on a working generation (= recordAuthRecovery calls). */
  recoveries: number;
  /** Operations rejected with CredentialsRejectedError. */
  unrecovered: number;
  reportAuthFailureCalls: number;
  pendingReads: number;
  /** Generations built after the first one. */
  switches: number;
  drainErrors: number;
  /** New generations whose `validate` failed (each kept the current one in use; it is retried). */
  validationFailures: number;
  /** Generations closed at once by an emergency revoke instead of drained. */
  terminations: number;
}

interface Generation<T, C> {
  id: number;
  resource: T;
  creds: CredentialVersion<C>;
  mode: CredentialMode;
  inFlight: number;
  retired: boolean;
  drained: boolean;
  /** Settles when drain() has finished (or failed). */
  done: Promise<void>;
  finish(): void;
  /** Set by a recovery flight that switched here; the first success on it records the recovery. */
  unconfirmedRecovery: boolean;
  /** Closed at once by an emergency revoke: work that fails on it fails with ConnectionTerminatedError. */
  terminated: boolean;
}

/**
 * The rotation logic shared by the pg, mysql2, ioredis and nodemailer adapters.
 *
 * Why generations instead of mutating one client: a client's credentials are fixed when it
 * connects, so the only way to move new work to new credentials without failing old work is to
 * build a second client, route new work to it, and close the first once its work has ended.
 *
 * Why a single recovery flight: when a password changes, every connection opened with the old one
 * fails at about the same time. Recovering per failure would cost one Secrets Manager read and one
 * failed login per connection; sharing one flight per failed generation costs about one of each.
 */
export class RotatingResource<T, C = unknown> {
  private gen: Generation<T, C>;
  private nextId = 1;
  private closed = false;
  private flight: { from: Generation<T, C>; promise: Promise<Generation<T, C> | undefined> } | undefined;
  /** Generations not yet drained, retired ones still serving in-flight work included. */
  private readonly live = new Set<Generation<T, C>>();
  private readonly log: Logger;
  /** Present when `validate` is: rotations go through the check first. */
  private readonly validation: ValidatedSwitch<C, Generation<T, C>> | undefined;
  readonly stats: RotatingResourceStats = {
    authFailures: 0, recoveries: 0, unrecovered: 0, reportAuthFailureCalls: 0, pendingReads: 0, switches: 0, drainErrors: 0, validationFailures: 0, terminations: 0,
  };
  private readonly onRotated = (event: RotatedEvent): void => {
    if (event.name !== this.opts.name || this.closed) return;
    let current: CredentialVersion<C> | undefined;
    try {
      current = this.opts.source.current<C>(this.opts.name);
      // Same version (AWSCURRENT caught up with the AWSPENDING in use): no new login to check.
      if (this.validation && current.versionId !== this.gen.creds.versionId) return this.validation.request();
      this.switchTo(current, 'current');
    } catch (err) {
      // A malformed new value must not take down the working client: keep it, say why.
      this.log.error({ secretName: this.opts.name, versionId: current?.versionId ?? event.versionId, err: errorSummary(err) }, 'rotating client: cannot build a client for the new version; keeping the old one');
    }
  };
  private readonly onRevoked = (event: RevokedEvent): void => {
    if (event.name !== this.opts.name || this.closed) return;
    this.revoke(event);
  };

  constructor(private readonly opts: RotatingResourceOptions<T, C>) {
    this.log = opts.logger ?? silentLogger();
    this.gen = this.build(opts.source.current<C>(opts.name), 'current');
    if (opts.validate) this.validation = this.validatedSwitch(opts.validate);
    opts.source.on('rotated', this.onRotated);
    opts.source.on('revoked', this.onRevoked);
  }

  /** The client new work goes to (do not cache it: it changes on rotation). */
  get resource(): T {
    return this.gen.resource;
  }

  /** Credentials of the current generation (AWSPENDING in pending mode). */
  get credentials(): CredentialVersion<C> & { mode: CredentialMode } {
    return { ...this.gen.creds, mode: this.gen.mode };
  }

  /**
   * Is `resource` a new generation still waiting for its `validate` (not yet given any work)?
   * Lets a client tell its check's login from the current generation's (pg's password function).
   */
  isValidating(resource: T): boolean {
    return this.validation !== undefined && [...this.live].some((gen) => gen.resource === resource && this.validation?.isCandidate(gen) === true);
  }

  /** Resolves once no recovery is in flight (adapters gate new logins on it). */
  async whenRecovered(): Promise<void> {
    while (this.flight) await this.flight.promise;
  }

  acquire(): Lease<T> {
    if (this.closed) throw new ResourceClosedError(this.opts.name);
    return this.leaseOn(this.gen);
  }

  /** Runs `fn` on the current generation, keeping it from draining meanwhile. No auth recovery. */
  async use<R>(fn: (resource: T, lease: Lease<T>) => Promise<R>): Promise<R> {
    const lease = this.acquire();
    try {
      return await fn(lease.resource, lease);
    } finally {
      lease.release();
    }
  }

  /**
   * `use` plus the auth-failure path: refresh AWSCURRENT and retry once, then AWSPENDING and
   * retry once. `fn` may therefore run up to three times: give it idempotent work (a login, a
   * query that failed to start) — pg/Redis/SMTP auth failures happen before the work is done.
   */
  async run<R>(fn: (resource: T, lease: Lease<T>) => Promise<R>): Promise<R> {
    // A recovery in flight means the current client was just rejected: wait for its outcome
    // instead of adding one more failed login to it.
    if (this.flight) await this.whenRecovered();
    let gen = this.gen;
    const tried = [gen.creds.versionId];
    let lastError: unknown;
    for (let attempt = 0; ; attempt += 1) {
      try {
        const result = await this.attemptOn(gen, fn);
        if (attempt > 0 && gen.unconfirmedRecovery) {
          gen.unconfirmedRecovery = false;
          this.stats.recoveries += 1;
          this.opts.source.recordAuthRecovery(this.opts.name);
        }
        return result;
      } catch (err) {
        if (!this.opts.isAuthError(err)) throw err;
        this.stats.authFailures += 1;
        lastError = err;
      }
      // First failure: refresh AWSCURRENT, then AWSPENDING. A refreshed AWSCURRENT that still
      // fails: AWSPENDING only. A failing AWSPENDING (rotation abandoned, rolled back): refresh
      // AWSCURRENT, which may have moved away from it. Three attempts at most, never a loop.
      const next = attempt < 2 ? await this.recover(gen, attempt === 0 || gen.mode === 'pending') : undefined;
      if (!next) {
        this.stats.unrecovered += 1;
        throw new CredentialsRejectedError(this.opts.name, tried, lastError);
      }
      gen = next;
      if (!tried.includes(gen.creds.versionId)) tried.push(gen.creds.versionId);
    }
  }

  /**
   * Stops following rotations and drains every generation once its work has ended, like
   * pg.Pool#end waits for checked-out clients (a lease never released keeps it waiting).
   */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.opts.source.off('rotated', this.onRotated);
      this.opts.source.off('revoked', this.onRevoked);
      this.validation?.stop();
      this.retire(this.gen);
    }
    while (this.live.size > 0) await Promise.all([...this.live].map((gen) => gen.done));
  }

  private async attemptOn<R>(gen: Generation<T, C>, fn: (resource: T, lease: Lease<T>) => Promise<R>): Promise<R> {
    if (this.closed) throw new ResourceClosedError(this.opts.name);
    // A generation retired between the recovery and this retry may already be drained.
    const on = gen.retired ? this.gen : gen;
    const lease = this.leaseOn(on);
    try {
      return await fn(lease.resource, lease);
    } catch (err) {
      // The revoke closed this generation under the work: say so, whatever the library said.
      if (on.terminated && !(err instanceof ConnectionTerminatedError)) throw new ConnectionTerminatedError(this.opts.name, on.creds.versionId, err);
      throw err;
    } finally {
      lease.release();
    }
  }

  private leaseOn(gen: Generation<T, C>): Lease<T> {
    const retain = (): (() => void) => {
      gen.inFlight += 1;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        gen.inFlight -= 1;
        if (gen.retired && gen.inFlight === 0) this.drain(gen);
      };
    };
    return { resource: gen.resource, versionId: gen.creds.versionId, mode: gen.mode, release: retain(), retain };
  }

  /**
   * One shared flight per failed generation. Returns the generation to retry on, or undefined.
   * If another flight or a rotation already moved past `failed`, that result is reused for free.
   */
  private async recover(failed: Generation<T, C>, refresh: boolean): Promise<Generation<T, C> | undefined> {
    while (this.flight) {
      const flight = this.flight;
      const result = await flight.promise;
      if (flight.from === failed) return result;
    }
    if (this.gen !== failed) return this.gen;
    const promise = this.fly(failed, refresh).finally(() => {
      if (this.flight?.promise === promise) this.flight = undefined;
    });
    this.flight = { from: failed, promise };
    return promise;
  }

  /** The shared policy (sdk/cache/auth-recovery.ts); the switch here is "build a new generation". */
  private async fly(failed: Generation<T, C>, refresh: boolean): Promise<Generation<T, C> | undefined> {
    const { source, name } = this.opts;
    const outcome = await recoverCredentials<C>({
      source,
      name,
      failedVersionId: failed.creds.versionId,
      refresh,
      awsPending: true,
      movedOn: () => this.gen !== failed,
      switchTo: (version, mode) => this.switchTo(version, mode),
      counts: this.stats,
      logger: this.log,
      label: 'rotating client',
    });
    switch (outcome.kind) {
      case 'switched':
        return this.markRecovery(this.gen);
      case 'overtaken':
        return this.gen;
      case 'exhausted':
        return undefined;
      case 'failed':
        this.log.warn({ secretName: name, err: errorSummary(outcome.error) }, 'rotating client: credential recovery failed');
        return this.gen !== failed ? this.gen : undefined;
    }
  }

  private markRecovery(gen: Generation<T, C>): Generation<T, C> {
    gen.unconfirmedRecovery = true;
    return gen;
  }

  /** Routes new work to `creds`; the old generation drains when its last lease is released. */
  private switchTo(creds: CredentialVersion<C>, mode: CredentialMode): Generation<T, C> {
    const old = this.gen;
    if (this.closed) return old;
    if (old.creds.versionId === creds.versionId) {
      // AWSCURRENT caught up with the AWSPENDING we already use: same credentials, keep the client.
      if (old.mode === 'pending' && mode === 'current') {
        old.mode = 'current';
        old.creds = creds;
        this.log.info({ secretName: this.opts.name, versionId: creds.versionId }, 'rotating client: AWSCURRENT caught up, pending mode ended');
      }
      return old;
    }
    return this.install(this.build(creds, mode));
  }

  /** Routes new work to `next` (built for another version); the old generation drains. */
  private install(next: Generation<T, C>): Generation<T, C> {
    const old = this.gen;
    this.gen = next;
    this.stats.switches += 1;
    this.log.info({ secretName: this.opts.name, versionId: next.creds.versionId, previousVersionId: old.creds.versionId, mode: next.mode, generation: next.id }, 'rotating client: switched to new credentials');
    this.retire(old);
    return next;
  }

  private validatedSwitch(validate: (resource: T) => Promise<void>): ValidatedSwitch<C, Generation<T, C>> {
    const { source, name } = this.opts;
    return new ValidatedSwitch<C, Generation<T, C>>({
      name,
      label: 'rotating client',
      logger: this.log,
      backoff: this.opts.validateBackoff ?? DEFAULT_BACKOFF,
      target: () => source.current<C>(name),
      inUse: (versionId) => this.gen.creds.versionId === versionId,
      build: (version) => this.build(version, 'current'),
      check: (gen) => validate(gen.resource),
      commit: (gen) => {
        if (this.closed) return this.retire(gen);
        this.install(gen);
      },
      discard: (gen) => this.retire(gen),
      failed: () => {
        this.stats.validationFailures += 1;
        source.recordValidationFailure?.(name);
      },
    });
  }

  /**
   * An emergency revoke: every generation other than the one new work uses is closed now,
   * failing its in-flight work, instead of after it. If new work is still on another version
   * than the revoke names (a rotation whose validation has not passed, a value that did not
   * build), it first moves to the source's current version unchecked: the operator asked for the
   * old credentials to go. AWSPENDING in use (a rotation between setSecret and finishSecret) is
   * newer than what the revoke names, and stays.
   */
  private revoke(event: RevokedEvent): void {
    const { name } = this.opts;
    if (this.gen.creds.versionId !== event.versionId && this.gen.mode !== 'pending') {
      try {
        this.switchTo(this.opts.source.current<C>(name), 'current');
        // A candidate still waiting for its check is now redundant: let the check loop release it.
        this.validation?.request();
      } catch (err) {
        this.log.error({ secretName: name, versionId: event.versionId, err: errorSummary(err) }, `rotating client: emergency revoke of secret "${name}": cannot build a client for the current version; the old one stays in use`);
      }
    }
    for (const gen of [...this.live]) {
      if (gen === this.gen || this.validation?.isCandidate(gen) === true || gen.drained) continue;
      this.terminate(gen);
    }
  }

  private terminate(gen: Generation<T, C>): void {
    const { name } = this.opts;
    gen.retired = true;
    gen.drained = true;
    gen.terminated = true;
    this.stats.terminations += 1;
    this.log.warn(
      // `secretName`, not `secret`: the logger redacts a field named `secret`.
      { secretName: name, versionId: gen.creds.versionId, generation: gen.id, inFlight: gen.inFlight },
      `rotating client: emergency revoke of secret "${name}": closing the connections of version ${gen.creds.versionId} now; the work in flight on them fails`,
    );
    const close = this.opts.terminate ?? ((resource: T) => this.opts.drain(resource));
    // Started now, not on a later turn: "at once" means no query of the old generation gets
    // another chance to start.
    let closing: Promise<void>;
    try {
      closing = Promise.resolve(close(gen.resource, () => new ConnectionTerminatedError(name, gen.creds.versionId)));
    } catch (err) {
      closing = Promise.reject(err);
    }
    void closing
      .catch((err: unknown) => {
        this.stats.drainErrors += 1;
        this.log.warn({ secretName: name, generation: gen.id, err: errorSummary(err) }, `rotating client: emergency revoke of secret "${name}": closing the revoked connections failed`);
      })
      .finally(() => {
        this.live.delete(gen);
        gen.finish();
      });
  }

  private build(creds: CredentialVersion<C>, mode: CredentialMode): Generation<T, C> {
    const resource = this.opts.create(creds, mode);
    let finish = (): void => {};
    const done = new Promise<void>((resolve) => (finish = resolve));
    const gen = { id: this.nextId++, resource, creds, mode, inFlight: 0, retired: false, drained: false, done, finish, unconfirmedRecovery: false, terminated: false };
    this.live.add(gen);
    return gen;
  }

  private retire(gen: Generation<T, C>): void {
    gen.retired = true;
    if (gen.inFlight === 0) this.drain(gen);
  }

  private drain(gen: Generation<T, C>): void {
    if (gen.drained) return;
    gen.drained = true;
    void Promise.resolve()
      .then(() => this.opts.drain(gen.resource))
      .catch((err: unknown) => {
        this.stats.drainErrors += 1;
        this.log.warn({ secretName: this.opts.name, generation: gen.id, err: errorSummary(err) }, 'rotating client: draining a retired client failed');
      })
      .finally(() => {
        this.live.delete(gen);
        gen.finish();
      });
  }
}
