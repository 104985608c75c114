import { describe, expect, it } from 'vitest';
import { Deadline, FleetReadError, verdictOf, type SecretConvergence, type SubscriberAccount } from '../../../src/sdk/fleet/index.js';

const CHANNEL = '{rotation-relay}:invalidations';

function convergence(instances: number, stale: number): SecretConvergence {
  const holders = Array.from({ length: instances - stale }, (_, i) => ({ instanceId: `h${i}`, versionId: 'v2', ackedAt: 1, lastSeenAt: 1 }));
  const staleOnes = Array.from({ length: stale }, (_, i) => ({ instanceId: `s${i}`, versionId: 'v1', ackedAt: 1, lastSeenAt: 1 }));
  return { secretArn: 'arn', versionId: 'v2', checkedAt: 1, instances, holders, stale: staleOnes, converged: stale === 0 };
}

function account(overrides: Partial<SubscriberAccount> = {}): SubscriberAccount {
  return { channel: CHANNEL, subscribers: 2, complete: true, failedNodes: [], reporting: 2, unaccounted: 0, method: 'client-list', cliListeners: 0, candidates: [], reportingWithoutConnection: [], ...overrides };
}

const rules = { minInstances: 1, allowUnaccounted: 0 };

describe('verdictOf', () => {
  it('is converged with no stale instance, every subscriber accounted for and enough instances', () => {
    expect(verdictOf(convergence(2, 0), account(), rules)).toEqual({ converged: true });
  });

  it('refuses while a subscriber is unaccounted for, and says what usually causes it and who it can be', () => {
    // Act
    const verdict = verdictOf(
      convergence(1, 0),
      account({ subscribers: 2, reporting: 1, unaccounted: 1, candidates: [{ node: '127.0.0.1:6379', name: 'rotation-relay:listener:ghost', addr: '10.0.0.9:4000', instanceId: 'ghost' }] }),
      rules,
    );

    // Assess
    expect(verdict).toMatchObject({ converged: false, reason: 'unaccounted-subscribers' });
    const why = verdict.converged ? '' : verdict.why;
    expect(why).toContain(`1 of the 2 subscribers on ${CHANNEL} reports no presence (rotation-relay:listener:ghost from 10.0.0.9:4000 on 127.0.0.1:6379)`);
    expect(why).toMatch(/ACL without the presence rights.*SDK without presence.*another language that does not write presence/);
  });

  it('says so when it had to count without CLIENT LIST', () => {
    const verdict = verdictOf(convergence(1, 0), account({ unaccounted: 1, method: 'counts', clientListError: 'NOPERM' }), rules);
    expect(verdict.converged ? '' : verdict.why).toContain('CLIENT LIST was not allowed (NOPERM), so no connection can be named and a rotation-relay listen session counts too');
  });

  it('tolerates up to allowUnaccounted subscribers without presence', () => {
    expect(verdictOf(convergence(1, 0), account({ unaccounted: 1 }), { ...rules, allowUnaccounted: 1 })).toEqual({ converged: true });
    expect(verdictOf(convergence(1, 0), account({ unaccounted: 2 }), { ...rules, allowUnaccounted: 1 })).toMatchObject({ converged: false, reason: 'unaccounted-subscribers' });
  });

  it('refuses when a node could not be counted: the count is only a lower bound', () => {
    const verdict = verdictOf(convergence(1, 0), account({ complete: false, failedNodes: [{ node: '127.0.0.1:7002', error: 'connect ECONNREFUSED' }] }), rules);
    expect(verdict).toMatchObject({ converged: false, reason: 'unaccounted-subscribers' });
    expect(verdict.converged ? '' : verdict.why).toContain('could not be counted on 127.0.0.1:7002 (connect ECONNREFUSED)');
  });

  it('names stale first, then unaccounted subscribers, then too few instances, and keeps every cause in the message', () => {
    // Act
    const all = verdictOf(convergence(1, 1), account({ unaccounted: 1 }), { ...rules, minInstances: 3 });
    const tooFew = verdictOf(convergence(0, 0), account({ subscribers: 0, reporting: 0 }), rules);
    const unaccountedOverTooFew = verdictOf(convergence(0, 0), account({ subscribers: 1, reporting: 0, unaccounted: 1 }), rules);

    // Assess
    expect(all).toMatchObject({ converged: false, reason: 'stale' });
    expect(all.converged ? '' : all.why).toMatch(/^1 of 1 live instances still hold another version: s0 \(v1\); 1 of the 2 subscribers .*; only 1 live instances report the secret, fewer than minInstances \(3\)$/);
    expect(tooFew).toEqual({ converged: false, reason: 'too-few-instances', why: 'only 0 live instances report the secret, fewer than minInstances (1)' });
    expect(unaccountedOverTooFew).toMatchObject({ converged: false, reason: 'unaccounted-subscribers' });
  });
});

describe('Deadline', () => {
  it('passes a call that answers in time through', async () => {
    await expect(Deadline.in(1_000).bound(Promise.resolve(42), 'a read')).resolves.toBe(42);
  });

  it('rejects with a FleetReadError naming the call once the deadline passes, for a call that never answers', async () => {
    // Prepare
    const started = Date.now();

    // Act
    const error = await Deadline.in(150)
      .bound(new Promise(() => undefined), 'PUBSUB NUMSUB on 127.0.0.1:6379')
      .catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(FleetReadError);
    expect((error as FleetReadError).message).toMatch(/^PUBSUB NUMSUB on 127\.0\.0\.1:6379 did not answer within the deadline/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
