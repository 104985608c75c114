import { describe, expect, it } from 'vitest';
import { isPgAuthError, isRedisAuthError, isSmtpAuthError } from '../../../src/sdk/rotating/auth-errors.js';
import { CredentialsRejectedError, ResourceClosedError } from '../../../src/sdk/rotating/errors.js';
import { RotatingResource } from '../../../src/sdk/rotating/rotating-resource.js';
import type { CredentialVersion } from '../../../src/sdk/cache/types.js';
import { CredentialSourceDouble } from '../../support/credential-source-double.js';
import { captureLogger } from '../../support/log-capture.js';
import { waitUntil } from '../../support/wait-until.js';

/**
 * The core with a fake client: a plain object holding the password it was built with, and a fake
 * "server" (a set of accepted passwords) that rejects the others the way a database would.
 */
interface Secret {
  password: string;
}
interface FakeClient {
  id: number;
  versionId: string;
  password: string;
  drained: boolean;
}

class AuthError extends Error {
  readonly code = 'FAKE_AUTH';
  constructor() {
    super('authentication failed for user "app"');
  }
}

const NAME = 'db';
const OLD = 'old-pass-Zq81';
const NEW = 'new-pass-Hk27';
const NEWER = 'newer-pass-Lp55';

function setup(options: { drain?: (client: FakeClient) => Promise<void>; create?: (creds: CredentialVersion<Secret>) => FakeClient } = {}) {
  const source = new CredentialSourceDouble<Secret>(NAME, { password: OLD });
  const server = { accepted: new Set([OLD]), logins: 0, failedLogins: 0 };
  const created: FakeClient[] = [];
  const drained: FakeClient[] = [];
  const log = captureLogger();
  let nextId = 1;
  const resource = new RotatingResource<FakeClient, Secret>({
    source,
    name: NAME,
    logger: log.logger,
    isAuthError: (err) => err instanceof AuthError,
    create:
      options.create ??
      ((creds) => {
        const client = { id: nextId++, versionId: creds.versionId, password: creds.value.password, drained: false };
        created.push(client);
        return client;
      }),
    drain:
      options.drain ??
      (async (client) => {
        client.drained = true;
        drained.push(client);
      }),
  });
  /** One operation: a login (async, like a network round trip) with the client's password. */
  const login = async (client: FakeClient): Promise<string> => {
    await Promise.resolve();
    if (client.drained) throw new Error('used a drained client');
    server.logins += 1;
    if (!server.accepted.has(client.password)) {
      server.failedLogins += 1;
      throw new AuthError();
    }
    return client.password === OLD ? 'old' : client.password === NEW ? 'new' : 'newer';
  };
  return { source, server, created, drained, resource, login, log };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('RotatingResource: rotation', () => {
  it('builds a client for the new version on `rotated` and routes new work to it', async () => {
    const { source, server, created, drained, resource, login } = setup();
    expect(await resource.run(login)).toBe('old');

    server.accepted = new Set([NEW]);
    source.setCurrent({ password: NEW });
    source.publish();

    expect(created).toHaveLength(2);
    expect(resource.resource).toBe(created[1]);
    expect(resource.credentials).toMatchObject({ versionId: created[1]?.versionId, mode: 'current' });
    expect(await resource.run(login)).toBe('new');
    await resource.close();
    expect(drained).toEqual([created[0], created[1]]);
    expect(server.failedLogins).toBe(0);
  });

  it('drains the old client only after its in-flight work has ended', async () => {
    const { source, created, drained, resource } = setup();
    const gate = deferred();
    const inFlight = resource.use(async (client) => {
      await gate.promise;
      return client.id;
    });
    const lease = resource.acquire();
    const retained = lease.retain();
    lease.release();
    lease.release(); // idempotent

    source.setCurrent({ password: NEW });
    source.publish();
    expect(resource.resource).toBe(created[1]);
    await Promise.resolve();
    expect(drained).toEqual([]);

    gate.resolve();
    expect(await inFlight).toBe(1);
    expect(drained).toEqual([]); // the retained hold (a checked-out client) is still out
    retained();
    await waitUntil(() => drained.length === 1, { message: 'the old client to be drained' });
    expect(drained).toEqual([created[0]]);
    await resource.close();
  });

  it('logs a failing drain and never throws it to callers', async () => {
    const { source, resource, log } = setup({
      drain: async () => {
        throw new Error('socket hang up');
      },
    });
    source.setCurrent({ password: NEW });
    source.publish();
    await resource.close();
    expect(resource.stats.drainErrors).toBe(2);
    expect(log.records().filter((r) => r.msg === 'rotating client: draining a retired client failed')).toHaveLength(2);
  });

  it('keeps the working client when the new version cannot be built', async () => {
    let calls = 0;
    const source = new CredentialSourceDouble<Secret>(NAME, { password: OLD });
    const log = captureLogger();
    const resource = new RotatingResource<string, Secret>({
      source,
      name: NAME,
      logger: log.logger,
      isAuthError: () => false,
      create: (creds) => {
        calls += 1;
        if (calls > 1) throw new Error('secret "db" field "password": expected a non-empty string');
        return creds.versionId;
      },
      drain: async () => {},
    });
    source.setCurrent({ password: '' });
    source.publish();
    expect(resource.resource).toBe('v1');
    expect(log.lines().join('\n')).toContain('keeping the old one');
    await resource.close();
  });

  it('ignores rotations of other secrets and stops listening on close', async () => {
    const { source, created, resource } = setup();
    source.emit('rotated', { name: 'other', secretArn: 'x', versionId: 'v9', trigger: 'invalidation' });
    expect(created).toHaveLength(1);
    await resource.close();
    expect(source.listenerCount('rotated')).toBe(0);
    expect(() => resource.acquire()).toThrow(ResourceClosedError);
    await expect(resource.run(async () => 1)).rejects.toBeInstanceOf(ResourceClosedError);
  });
});

describe('RotatingResource: auth-failure recovery', () => {
  it('refreshes AWSCURRENT after a missed invalidation and retries once', async () => {
    const { source, server, resource, login } = setup();
    server.accepted = new Set([NEW]);
    source.setCurrent({ password: NEW }); // no publish: the invalidation was missed

    expect(await resource.run(login)).toBe('new');
    expect(source.counts).toMatchObject({ authFailureReports: 1, pendingReads: 0, authRecoveries: 1 });
    expect(server.failedLogins).toBe(1);
    await resource.close();
  });

  it('shares ONE recovery among 50 concurrent failures and uses AWSPENDING (single-user window)', async () => {
    const { source, server, created, resource, login } = setup();
    server.accepted = new Set([NEW]); // setSecret ran: the database has the new password …
    source.setPending({ password: NEW }); // … AWSPENDING holds it, AWSCURRENT has not moved

    const results = await Promise.all(Array.from({ length: 50 }, () => resource.run(login)));

    expect(results).toEqual(Array.from({ length: 50 }, () => 'new'));
    expect(source.counts.authFailureReports).toBe(1);
    expect(source.counts.pendingReads).toBeLessThanOrEqual(1);
    expect(source.counts.authRecoveries).toBe(1);
    expect(created).toHaveLength(2);
    expect(resource.credentials.mode).toBe('pending');
    expect(resource.stats).toMatchObject({ authFailures: 50, recoveries: 1, unrecovered: 0 });

    // Later work goes straight to the pending-built client: no more failures, no more reads.
    await Promise.all(Array.from({ length: 20 }, () => resource.run(login)));
    expect(server.failedLogins).toBe(50);
    expect(source.counts).toMatchObject({ authFailureReports: 1, pendingReads: 1, reads: 1 });
    await resource.close();
  });

  it('leaves pending mode when AWSCURRENT catches up, without rebuilding the client', async () => {
    const { source, server, created, resource, login } = setup();
    server.accepted = new Set([NEW]);
    source.setPending({ password: NEW });
    await resource.run(login);
    const pendingClient = resource.resource;
    expect(resource.credentials.mode).toBe('pending');

    source.setCurrent({ password: NEW }); // finishSecret: AWSCURRENT → the pending version
    source.publish();
    expect(resource.credentials.mode).toBe('current');
    expect(resource.resource).toBe(pendingClient);
    expect(created).toHaveLength(2);

    // Any later rotation builds a fresh client as usual.
    server.accepted = new Set([NEWER]);
    source.setPending(undefined);
    source.setCurrent({ password: NEWER });
    source.publish();
    expect(created).toHaveLength(3);
    expect(await resource.run(login)).toBe('newer');
    await resource.close();
  });

  it('any rotated event ends pending mode', async () => {
    const { source, server, resource, login } = setup();
    server.accepted = new Set([NEW, NEWER]);
    source.setPending({ password: NEW });
    await resource.run(login);
    expect(resource.credentials.mode).toBe('pending');
    source.setCurrent({ password: NEWER });
    source.publish();
    expect(resource.credentials).toMatchObject({ mode: 'current', value: { password: NEWER } });
    await resource.close();
  });

  it('tries AWSPENDING when the refreshed AWSCURRENT is rejected too', async () => {
    const { source, server, resource, login } = setup();
    server.accepted = new Set([NEWER]);
    source.setCurrent({ password: NEW }); // refresh finds a new AWSCURRENT the server rejects
    source.setPending({ password: NEWER });

    expect(await resource.run(login)).toBe('newer');
    expect(server.failedLogins).toBe(2);
    expect(source.counts).toMatchObject({ authFailureReports: 1, pendingReads: 1, authRecoveries: 1 });
    expect(resource.credentials.mode).toBe('pending');
    await resource.close();
  });

  it('falls back to AWSCURRENT when the AWSPENDING in use stops working (rotation rolled back)', async () => {
    const { source, server, resource, login } = setup();
    server.accepted = new Set([NEW]);
    source.setPending({ password: NEW });
    await resource.run(login);
    server.accepted = new Set([OLD]); // the rotation failed and the old password was restored
    source.setPending(undefined);

    expect(await resource.run(login)).toBe('old');
    expect(resource.credentials).toMatchObject({ mode: 'current', versionId: 'v1' });
    await resource.close();
  });

  it('rejects an unrecoverable failure with CredentialsRejectedError: cause kept, no password, bounded work', async () => {
    const { source, server, resource, login, log } = setup();
    server.accepted = new Set(['nobody-has-this']);
    source.setPending({ password: NEW });
    let calls = 0;

    const error = await resource
      .run(async (client) => {
        calls += 1;
        return login(client);
      })
      .catch((err: unknown) => err);

    expect(error).toBeInstanceOf(CredentialsRejectedError);
    const rejected = error as CredentialsRejectedError;
    expect(rejected.code).toBe('CREDENTIALS_REJECTED');
    expect(rejected.cause).toBeInstanceOf(AuthError);
    expect(rejected.authCode).toBe('FAKE_AUTH');
    expect(rejected.versionsTried).toEqual(['v1', 'v2']);
    for (const secret of [OLD, NEW, NEWER]) {
      expect(rejected.message).not.toContain(secret);
      expect(log.lines().join('\n')).not.toContain(secret);
    }
    expect(calls).toBeLessThanOrEqual(3);
    expect(source.counts.authFailureReports).toBeLessThanOrEqual(2);
    expect(source.counts.pendingReads).toBe(1);
    expect(source.counts.authRecoveries).toBe(0);
    expect(resource.stats.unrecovered).toBe(1);
    await resource.close();
  });

  it('rejects without AWSPENDING when there is none', async () => {
    const { server, resource, login, source } = setup();
    server.accepted = new Set();
    await expect(resource.run(login)).rejects.toBeInstanceOf(CredentialsRejectedError);
    expect(source.counts).toMatchObject({ authFailureReports: 1, pendingReads: 1 });
    expect(server.logins).toBe(1);
    await resource.close();
  });

  it('passes other errors through untouched, with no recovery', async () => {
    const { resource, source } = setup();
    const boom = new Error('connection refused');
    await expect(resource.run(async () => Promise.reject(boom))).rejects.toBe(boom);
    expect(source.counts.reads + source.counts.pendingReads).toBe(0);
    await resource.close();
  });

  it('a failure on a client already superseded by a rotation retries on the new one for free', async () => {
    const { source, server, resource } = setup();
    const gate = deferred();
    const pending = resource.run(async (client) => {
      await gate.promise;
      if (!server.accepted.has(client.password)) throw new AuthError();
      return client.password;
    });
    server.accepted = new Set([NEW]);
    source.setCurrent({ password: NEW });
    source.publish();
    gate.resolve();
    expect(await pending).toBe(NEW);
    expect(source.counts).toMatchObject({ authFailureReports: 0, pendingReads: 0 });
    await resource.close();
  });
});

describe('RotatingResource: waiting and closing', () => {
  /** A source whose refresh waits for the test, so work can be started while a recovery flies. */
  class SlowRefreshSource extends CredentialSourceDouble<Secret> {
    readonly gate = deferred();
    override async reportAuthFailure<V = unknown>(name: string) {
      await this.gate.promise;
      return super.reportAuthFailure<V>(name);
    }
  }

  function slowSetup() {
    const source = new SlowRefreshSource(NAME, { password: OLD });
    const accepted = new Set([NEW]);
    const attempts: string[] = [];
    const created: string[] = [];
    const resource = new RotatingResource<string, Secret>({
      source,
      name: NAME,
      isAuthError: (err) => err instanceof AuthError,
      create: (creds) => {
        created.push(creds.versionId);
        return creds.value.password;
      },
      drain: async () => {},
    });
    const login = async (password: string): Promise<string> => {
      attempts.push(password);
      await Promise.resolve();
      if (!accepted.has(password)) throw new AuthError();
      return password;
    };
    return { source, resource, login, attempts, created };
  }

  it('work started during a recovery waits for it instead of failing against the rejected client', async () => {
    const { source, resource, login, attempts } = slowSetup();
    source.setCurrent({ password: NEW }); // missed invalidation
    const first = resource.run(login);
    await waitUntil(() => attempts.length === 1 && resource.stats.authFailures === 1, { message: 'the first failure' });
    const later = Array.from({ length: 10 }, () => resource.run(login));
    await Promise.resolve();
    expect(attempts).toEqual([OLD]); // nobody else tried the rejected password

    source.gate.resolve();
    expect(await Promise.all([first, ...later])).toEqual(Array.from({ length: 11 }, () => NEW));
    expect(attempts.filter((p) => p === OLD)).toHaveLength(1);
    expect(source.counts).toMatchObject({ authFailureReports: 1, authRecoveries: 1 });
    await resource.close();
  });

  it('close() waits for work still holding a retired generation', async () => {
    const { source, resource } = slowSetup();
    const lease = resource.acquire();
    source.setCurrent({ password: NEW });
    source.publish();
    let closed = false;
    const closing = resource.close().then(() => (closed = true));
    await Promise.resolve();
    await Promise.resolve();
    expect(closed).toBe(false);
    lease.release();
    await closing;
    expect(closed).toBe(true);
  });

  it('a recovery that ends after close() builds nothing new', async () => {
    const { source, resource, login, created } = slowSetup();
    source.setCurrent({ password: NEW });
    const failing = resource.run(login).catch((err: unknown) => err);
    await waitUntil(() => resource.stats.authFailures === 1, { message: 'the first failure' });
    const closing = resource.close();
    source.gate.resolve();
    expect(await failing).toBeInstanceOf(ResourceClosedError);
    await closing;
    expect(created).toEqual(['v1']);
  });
});

describe('auth error classifiers', () => {
  it('pg: 28P01 and 28000, nothing else', () => {
    expect(isPgAuthError(Object.assign(new Error('password authentication failed for user "app"'), { code: '28P01' }))).toBe(true);
    expect(isPgAuthError(Object.assign(new Error('no pg_hba.conf entry'), { code: '28000' }))).toBe(true);
    expect(isPgAuthError(Object.assign(new Error('syntax error'), { code: '42601' }))).toBe(false);
    expect(isPgAuthError(new Error('Connection terminated', { cause: Object.assign(new Error('x'), { code: '28P01' }) }))).toBe(true);
    expect(isPgAuthError('28P01')).toBe(false);
  });

  it('redis: WRONGPASS, NOAUTH, invalid username-password pair', () => {
    expect(isRedisAuthError(new Error('WRONGPASS invalid username-password pair or user is disabled.'))).toBe(true);
    expect(isRedisAuthError(new Error('NOAUTH Authentication required.'))).toBe(true);
    expect(isRedisAuthError(new Error('ERR invalid password'))).toBe(true);
    expect(isRedisAuthError(Object.assign(new Error('Failed to refresh slots cache.'), { lastNodeError: new Error('NOAUTH Authentication required.') }))).toBe(true);
    expect(isRedisAuthError(new Error('ERR unknown command'))).toBe(false);
  });

  it('smtp: 535 and EAUTH', () => {
    expect(isSmtpAuthError(Object.assign(new Error('Invalid login: 535 Authentication Credentials Invalid'), { code: 'EAUTH', responseCode: 535 }))).toBe(true);
    expect(isSmtpAuthError(Object.assign(new Error('x'), { responseCode: 535 }))).toBe(true);
    expect(isSmtpAuthError(Object.assign(new Error('Greeting never received'), { code: 'ETIMEDOUT' }))).toBe(false);
  });
});
