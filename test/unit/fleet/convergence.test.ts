import { describe, expect, it } from 'vitest';
import { ackFor, convergenceOf, fleetStatusOf, staleInstanceIds, type FleetInstance, type FleetSnapshot } from '../../../src/sdk/fleet/index.js';
import { createInvalidation, type Invalidation } from '../../../src/protocol/index.js';

const DB = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf';
const MAIL = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/mail-GhIjKl';
const NOW = 1_000_000;

function live(id: string, acks: Array<[string, string, number]>, lastSeenAt = NOW - 1_000): FleetInstance {
  return { id, host: id.split(':')[0] as string, pid: 1, lastSeenAt, acks: acks.map(([secret, versionId, ackedAt]) => ({ secret, versionId, ackedAt })) };
}

function snapshot(instances: FleetInstance[], stopped: FleetSnapshot['stopped'] = []): FleetSnapshot {
  return { readAt: NOW, live: instances, stopped };
}

function published(secretArn: string, versionId: string, publishedAtMs: number): Invalidation {
  return { ...createInvalidation({ secretArn, secretName: secretArn.split(':secret:')[1]?.slice(0, -7) ?? '', versionId, reason: 'test', eventId: `e-${versionId}`, eventTime: new Date(publishedAtMs).toISOString() }), publishedAt: new Date(publishedAtMs).toISOString() };
}

describe('convergenceOf', () => {
  it('splits the live instances that use the secret into holders and stale ones, ignoring the others', () => {
    // Prepare
    const fleet = snapshot([
      live('a:1:aaaaaa', [[DB, 'v2', NOW - 5_000]]),
      live('b:1:bbbbbb', [[DB, 'v1', NOW - 90_000]]),
      live('c:1:cccccc', [[MAIL, 'm1', NOW - 90_000]]),
    ]);

    // Act
    const result = convergenceOf(fleet, { secretArn: DB, versionId: 'v2', since: NOW - 10_000 });

    // Assess
    expect(result).toMatchObject({ secretArn: DB, versionId: 'v2', checkedAt: NOW, instances: 2, converged: false });
    expect(result.holders.map((h) => h.instanceId)).toEqual(['a:1:aaaaaa']);
    // Stale since the broadcast (it held v1 since before it).
    expect(result.stale).toEqual([expect.objectContaining({ instanceId: 'b:1:bbbbbb', versionId: 'v1', staleSince: NOW - 10_000, staleForMs: 10_000 })]);
  });

  it('counts staleness from the instance own ack when it took the old version after the broadcast (a late starter)', () => {
    // Act
    const result = convergenceOf(snapshot([live('late:1:aaaaaa', [[DB, 'v1', NOW - 2_000]])]), { secretArn: DB, versionId: 'v2', since: NOW - 10_000 });

    // Assess
    expect(result.stale[0]).toMatchObject({ staleSince: NOW - 2_000, staleForMs: 2_000 });
  });

  it('falls back to the first holder ack as the origin, and leaves staleness unknown with no holder at all', () => {
    // Act
    const withHolder = convergenceOf(snapshot([live('a:1:aaaaaa', [[DB, 'v2', NOW - 3_000]]), live('b:1:bbbbbb', [[DB, 'v1', NOW - 60_000]])]), { secretArn: DB, versionId: 'v2' });
    const without = convergenceOf(snapshot([live('b:1:bbbbbb', [[DB, 'v1', NOW - 60_000]])]), { secretArn: DB, versionId: 'v2' });

    // Assess
    expect(withHolder.stale[0]?.staleForMs).toBe(3_000);
    expect(without.stale[0]).not.toHaveProperty('staleForMs');
  });

  it('is converged for an empty fleet (wait-converged adds minInstances for that case)', () => {
    expect(convergenceOf(snapshot([]), { secretArn: DB, versionId: 'v2' })).toMatchObject({ instances: 0, converged: true, holders: [], stale: [] });
  });

  it('matches an ack under a configured name or partial ARN (before the instance learned the ARN), never another secret', () => {
    // Prepare
    const byName = live('n:1:aaaaaa', [['prod/db', 'env-fallback', NOW - 1]]);
    const byPartial = live('p:1:aaaaaa', [['arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db', 'v2', NOW - 1]]);
    const other = live('o:1:aaaaaa', [['prod/db-extra', 'v2', NOW - 1]]);

    // Assess
    expect(ackFor(byName, DB)?.versionId).toBe('env-fallback');
    expect(ackFor(byPartial, DB)?.versionId).toBe('v2');
    expect(ackFor(other, DB)).toBeUndefined();
    expect(convergenceOf(snapshot([byName, byPartial, other]), { secretArn: DB, versionId: 'v2' })).toMatchObject({ instances: 2, converged: false });
  });
});

describe('fleetStatusOf and staleInstanceIds', () => {
  it('lists every secret of the versions hash or of an ack, measures against the broadcast, or AWSCURRENT when given', () => {
    // Prepare
    const fleet = snapshot(
      [live('a:1:aaaaaa', [[DB, 'v2', NOW - 5_000], [MAIL, 'm1', NOW - 50_000]]), live('b:1:bbbbbb', [[DB, 'v1', NOW - 90_000], ['prod/only-acked', 'x1', NOW - 1]])],
      [{ id: 'gone:1:aaaaaa', lastSeenAt: NOW - 120_000 }],
    );
    const versions = new Map([[DB, published(DB, 'v2', NOW - 70_000)]]);

    // Act
    const status = fleetStatusOf(fleet, versions);
    const withAws = fleetStatusOf(fleet, versions, new Map([[DB, 'v3']]));

    // Assess
    expect(status.secrets.map((s) => s.secretName)).toEqual(['prod/db', 'prod/mail', 'prod/only-acked']);
    const db = status.secrets[0];
    expect(db).toMatchObject({ secretArn: DB, targetVersionId: 'v2', versions: { v2: 1, v1: 1 } });
    expect(db?.convergence?.stale).toEqual([expect.objectContaining({ instanceId: 'b:1:bbbbbb', staleForMs: 70_000 })]);
    // No broadcast for mail and no AWSCURRENT: nothing to be stale against.
    expect(status.secrets[1]).toMatchObject({ secretArn: MAIL, versions: { m1: 1 } });
    expect(status.secrets[1]).not.toHaveProperty('convergence');
    expect(status.fleet.stopped).toEqual([{ id: 'gone:1:aaaaaa', lastSeenAt: NOW - 120_000 }]);
    expect(withAws.secrets[0]).toMatchObject({ awsCurrentVersionId: 'v3', targetVersionId: 'v3' });
    expect(withAws.secrets[0]?.convergence).toMatchObject({ instances: 2, holders: [], converged: false });
  });

  it('counts distinct instances stale for longer than the grace period (the InstancesStale gauge)', () => {
    // Prepare
    const fleet = snapshot([
      live('a:1:aaaaaa', [[DB, 'v1', NOW - 90_000], [MAIL, 'm1', NOW - 90_000]]),
      live('b:1:bbbbbb', [[DB, 'v2', NOW - 1_000]]),
    ]);
    const versions = new Map([
      [DB, published(DB, 'v2', NOW - 70_000)],
      [MAIL, published(MAIL, 'm2', NOW - 10_000)],
    ]);

    // Act
    const status = fleetStatusOf(fleet, versions);

    // Assess: a is stale on both secrets but counts once; within the grace it does not count.
    expect([...staleInstanceIds(status, 60_000)]).toEqual(['a:1:aaaaaa']);
    expect([...staleInstanceIds(status, 0)]).toEqual(['a:1:aaaaaa']);
    expect(staleInstanceIds(status, 80_000).size).toBe(0);
  });
});
