import { describe, expect, it } from 'vitest';
import { createInvalidation, type Invalidation } from '../../../src/protocol/index.js';
import { planLostState, planReconcile } from '../../../src/sdk/cache/reconcile.js';
import { SecretState } from '../../../src/sdk/cache/secret-state.js';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf';
const OTHER = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-extra-XyZ123';

function entry(secretArn: string, versionId: string | undefined, publishedAt = Date.now()): Invalidation {
  return createInvalidation(
    { secretArn, secretName: secretArn.split(':secret:')[1]?.slice(0, -7) ?? 'x', reason: 'test', eventId: 'e', eventTime: new Date().toISOString(), ...(versionId ? { versionId } : {}) },
    () => publishedAt,
  );
}

function held(name: string, secretId: string, versionId: string, arn?: string): SecretState {
  const state = new SecretState(name, { secretId });
  state.held = { value: 'v', versionId, secretArn: arn ?? secretId, source: 'secrets-manager' };
  if (arn) state.arn = arn;
  state.lastRefreshAt = Date.now() - 60_000;
  return state;
}

describe('planReconcile', () => {
  it('refreshes a secret whose entry names another version, by that version', () => {
    const state = held('db', 'prod/db', 'v1');
    const actions = planReconcile([state], new Map([[ARN, entry(ARN, 'v2')]]), 1);
    expect(actions).toHaveLength(1);
    expect(actions[0]?.request).toEqual({ kind: 'version', versionId: 'v2', ifNotCurrent: 'read-current', trigger: 'reconcile', at: 1 });
  });

  it('only remembers an entry whose version is held, and skips an entry already acted on', () => {
    const state = held('db', 'prod/db', 'v2');
    const current = entry(ARN, 'v2');
    expect(planReconcile([state], new Map([[ARN, current]]), 1)).toEqual([{ state, entry: current, request: undefined }]);
    const newer = entry(ARN, 'v3');
    state.lastInvalidationId = newer.id;
    expect(planReconcile([state], new Map([[ARN, newer]]), 1)).toEqual([]);
  });

  it('matches names by the suffix rule, and ignores secrets it does not use', () => {
    const state = held('db', 'prod/db', 'v1');
    const actions = planReconcile([state], new Map([[OTHER, entry(OTHER, 'v9')]]), 1);
    expect(actions).toEqual([]);
  });

  it('prefers the exact ARN once known', () => {
    const recreated = ARN.replace('AbCdEf', 'ZZZZZZ');
    const state = held('db', 'prod/db', 'v1', ARN);
    const actions = planReconcile(
      [state],
      new Map([
        [recreated, entry(recreated, 'other', Date.now() + 1_000)],
        [ARN, entry(ARN, 'v2')],
      ]),
      1,
    );
    expect(actions[0]?.entry.secretArn).toBe(ARN);
  });

  it('an entry without a version refreshes only when published after the last fetch', () => {
    const state = held('db', 'prod/db', 'v1');
    const lastFetch = state.lastRefreshAt ?? 0;
    expect(planReconcile([state], new Map([[ARN, entry(ARN, undefined, lastFetch - 1)]]), 1)[0]?.request).toBeUndefined();
    expect(planReconcile([state], new Map([[ARN, entry(ARN, undefined, lastFetch + 1)]]), 1)[0]?.request).toEqual({ kind: 'current', trigger: 'reconcile', at: 1 });
  });
});

describe('planLostState', () => {
  const seen = (name: string, secretId: string, arn?: string): SecretState => {
    const state = held(name, secretId, 'v1', arn);
    state.versionsEntrySeen = true;
    return state;
  };

  it('a secret seen in the hash before and without an entry now is lost; one with an entry is present', () => {
    const db = seen('db', 'prod/db');
    const extra = seen('extra', 'prod/db-extra');
    expect(planLostState([db, extra], { entries: new Map([[OTHER, entry(OTHER, 'v1')]]), rejected: 0 })).toEqual({ present: [extra], lost: [db] });
  });

  it('an entry under another ARN of the same name (the secret was recreated) still counts as present', () => {
    const db = seen('db', 'prod/db', ARN);
    const recreated = ARN.replace('AbCdEf', 'ZZZZZZ');
    expect(planLostState([db], { entries: new Map([[recreated, entry(recreated, 'v1')]]), rejected: 0 })).toEqual({ present: [db], lost: [] });
  });

  it('never seen, or any entry skipped as corrupt or unverified: nobody is lost', () => {
    const fresh = held('db', 'prod/db', 'v1');
    expect(planLostState([fresh], { entries: new Map(), rejected: 0 })).toEqual({ present: [], lost: [] });
    expect(planLostState([seen('db', 'prod/db')], { entries: new Map(), rejected: 1 })).toEqual({ present: [], lost: [] });
  });
});
