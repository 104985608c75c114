import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createInvalidation, serializeInvalidation, signInvalidation, verifyInvalidation } from '../../../src/protocol/index.js';
import { PYTHON_PACKAGE_DIR, runBarePython } from '../../support/python-env.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/**
 * The Python package's protocol module (python/rotation_relay/protocol.py) on a bare python3 — the
 * one on PATH, without redis-py, boto3 or Django: `import rotation_relay` and its verification need
 * the standard library alone (the cache and the Django backends are tested with Debian's python3
 * in test/integration/python).
 */
const python = runBarePython;

describe('rotation_relay.protocol on a bare python3', () => {
  it('the package compiles', () => {
    // compileall writes no __pycache__ here: -X pycache_prefix keeps the bytecode out of the tree.
    expect(() => python(['-X', 'pycache_prefix=/tmp/rr-pycache', '-m', 'compileall', '-q', join(PYTHON_PACKAGE_DIR, 'rotation_relay')])).not.toThrow();
  });

  it('passes its self-test, which signs the test vectors of docs/protocol.md to the documented values', () => {
    const out = python(['-m', 'rotation_relay.selftest']);

    expect(out).toContain('self-test passed');
    const documented = [...readFileSync(join(ROOT, 'docs', 'protocol.md'), 'utf8').matchAll(/→ `sig` = `(v1=[A-Za-z0-9_-]{43})`/g)].map((m) => m[1]);
    expect(documented).toHaveLength(2);
    documented.forEach((sig, i) => expect(out).toContain(`ok  vector ${i + 1}: sig = ${sig}`));
  });

  it('imports nothing beyond the standard library at module level', () => {
    const thirdParty = python([
      '-c',
      `import sys, rotation_relay, rotation_relay.protocol
print(sorted({m.split('.')[0] for m in sys.modules} & {'redis', 'boto3', 'botocore', 'django', 'psycopg', 'psycopg2'}))`,
    ]);
    expect(thirdParty.trim()).toBe('[]');
  });

  it('verifies what the worker signs, and rejects it with another key, as the Node SDK does', () => {
    const key = randomBytes(32).toString('base64url');
    const messages = [
      createInvalidation({
        secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf',
        secretName: 'prod/db',
        versionId: 'a1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d',
        reason: 'AWSCURRENT moved',
        eventId: 'evt-1',
        eventTime: new Date().toISOString(),
      }),
      createInvalidation({
        secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/smtp-XyZ123',
        secretName: 'prod/smtp',
        reason: 'manual refresh — réussie ✓',
        eventId: 'manual-1',
        eventTime: '2024-05-01T12:05:00+02:00',
      }),
    ].map((invalidation) => serializeInvalidation(signInvalidation(invalidation, [key])));
    for (const raw of messages) expect(verifyInvalidation(raw, { keys: [key] }).ok).toBe(true);

    const script = `import json, sys; import rotation_relay.protocol as d
key, other = sys.argv[1].encode(), b"k" * 32
for raw in json.load(sys.stdin):
    print(d.verify(raw, [key])["secretName"], end=" ")
    try:
        d.verify(raw, [other])
    except d.InvalidMessage as error:
        print(error.code)`;
    const out = python(['-c', script, key], JSON.stringify(messages));

    expect(out.trim().split('\n')).toEqual(['prod/db bad-signature', 'prod/smtp bad-signature']);
  });
});
