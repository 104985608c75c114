import { describe, expect, it, vi } from 'vitest';
import { RotatingResource } from '../../../src/sdk/rotating/rotating-resource.js';
import { validationBackoff } from '../../../src/sdk/rotating/validated-switch.js';
import type { CredentialVersion } from '../../../src/sdk/cache/types.js';
import { CredentialSourceDouble } from '../../support/credential-source-double.js';
import { captureLogger } from '../../support/log-capture.js';
import { waitUntil } from '../../support/wait-until.js';

/**
 * `validate` in the rotation core, with a fake client and a fake server (a set of accepted
 * passwords): a rotation checks the new generation with one login before new work moves to it.
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

/** The source double, plus the cache's validation-failure count. */
class CountingSource extends CredentialSourceDouble<Secret> {
  validationFailures = 0;
  recordValidationFailure(): void {
    this.validationFailures += 1;
  }
}

const NAME = 'db';
const OLD = 'old-pass-Zq81';
const NEW = 'new-pass-Hk27';
const NEWER = 'newer-pass-Lp55';
/** Retries within milliseconds: the tests wait for outcomes, never for a fixed time. */
const FAST = { minMs: 5, maxMs: 20 };

function setup(options: { create?: (creds: CredentialVersion<Secret>) => FakeClient } = {}) {
  const source = new CountingSource(NAME, { password: OLD });
  const server = { accepted: new Set([OLD]), checks: 0 };
  const created: FakeClient[] = [];
  const drained: FakeClient[] = [];
  const log = captureLogger();
  let nextId = 1;
  const gates: Array<() => void> = [];
  let holdChecks = false;
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
    drain: async (client) => {
      client.drained = true;
      drained.push(client);
    },
    validateBackoff: FAST,
    validate: async (client) => {
      if (holdChecks) await new Promise<void>((resolve) => gates.push(resolve));
      server.checks += 1;
      if (!server.accepted.has(client.password)) throw new AuthError();
    },
  });
  const login = async (client: FakeClient): Promise<string> => {
    await Promise.resolve();
    if (client.drained) throw new Error('used a drained client');
    if (!server.accepted.has(client.password)) throw new AuthError();
    return client.password;
  };
  return {
    source,
    server,
    created,
    drained,
    resource,
    login,
    log,
    hold: () => (holdChecks = true),
    releaseChecks: () => {
      holdChecks = false;
      gates.splice(0).forEach((open) => open());
    },
    pendingChecks: () => gates.length,
  };
}

describe('RotatingResource: validate before switching', () => {
  it('switches only once the new generation passed its check', async () => {
    const { source, server, created, resource, login } = setup();
    server.accepted = new Set([OLD, NEW]);
    source.setCurrent({ password: NEW });
    source.publish();

    // The check is asynchronous: new work stays on the old generation until it passes.
    expect(resource.resource).toBe(created[0]);
    await waitUntil(() => resource.resource === created[1], { message: 'the switch after the check' });
    expect(await resource.run(login)).toBe(NEW);
    expect(server.checks).toBe(1);
    expect(resource.stats).toMatchObject({ validationFailures: 0, switches: 1 });
    await resource.close();
  });

  it('keeps the current generation while the server refuses the new credentials, counts, retries, then switches', async () => {
    const { source, server, created, drained, resource, login, log } = setup();
    source.setCurrent({ password: NEW });
    source.publish();

    await waitUntil(() => resource.stats.validationFailures >= 3, { message: 'three refused checks' });
    // Meanwhile every operation succeeds on the old credentials, which the server still accepts.
    const meanwhile = await Promise.all(Array.from({ length: 20 }, () => resource.run(login)));
    expect(meanwhile).toEqual(Array.from({ length: 20 }, () => OLD));
    expect(resource.resource).toBe(created[0]);
    expect(created).toHaveLength(2); // one candidate, checked again on every retry
    expect(source.validationFailures).toBe(resource.stats.validationFailures);
    expect(resource.stats.authFailures).toBe(0);

    server.accepted = new Set([OLD, NEW]); // the server learns the new password
    await waitUntil(() => resource.resource === created[1], { message: 'the switch once the server accepts the new password' });
    expect(await resource.run(login)).toBe(NEW);
    await waitUntil(() => drained.includes(created[0] as FakeClient), { message: 'the old generation to drain' });

    const warnings = log.records().filter((r) => r.msg === 'rotating client: the new credentials failed their check; the current ones stay in use, checking again later');
    expect(warnings.length).toBe(resource.stats.validationFailures);
    expect(warnings[0]).toMatchObject({ level: 'warn', secretName: NAME, versionId: 'v2' });
    expect(log.lines().join('\n')).not.toContain(NEW);
    await resource.close();
  });

  it('checks only the newest version when a rotation arrives during a check', async () => {
    const { source, server, created, resource, hold, releaseChecks, pendingChecks } = setup();
    server.accepted = new Set([OLD, NEW, NEWER]);
    hold();
    source.setCurrent({ password: NEW });
    source.publish();
    await waitUntil(() => pendingChecks() === 1, { message: 'the first check to start' });
    source.setCurrent({ password: NEWER });
    source.publish();

    releaseChecks();
    await waitUntil(() => resource.credentials.value.password === NEWER, { message: 'the switch to the newest version' });

    expect(created.map((c) => c.password)).toEqual([OLD, NEW, NEWER]);
    expect(resource.stats.switches).toBe(1); // never onto NEW: its check was overtaken
    await waitUntil(() => created[1]?.drained === true, { message: 'the overtaken candidate to be closed' });
    await resource.close();
  });

  it('lets the auth-failure recovery switch without a check when the current credentials are refused', async () => {
    const { source, server, created, resource, login } = setup();
    source.setCurrent({ password: NEW });
    source.publish();
    await waitUntil(() => resource.stats.validationFailures >= 1, { message: 'a refused check' });

    server.accepted = new Set([NEW]); // the old password is gone at the same moment the new one works
    expect(await resource.run(login)).toBe(NEW);

    expect(resource.stats).toMatchObject({ authFailures: 1, recoveries: 1 });
    expect(resource.credentials.value.password).toBe(NEW);
    // The waiting candidate is released at its next retry: the version is in use.
    await waitUntil(() => created[1]?.drained === true, { message: 'the idle candidate to be closed' });
    await resource.close();
  });

  it('stops retrying on close and closes the candidate', async () => {
    vi.useFakeTimers();
    try {
      const { source, created, resource, server } = setup();
      source.setCurrent({ password: NEW });
      source.publish();
      await vi.advanceTimersByTimeAsync(0);
      expect(resource.stats.validationFailures).toBe(1);

      await resource.close();
      const checks = server.checks;
      await vi.advanceTimersByTimeAsync(1_000); // fifty retry intervals

      expect(server.checks).toBe(checks);
      expect(created.every((c) => c.drained)).toBe(true);
      expect(vi.getTimerCount()).toBe(0);
      expect(source.listenerCount('rotated') + source.listenerCount('revoked')).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('logs a value that does not build and does not retry it', async () => {
    let calls = 0;
    const { source, resource, log, server } = setup({
      create: (creds) => {
        calls += 1;
        if (calls > 1) throw new Error('secret "db" field "password": expected a non-empty string');
        return { id: calls, versionId: creds.versionId, password: creds.value.password, drained: false };
      },
    });
    source.setCurrent({ password: '' });
    source.publish();

    await waitUntil(() => log.lines().join('\n').includes('cannot build a client for the new version; keeping the old one'), { message: 'the build error logged' });
    expect(calls).toBe(2);
    expect(server.checks).toBe(0);
    expect(resource.stats.validationFailures).toBe(0);
    await resource.close();
  });

  it('switches at once, as before, without validate (the default of every client)', async () => {
    const source = new CredentialSourceDouble<Secret>(NAME, { password: OLD });
    const resource = new RotatingResource<string, Secret>({ source, name: NAME, isAuthError: () => false, create: (c) => c.value.password, drain: async () => {} });
    source.setCurrent({ password: NEW });
    source.publish();
    expect(resource.resource).toBe(NEW);
    await resource.close();
  });
});

describe('validationBackoff: the validateBeforeSwitch option', () => {
  it('is off unless asked for, and uses the SDK backoff by default', () => {
    expect(validationBackoff(undefined)).toBeUndefined();
    expect(validationBackoff(false)).toBeUndefined();
    expect(validationBackoff(true)).toEqual({ minMs: 1_000, maxMs: 60_000 });
    expect(validationBackoff({ retryBackoff: { minMs: 50 } })).toEqual({ minMs: 50, maxMs: 60_000 });
  });

  it('refuses bounds that cannot work, naming the option', () => {
    expect(() => validationBackoff({ retryBackoff: { minMs: 0 } })).toThrow(/validateBeforeSwitch\.retryBackoff/);
    expect(() => validationBackoff({ retryBackoff: { minMs: 100, maxMs: 10 } })).toThrow(/maxMs/);
  });
});
