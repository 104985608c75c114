import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageOutcome } from '../../../src/relay/worker/handle-message.js';
import { RelayFixture } from '../../support/relay-fixture.js';
import { labelUpdatedEvent } from '../../support/rotation-events.js';

const STALE_EVENTS = 10;

/**
 * Regression (found by this suite as stale-event-stall.bug.test.ts; fixed in
 * src/relay/worker/confirm-current-version.ts, commit 9e7a516): an event naming a superseded version — a
 * late delivery, a backlog after an outage, the Secret Label Updated of a rotation followed quickly
 * by another — must end at once as `unchanged-version`.
 *
 * The worker re-reads DescribeSecret for the confirm window (3 s by default) when a read may be
 * stale. It used to do so for every event naming another version than the last broadcast, older
 * ones included; as sqs-consumer handles one batch at a time, each superseded event stalled its
 * batch for 3 s and a backlog of them fell to a few events per second (the load test with
 * LOAD_ROTATIONS_PER_SECRET=2 showed ~7 events/s). It now re-reads only while the event's version is
 * absent from the read or still AWSPENDING.
 */
describe('events naming a superseded version (the worker with the default confirm window)', () => {
  let fixture: RelayFixture;
  const outcomes: MessageOutcome[] = [];

  beforeAll(async () => {
    fixture = await RelayFixture.start();
    // The default window (3 s) and re-read interval (200 ms), as deployed.
    const started = await fixture.startWorker({ ROTATION_RELAY_CONFIRM_WINDOW_MS: '3000', ROTATION_RELAY_CONFIRM_INTERVAL_MS: '200' });
    started.worker.on('outcome', (outcome) => outcomes.push(outcome));
  });

  afterAll(async () => {
    await fixture?.stop();
  });

  it('recognises a superseded event at once instead of re-reading for the whole window', async () => {
    const secret = await fixture.createSecret('superseded/db');
    const superseded = await fixture.secrets.rotate(secret);
    const current = await fixture.secrets.rotate(secret);
    await fixture.send(labelUpdatedEvent(secret.arn, current));
    await fixture.until(() => outcomes.some((o) => o.kind === 'published' && o.versionId === current), 'the current version to be published');
    const before = outcomes.length;

    // Late deliveries of the previous rotation's event (its version is AWSPREVIOUS now).
    for (let i = 0; i < STALE_EVENTS; i += 1) await fixture.send(labelUpdatedEvent(secret.arn, superseded));

    await fixture.until(() => outcomes.length - before >= STALE_EVENTS, 'every stale event to be handled', 20_000);
    // The worker logs this line only when a confirm window ran out: it must never have.
    const windowsRunOut = fixture.logs.records().filter((r) => r.msg === 'event names a version that is not current; treating it as stale');
    expect(outcomes.slice(before).every((o) => o.kind === 'unchanged-version')).toBe(true);
    expect(windowsRunOut).toEqual([]);
  });
});
