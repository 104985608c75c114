import type { RedisClientType } from 'redis';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/common/logger.js';
import type { CredentialVersion } from '../../../src/sdk/cache/types.js';
import { CredentialsRejectedError, InvalidSecretShapeError } from '../../../src/sdk/rotating/errors.js';
import { installCommandRetry } from '../../../src/sdk/node-redis/command-retry.js';
import { CredentialFollower } from '../../../src/sdk/node-redis/credential-follower.js';
import { createRotatingNodeRedis, type RotatingNodeRedisOptions } from '../../../src/sdk/node-redis/node-redis-client.js';
import { createRotatingNodeRedisCluster, type RotatingNodeRedisClusterOptions } from '../../../src/sdk/node-redis/node-redis-cluster.js';
import { nodeRedisCredentialsFromSecret } from '../../../src/sdk/node-redis/node-redis-credentials.js';
import { nodeRedisRotationStatus } from '../../../src/sdk/node-redis/rotation-status.js';
import { CredentialSourceDouble } from '../../support/credential-source-double.js';
import { waitUntil } from '../../support/wait-until.js';

const NAME = 'cache';
const WRONGPASS = (): Error => new Error('WRONGPASS invalid username-password pair or user is disabled.');
const NOAUTH = (): Error => new Error('NOAUTH Authentication required.');

/** The provider the client gave node-redis (what every handshake calls). */
function providerOf(client: RedisClientType): { credentials(): Promise<{ username?: string; password?: string }> } {
  const provider = (client.options as { credentialsProvider?: { type: string; credentials(): Promise<{ username?: string; password?: string }> } } | undefined)?.credentialsProvider;
  if (provider?.type !== 'async-credentials-provider') throw new Error('no async credentials provider in the client options');
  return provider;
}

/** A source whose refresh (reportAuthFailure) waits until the test releases it. */
class SlowRefreshSource<T> extends CredentialSourceDouble<T> {
  release: () => void = () => {};
  entered = false;
  override async reportAuthFailure<V = unknown>(name: string): Promise<{ changed: boolean; current: CredentialVersion<V> }> {
    this.entered = true;
    await new Promise<void>((resolve) => (this.release = resolve));
    return super.reportAuthFailure<V>(name);
  }
}

describe('nodeRedisCredentialsFromSecret: the one Redis secret parser', () => {
  it.each([
    ['a plain string token', 'tok-1', undefined, { username: undefined, password: 'tok-1' }],
    ['a plain string with a user name from the options', 'tok-1', 'rbac', { username: 'rbac', password: 'tok-1' }],
    ['{ authToken } (ElastiCache)', { authToken: 'tok-2' }, undefined, { username: undefined, password: 'tok-2' }],
    ['{ username, password } (ACL / RBAC user)', { username: 'u1', password: 'pw-2' }, 'ignored', { username: 'u1', password: 'pw-2' }],
  ])('reads %s', (_label, value, fallback, expected) => {
    expect(nodeRedisCredentialsFromSecret(NAME, value, fallback)).toEqual(expected);
  });

  it('rejects a malformed value naming the secret and the field, never the value', () => {
    // Act
    const error: unknown = (() => {
      try {
        return nodeRedisCredentialsFromSecret(NAME, { username: 'u1', pasword: 'sekrit-value' });
      } catch (err) {
        return err;
      }
    })();

    // Assess
    expect(error).toBeInstanceOf(InvalidSecretShapeError);
    expect((error as InvalidSecretShapeError).field).toBe('password');
    expect((error as Error).message).toContain('secret "cache" field "password"');
    expect((error as Error).message).not.toContain('sekrit');
  });
});

describe('createRotatingNodeRedis (no network: never connected)', () => {
  it('gives node-redis a credentials provider that answers the newest credentials at every handshake', async () => {
    // Prepare
    const source = new CredentialSourceDouble<unknown>(NAME, { username: 'app', password: 'pw-1' });
    const client = createRotatingNodeRedis(source, NAME, { socket: { host: '127.0.0.1', port: 1 } });
    const provider = providerOf(client);

    // Act + Assess: the first login, then a rotation not yet published, then published
    expect(await provider.credentials()).toEqual({ username: 'app', password: 'pw-1' });
    source.setCurrent({ username: 'app', password: 'pw-2' });
    expect(await provider.credentials()).toEqual({ username: 'app', password: 'pw-1' });
    source.publish();
    expect(await provider.credentials()).toEqual({ username: 'app', password: 'pw-2' });
    expect(nodeRedisRotationStatus(client)).toMatchObject({ secretName: NAME, versionId: 'v2', mode: 'current', switches: 1, credentialRequests: 3, commandRetry: true });
  });

  it('uses the options user name for a bare token secret', async () => {
    const source = new CredentialSourceDouble<unknown>(NAME, 'tok-1');
    const client = createRotatingNodeRedis(source, NAME, { username: 'rbac-user' });
    expect(await providerOf(client).credentials()).toEqual({ username: 'rbac-user', password: 'tok-1' });
  });

  it('makes a login that starts during a recovery wait for it, then hands out what the recovery found', async () => {
    // Prepare: a refused login ('error' WRONGPASS) starts a refresh that has not answered yet
    const source = new SlowRefreshSource<unknown>(NAME, { username: 'app', password: 'pw-1' });
    const client = createRotatingNodeRedis(source, NAME);
    const provider = providerOf(client);
    await provider.credentials(); // the login that is then refused
    client.emit('error', WRONGPASS());
    source.setCurrent({ username: 'app', password: 'pw-2' }); // what the refresh will find

    // Act
    let answered: { password?: string } | undefined;
    const reconnect = provider.credentials().then((creds) => (answered = creds));
    await waitUntil(() => source.entered, { message: 'the refresh to be in flight' });
    const beforeRelease = answered;
    source.release();
    await reconnect;

    // Assess
    expect(beforeRelease).toBeUndefined();
    expect(answered).toEqual({ username: 'app', password: 'pw-2' });
    expect(nodeRedisRotationStatus(client)).toMatchObject({ authFailures: 1, reportAuthFailureCalls: 1, pendingReads: 0, switches: 1 });
  });

  it('keeps node-redis\' rule for errors nobody listens to: a non-auth error is thrown, an auth error is handled', () => {
    // Prepare
    const source = new CredentialSourceDouble<unknown>(NAME, 'tok-1');
    const client = createRotatingNodeRedis(source, NAME);

    // Act + Assess: no listener of the app
    expect(() => client.emit('error', new Error('ECONNREFUSED 127.0.0.1:1'))).toThrow(/ECONNREFUSED/);
    expect(() => client.emit('error', WRONGPASS())).not.toThrow();

    // With a listener of the app, node-redis delivers to it and throws nothing.
    const seen: string[] = [];
    client.on('error', (err: Error) => seen.push(err.message));
    expect(() => client.emit('error', new Error('ECONNREFUSED 127.0.0.1:1'))).not.toThrow();
    expect(seen).toEqual(['ECONNREFUSED 127.0.0.1:1']);
  });

  it('keeps the working credentials when a new version is malformed', async () => {
    // Prepare
    const source = new CredentialSourceDouble<unknown>(NAME, { password: 'pw-1' });
    const client = createRotatingNodeRedis(source, NAME);

    // Act
    source.setCurrent({ passwd: 'typo' });
    source.publish();

    // Assess
    expect(await providerOf(client).credentials()).toEqual({ username: undefined, password: 'pw-1' });
    expect(nodeRedisRotationStatus(client)?.versionId).toBe('v1');
  });

  it('fails at creation naming the field when the current secret is malformed', () => {
    const source = new CredentialSourceDouble<unknown>(NAME, { username: 'app' });
    expect(() => createRotatingNodeRedis(source, NAME)).toThrow(/secret "cache" field "password"/);
  });

  it.each([
    ['a password', { password: 'static' }, /do not pass `options.password`/],
    ['a credentials provider', { credentialsProvider: { type: 'async-credentials-provider', credentials: async () => ({}) } }, /`options.credentialsProvider`/],
    ['a URL with a password', { url: 'redis://:static@cache.example:6379' }, /`options.url` must not carry a user or password/],
    ['a URL with a user', { url: 'rediss://app@cache.example:6379' }, /`options.url` must not carry/],
  ])('refuses %s in the options, never quoting it', (_label, options, message) => {
    const source = new CredentialSourceDouble<unknown>(NAME, 'tok-1');
    const call = () => createRotatingNodeRedis(source, NAME, options as unknown as RotatingNodeRedisOptions);
    expect(call).toThrow(message);
    expect(call).not.toThrow(/static/);
  });

  it('accepts a URL without user info', () => {
    const source = new CredentialSourceDouble<unknown>(NAME, 'tok-1');
    expect(() => createRotatingNodeRedis(source, NAME, { url: 'rediss://cache.example:6380/2' })).not.toThrow();
  });
});

describe('createRotatingNodeRedisCluster (no network: never connected)', () => {
  it('builds a cluster with its rotation status and refuses credentials in defaults and root nodes', () => {
    // Prepare
    const source = new CredentialSourceDouble<unknown>(NAME, { username: 'app', password: 'pw-1' });
    const rootNodes = [{ socket: { host: '127.0.0.1', port: 7000 } }];

    // Act
    const cluster = createRotatingNodeRedisCluster(source, NAME, { rootNodes, defaults: { socket: { connectTimeout: 1_000 } } });
    const withPassword = () => createRotatingNodeRedisCluster(source, NAME, { rootNodes, defaults: { password: 'static' } } as unknown as RotatingNodeRedisClusterOptions);
    const rootWithUrl = () => createRotatingNodeRedisCluster(source, NAME, { rootNodes: [{ url: 'redis://app:static@127.0.0.1:7000' }] });

    // Assess
    expect(nodeRedisRotationStatus(cluster)).toMatchObject({ secretName: NAME, versionId: 'v1', authFailures: 0, commandRetry: true });
    expect(withPassword).toThrow(/`defaults.password`/);
    expect(rootWithUrl).toThrow(/`rootNodes\[0\].url` must not carry/);
  });
});

describe('installCommandRetry: commands a refused login took down', () => {
  /** A stand-in for node-redis' instance (`_self`), whose sendCommand answers from `replies` in turn. */
  function fakeClient(replies: Array<() => Promise<unknown>>) {
    const calls: unknown[][] = [];
    const next = async (...args: unknown[]): Promise<unknown> => {
      calls.push(args);
      const reply = replies.shift();
      if (!reply) throw new Error('no more replies scripted');
      return reply();
    };
    const self = { sendCommand: next, _executeMulti: next, _executePipeline: next };
    return { client: { _self: self }, self, calls };
  }

  function follower(source: CredentialSourceDouble<unknown>): CredentialFollower {
    return new CredentialFollower(source, NAME, undefined, silentLogger(), 1_000);
  }

  it('sends a command refused NOAUTH again once the credentials changed, and returns its reply', async () => {
    // Prepare
    const source = new CredentialSourceDouble<unknown>(NAME, 'tok-1');
    const f = follower(source);
    const { client, self, calls } = fakeClient([() => Promise.reject(NOAUTH()), () => Promise.resolve('OK')]);
    expect(installCommandRetry(client, f)).toBe(true);
    source.setCurrent('tok-2'); // what the refresh finds

    // Act
    const reply = await self.sendCommand(['SET', 'k', 'v']);

    // Assess
    expect(reply).toBe('OK');
    expect(calls).toEqual([[['SET', 'k', 'v']], [['SET', 'k', 'v']]]);
    expect(f.status(true)).toMatchObject({ versionId: 'v2', retriedCommands: 1, reportAuthFailureCalls: 1, unrecovered: 0 });
  });

  it('never retries another error: a dropped connection may have run the command', async () => {
    // Prepare
    const source = new CredentialSourceDouble<unknown>(NAME, 'tok-1');
    const f = follower(source);
    const { client, self, calls } = fakeClient([() => Promise.reject(new Error('Socket closed unexpectedly'))]);
    installCommandRetry(client, f);

    // Act
    const error: unknown = await self._executeMulti([]).then(() => undefined, (err: unknown) => err);

    // Assess
    expect((error as Error).message).toBe('Socket closed unexpectedly');
    expect(calls).toHaveLength(1);
    expect(source.counts.authFailureReports).toBe(0);
  });

  it("leaves the caller's own AUTH alone: its WRONGPASS is the answer", async () => {
    // Prepare
    const source = new CredentialSourceDouble<unknown>(NAME, 'tok-1');
    const f = follower(source);
    const { client, self, calls } = fakeClient([() => Promise.reject(WRONGPASS())]);
    installCommandRetry(client, f);

    // Act
    const error: unknown = await self.sendCommand(['AUTH', 'someone', 'guess']).then(() => undefined, (err: unknown) => err);

    // Assess
    expect((error as Error).message).toMatch(/^WRONGPASS/);
    expect(calls).toHaveLength(1);
    expect(source.counts.authFailureReports).toBe(0);
  });

  it('rejects with CredentialsRejectedError (cause: the server error) when no other credentials exist', async () => {
    // Prepare
    const source = new CredentialSourceDouble<unknown>(NAME, 'tok-1');
    const f = follower(source);
    const { client, self, calls } = fakeClient([() => Promise.reject(NOAUTH())]);
    installCommandRetry(client, f);

    // Act
    const error: unknown = await self._executePipeline([]).then(() => undefined, (err: unknown) => err);

    // Assess: one refresh (unchanged), one AWSPENDING read (none), no retry
    expect(error).toBeInstanceOf(CredentialsRejectedError);
    expect(error).toMatchObject({ code: 'CREDENTIALS_REJECTED', secretName: NAME, versionsTried: ['v1'] });
    expect(((error as Error).cause as Error).message).toMatch(/^NOAUTH/);
    expect(calls).toHaveLength(1);
    expect(f.status(true)).toMatchObject({ reportAuthFailureCalls: 1, pendingReads: 1, retriedCommands: 0, unrecovered: 1 });
  });

  it('gives up after three refused attempts even when every recovery finds other credentials', async () => {
    // Prepare: each refresh finds a newer version, and the server refuses them all
    const source = new CredentialSourceDouble<unknown>(NAME, 'tok-1');
    const f = follower(source);
    const refuse = (next: string) => async () => {
      await f.provider.credentials(); // the handshake, whose login the server then refuses
      source.setCurrent(next);
      throw NOAUTH();
    };
    const { client, self, calls } = fakeClient([refuse('tok-2'), refuse('tok-3'), refuse('tok-4')]);
    installCommandRetry(client, f);

    // Act
    const error: unknown = await self.sendCommand(['GET', 'k']).then(() => undefined, (err: unknown) => err);

    // Assess
    expect(error).toBeInstanceOf(CredentialsRejectedError);
    expect((error as CredentialsRejectedError).versionsTried).toEqual(['v1', 'v2', 'v3']);
    expect(calls).toHaveLength(3);
  });

  it('installs nothing when the node-redis internals are missing', () => {
    const source = new CredentialSourceDouble<unknown>(NAME, 'tok-1');
    expect(installCommandRetry({ _self: { sendCommand: async () => 'OK' } }, follower(source))).toBe(false);
    expect(installCommandRetry({}, follower(source))).toBe(false);
  });
});
