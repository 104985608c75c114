import { describe, expect, it } from 'vitest';
import { parseEventBody } from '../../../src/relay/events/index.js';
import { buildVerifyCases, parseScope, secretArnOf, type AccountContext } from '../../../src/ops/infra/index.js';
import { inScopeArn } from '../../../src/ops/infra/scope.js';

const CTX: AccountContext = { partition: 'aws', region: 'eu-west-1', accountId: '111122223333' };

describe('buildVerifyCases', () => {
  it('expects the four real samples and the old aRN spelling to route, and three look-alikes not to', () => {
    // Act
    const cases = buildVerifyCases({ kind: 'all' }, CTX);

    // Assess
    expect(cases.map((c) => [c.id, c.expected])).toEqual([
      ['label-updated-awscurrent', 'route'],
      ['rotation-succeeded', 'route'],
      ['rotation-failed', 'route'],
      ['put-secret-value', 'route'],
      ['put-secret-value-aRN', 'route'],
      ['label-updated-awspending', 'skip'],
      ['put-secret-value-failed', 'skip'],
      ['lookalike-other-source', 'skip'],
    ]);
  });

  it('agrees with the worker: what must route is what it invalidates or alerts on, and what must not is ignored or rejected', () => {
    for (const c of buildVerifyCases({ kind: 'all' }, CTX)) {
      const action = parseEventBody(JSON.stringify(c.event)).action;
      if (c.expected === 'route') expect(['invalidate', 'alert'], c.id).toContain(action);
      else expect(['ignore', 'reject'], c.id).toContain(action);
    }
  });

  it('with a scope, sends every case for a secret in scope and the real samples as they are', () => {
    // Prepare
    const scope = parseScope(undefined, 'prod/');

    // Act
    const cases = buildVerifyCases(scope, CTX);

    // Assess
    const inScope = cases.filter((c) => c.id.endsWith('(in scope)'));
    const asSampled = cases.filter((c) => c.id.endsWith('(as sampled)'));
    expect(inScope).toHaveLength(8);
    expect(asSampled).toHaveLength(5);
    for (const c of inScope.filter((x) => x.expected === 'route')) expect(secretArnOf(c.event), c.id).toBe(inScopeArn(scope, CTX));
    // The shared samples live in other accounts: out of scope here.
    for (const c of asSampled) expect(c.expected).toBe('skip');
  });

  it('expects a sample to route when its own ARN is in scope', () => {
    // Prepare
    const arn = 'arn:aws:secretsmanager:us-east-2:123456789012:secret:MyDatabaseSecret-a1b2c3';

    // Act
    const cases = buildVerifyCases(parseScope([arn], undefined), CTX);

    // Assess
    expect(cases.find((c) => c.id === 'rotation-failed (as sampled)')?.expected).toBe('route');
    expect(cases.find((c) => c.id === 'rotation-succeeded (as sampled)')?.expected).toBe('skip');
  });
});
