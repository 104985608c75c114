import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Invalidation } from '../../../src/protocol/index.js';
import { InvalidationListener } from '../../../src/sdk/cache/invalidation-listener.js';
import { startRedisTls, type RedisTlsHandle } from '../../support/redis-tls.js';
import { RelayFixture } from '../../support/relay-fixture.js';
import { labelUpdatedEvent } from '../../support/rotation-events.js';
import { waitUntil } from '../../support/wait-until.js';
import { instance, type Instance } from '../../support/subscribed-cache.js';

/**
 * `rediss://` end to end against a redis-server that only listens with TLS (`--port 0
 * --tls-port P`, a throwaway CA made with openssl: test/support/redis-tls.ts): the worker trusts
 * the CA through ROTATION_RELAY_REDIS_TLS_CA_FILE, a CredentialCache through `redis.tlsCaFile`.
 * Without the CA the certificate is refused: verification is on, not skipped.
 */
describe('TLS to Redis (rediss://, private CA)', () => {
  let fixture: RelayFixture;
  let tls: RedisTlsHandle;
  let app: Instance | undefined;
  const listeners: InvalidationListener[] = [];

  beforeAll(async () => {
    [fixture, tls] = await Promise.all([RelayFixture.start(), startRedisTls()]);
  });

  afterAll(async () => {
    await app?.cache.stop();
    await Promise.allSettled(listeners.map((listener) => listener.stop()));
    await fixture?.stop();
    await tls?.stop();
  });

  it('the worker publishes over rediss:// and a CredentialCache subscribed over rediss:// refreshes', async () => {
    const { worker } = await fixture.startWorker({ ROTATION_RELAY_REDIS_URL: tls.url, ROTATION_RELAY_REDIS_TLS_CA_FILE: tls.caFile });
    expect(worker.status.redisReady).toBe(true);
    const secret = await fixture.createSecret('tls/db');
    app = instance(fixture, { secrets: { db: { secretId: secret.name, json: true } }, redis: { url: tls.url, cluster: false, keyPrefix: 'rotation-relay', tlsCaFile: tls.caFile } });
    await app.cache.start();
    await waitUntil(() => app?.cache.status().pubsub.connected === true, { message: 'the cache subscribed over TLS' });

    const version = await fixture.secrets.rotate(secret);
    await fixture.send(labelUpdatedEvent(secret.arn, version));

    await waitUntil(() => app?.cache.current('db').versionId === version, { message: 'the invalidation over TLS', timeoutMs: 15_000 });
    expect(app.rotations).toEqual([expect.objectContaining({ name: 'db', versionId: version, trigger: 'invalidation' })]);
    expect(app.cache.status().counts).toMatchObject({ invalidationsReceived: 1, invalidationsRejected: 0 });
  });

  it('refuses the server certificate when the CA is not given', async () => {
    const listener = new InvalidationListener({ redis: { url: tls.url, cluster: false, keyPrefix: 'rotation-relay' }, signingKeys: fixture.signingKeys });
    listeners.push(listener);
    const errors: Error[] = [];
    const received: Invalidation[] = [];
    listener.on('error', (error) => errors.push(error));
    listener.on('invalidation', (invalidation) => received.push(invalidation));
    void listener.start().catch(() => undefined);

    await waitUntil(() => errors.length > 0, { message: 'the TLS handshake to fail' });

    expect((errors[0] as NodeJS.ErrnoException).code).toMatch(/SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/);
    expect(listener.connected).toBe(false);
  });
});
