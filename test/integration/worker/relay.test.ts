import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageOutcome } from '../../../src/relay/worker/handle-message.js';
import { RelayFixture } from '../../support/relay-fixture.js';
import { labelUpdatedEvent, moveCurrentEvent, rotationEvents, rotationSucceededEvent } from '../../support/rotation-events.js';

describe('RelayWorker on real services (moto_server, redis-server, fauxqs)', () => {
  let fixture: RelayFixture;
  let outcomes: MessageOutcome[];

  beforeAll(async () => {
    fixture = await RelayFixture.start();
    ({ outcomes } = await fixture.startWorker());
  });

  afterAll(async () => {
    await fixture?.stop();
  });

  it('turns a Secret Label Updated event into one signed invalidation naming the new version', async () => {
    const received = await fixture.listen();
    const secret = await fixture.createSecret();
    const versionId = await fixture.secrets.rotate(secret);

    await fixture.send(labelUpdatedEvent(secret.arn, versionId));

    await fixture.until(() => received.some((i) => i.secretArn === secret.arn), 'the invalidation to arrive');
    const invalidation = received.find((i) => i.secretArn === secret.arn);
    expect(invalidation).toMatchObject({ v: 1, secretArn: secret.arn, secretName: secret.name, versionId, reason: 'Secret Label Updated' });
    expect(invalidation?.sig).toMatch(/^v1=/);
  });

  it('publishes the several events of one rotation, delivered twice, exactly once', async () => {
    const received = await fixture.listen();
    const secret = await fixture.createSecret();
    const oldVersion = secret.versionId;
    const newVersion = await fixture.secrets.rotate(secret);
    const events = rotationEvents(secret.arn, newVersion, oldVersion);
    const handledBefore = outcomes.length;

    for (const event of [...events, ...events]) await fixture.send(event);

    await fixture.until(() => outcomes.length - handledBefore >= 8, 'all eight deliveries to be handled');
    const kinds = outcomes.slice(handledBefore).map((o) => o.kind).sort();
    // Per distinct event: its first delivery publishes or finds the version already broadcast;
    // its second is an exact duplicate. The createSecret step's AWSPENDING put is ignored.
    expect(kinds).toEqual([
      'duplicate-event',
      'duplicate-event',
      'duplicate-event',
      'ignored',
      'ignored',
      'published',
      'unchanged-version',
      'unchanged-version',
    ]);
    const forSecret = received.filter((i) => i.secretArn === secret.arn);
    expect(forSecret).toHaveLength(1);
    expect(forSecret[0]?.versionId).toBe(newVersion);
  });

  it('broadcasts a roll-back to an older version like any change', async () => {
    const received = await fixture.listen();
    const secret = await fixture.createSecret();
    const first = secret.versionId;
    const second = await fixture.secrets.rotate(secret);
    await fixture.send(labelUpdatedEvent(secret.arn, second));
    await fixture.until(() => received.some((i) => i.secretArn === secret.arn && i.versionId === second), 'the rotation broadcast');

    await fixture.secrets.moveCurrent(secret, first);
    await fixture.send(moveCurrentEvent(secret.arn, first, second));

    await fixture.until(() => received.some((i) => i.secretArn === secret.arn && i.versionId === first), 'the roll-back broadcast');
    expect(received.filter((i) => i.secretArn === secret.arn).map((i) => i.versionId)).toEqual([second, first]);
  });

  it('confirms the version with Secrets Manager: a RotationSucceeded event without a version publishes AWSCURRENT', async () => {
    const received = await fixture.listen();
    const secret = await fixture.createSecret();
    const versionId = await fixture.secrets.rotate(secret);

    await fixture.send(rotationSucceededEvent(secret.arn));

    await fixture.until(() => received.some((i) => i.secretArn === secret.arn), 'the invalidation to arrive');
    expect(received.find((i) => i.secretArn === secret.arn)?.versionId).toBe(versionId);
  });

  it('never writes a secret value into its logs', () => {
    expect(fixture.logs.lines().length).toBeGreaterThan(0);
    expect(fixture.created.length).toBeGreaterThan(0);

    expect(fixture.leakedValues()).toEqual([]);
  });
});
