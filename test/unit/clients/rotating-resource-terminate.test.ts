import { describe, expect, it } from 'vitest';
import { ConnectionTerminatedError } from '../../../src/sdk/rotating/errors.js';
import { RotatingResource } from '../../../src/sdk/rotating/rotating-resource.js';
import type { RevokedEvent } from '../../../src/sdk/cache/types.js';
import { CredentialSourceDouble } from '../../support/credential-source-double.js';
import { captureLogger } from '../../support/log-capture.js';
import { waitUntil } from '../../support/wait-until.js';

/**
 * The emergency revoke in the rotation core: on the source's `revoked` event every generation but
 * the current one is closed at once with `terminate`, not drained after its work.
 */
interface Secret {
  password: string;
}

/** A fake client whose operations hang until they are released or the client is terminated. */
class FakeClient {
  readonly waiting = new Set<(err?: Error) => void>();
  terminated = false;
  drained = false;

  constructor(
    readonly versionId: string,
    readonly password: string,
  ) {}

  /** An operation that ends when `finish()` is called, or fails when the client is closed. */
  operation(): Promise<string> {
    return new Promise((resolve, reject) => {
      this.waiting.add((err) => (err ? reject(err) : resolve(this.password)));
    });
  }

  finish(): void {
    for (const settle of this.waiting) settle();
    this.waiting.clear();
  }

  /** What a library does to its in-flight work when its socket is destroyed. */
  destroy(error: Error): void {
    this.terminated = true;
    for (const settle of this.waiting) settle(error);
    this.waiting.clear();
  }
}

const NAME = 'db';
const OLD = 'old-pass-Zq81';
const NEW = 'new-pass-Hk27';

function setup(options: { injectError?: boolean; validate?: (client: FakeClient) => Promise<void> } = {}) {
  const source = new CredentialSourceDouble<Secret>(NAME, { password: OLD });
  const created: FakeClient[] = [];
  const terminated: FakeClient[] = [];
  const log = captureLogger();
  const resource = new RotatingResource<FakeClient, Secret>({
    source,
    name: NAME,
    logger: log.logger,
    isAuthError: () => false,
    create: (creds) => {
      const client = new FakeClient(creds.versionId, creds.value.password);
      created.push(client);
      return client;
    },
    drain: async (client) => {
      client.drained = true;
    },
    terminate: async (client, error) => {
      terminated.push(client);
      // A library that cannot take our error fails its work with its own (the core wraps it).
      client.destroy(options.injectError === false ? new Error('Connection terminated unexpectedly') : error());
    },
    ...(options.validate ? { validate: options.validate, validateBackoff: { minMs: 5, maxMs: 20 } } : {}),
  });
  const revoke = (versionId = source.current<Secret>(NAME).versionId): void => {
    source.emit('revoked', { name: NAME, secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf', versionId, trigger: 'force' } satisfies RevokedEvent);
  };
  return { source, created, terminated, resource, log, revoke };
}

describe('RotatingResource: emergency revoke (terminateOld)', () => {
  it('closes the old generation at once: its in-flight work fails with ConnectionTerminatedError, new work runs on the new one', async () => {
    const { source, created, terminated, resource, log, revoke } = setup();
    const inFlight = resource.run((client) => client.operation());
    const lease = resource.acquire();
    const held = lease.retain(); // a checked-out connection the app keeps
    lease.release();
    source.setCurrent({ password: NEW });
    source.publish();
    expect(created[0]?.drained).toBe(false); // draining waits for the work and the held connection

    revoke();

    expect(terminated).toEqual([created[0]]);
    const error = await inFlight.catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ConnectionTerminatedError);
    expect(error).toMatchObject({ code: 'CONNECTION_TERMINATED', secretName: NAME, versionId: 'v1' });
    const next = resource.run((client) => client.operation());
    created[1]?.finish();
    expect(await next).toBe(NEW);
    expect(resource.stats.terminations).toBe(1);

    held(); // the app gives its connection back later: nothing is drained twice
    await resource.close();
    expect(created[0]?.drained).toBe(false);
    expect(created[1]?.drained).toBe(true);
    const warning = log.records().find((r) => String(r.msg).startsWith('rotating client: emergency revoke of secret "db": closing the connections of version v1 now'));
    expect(warning).toMatchObject({ level: 'warn', secretName: NAME, versionId: 'v1', inFlight: 2 });
    expect(log.lines().join('\n')).not.toContain(OLD);
  });

  it('wraps a library error from a terminated generation in ConnectionTerminatedError, with it as the cause', async () => {
    const { source, resource, revoke } = setup({ injectError: false });
    const inFlight = resource.run((client) => client.operation());
    source.setCurrent({ password: NEW });
    source.publish();

    revoke();

    const error = await inFlight.catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ConnectionTerminatedError);
    expect((error as Error).cause).toMatchObject({ message: 'Connection terminated unexpectedly' });
    await resource.close();
  });

  it('leaves the current generation alone and revokes nothing when only the current one is live', async () => {
    const { created, terminated, resource, revoke } = setup();
    const inFlight = resource.run((client) => client.operation());

    revoke();

    expect(terminated).toEqual([]);
    created[0]?.finish();
    expect(await inFlight).toBe(OLD);
    await resource.close();
  });

  it('moves to the revoked-for version first when its check has not passed yet, then closes the old one', async () => {
    const { source, created, terminated, resource, revoke } = setup({
      validate: async () => {
        throw new Error('password authentication failed'); // the server refuses the new password
      },
    });
    const inFlight = resource.run((client) => client.operation());
    source.setCurrent({ password: NEW });
    source.publish();
    await waitUntil(() => resource.stats.validationFailures >= 1, { message: 'a refused check' });
    expect(resource.credentials.value.password).toBe(OLD);

    revoke();

    expect(resource.credentials.value.password).toBe(NEW);
    expect(terminated).toEqual([created[0]]);
    await expect(inFlight).rejects.toBeInstanceOf(ConnectionTerminatedError);
    // The candidate that was waiting for its check is released at once, not at its next retry.
    expect(created.map((c) => c.password)).toEqual([OLD, NEW, NEW]);
    expect(created[1]?.drained).toBe(true);
    await resource.close();
  });

  it('ignores a revoke of another secret, and stops listening on close', async () => {
    const { source, terminated, resource } = setup();
    source.setCurrent({ password: NEW });
    source.publish();
    const lease = resource.acquire();

    source.emit('revoked', { name: 'other', secretArn: 'x', versionId: 'v9', trigger: 'force' } satisfies RevokedEvent);

    expect(terminated).toEqual([]);
    lease.release();
    await resource.close();
    expect(source.listenerCount('revoked')).toBe(0);
  });

  it('without a terminate hook, closes the old generation with drain at once', async () => {
    const source = new CredentialSourceDouble<Secret>(NAME, { password: OLD });
    const drained: string[] = [];
    const resource = new RotatingResource<string, Secret>({
      source,
      name: NAME,
      isAuthError: () => false,
      create: (creds) => creds.versionId,
      drain: async (client) => void drained.push(client),
    });
    const lease = resource.acquire();
    source.setCurrent({ password: NEW });
    source.publish();
    expect(drained).toEqual([]);

    source.emit('revoked', { name: NAME, secretArn: 'x', versionId: 'v2', trigger: 'invalidation' } satisfies RevokedEvent);

    await waitUntil(() => drained.length === 1, { message: 'the old generation closed' });
    expect(drained).toEqual(['v1']);
    lease.release();
    await resource.close();
    expect(drained).toEqual(['v1', 'v2']);
  });
});
