import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createInvalidation, serializeInvalidation, signInvalidation, verifyInvalidation } from '../../../src/protocol/index.js';
import { findExecutable } from '../../support/require-binary.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const EXAMPLE = join(ROOT, 'examples', 'django_subscriber.py');

/** python3 from PATH; a missing one fails with what to install, never skips. */
function python(args: string[], input?: string): string {
  const binary = findExecutable('python3');
  if (!binary) throw new Error('python3 not found on PATH: install it with `apt-get install python3` (the Django example is checked with it)');
  return execFileSync(binary, args, { cwd: ROOT, encoding: 'utf8', stdio: 'pipe', input, env: { PATH: process.env.PATH ?? '', PYTHONDONTWRITEBYTECODE: '1' } });
}

/**
 * examples/django_subscriber.py (docs/python-subscriber.md) on a bare python3: redis-py, boto3
 * and Django are not installed on CI, so the file imports them only inside the functions that use
 * them, and its verification functions are checked here with the standard library alone.
 */
describe('examples/django_subscriber.py', () => {
  it('compiles', () => {
    // py_compile writes no __pycache__ here: -X pycache_prefix keeps the bytecode out of the tree.
    expect(() => python(['-X', 'pycache_prefix=/tmp/rr-pycache', '-m', 'py_compile', EXAMPLE])).not.toThrow();
  });

  it('passes its self-test, which signs the test vectors of docs/protocol.md to the documented values', () => {
    const out = python([EXAMPLE, '--self-test']);

    expect(out).toContain('self-test passed');
    const documented = [...readFileSync(join(ROOT, 'docs', 'protocol.md'), 'utf8').matchAll(/→ `sig` = `(v1=[A-Za-z0-9_-]{43})`/g)].map((m) => m[1]);
    expect(documented).toHaveLength(2);
    documented.forEach((sig, i) => expect(out).toContain(`ok  vector ${i + 1}: sig = ${sig}`));
  });

  it('imports nothing beyond the standard library at module level', () => {
    const thirdParty = python([
      '-c',
      `import sys; sys.path.insert(0, ${JSON.stringify(join(ROOT, 'examples'))}); import django_subscriber
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

    const script = `import json, sys; sys.path.insert(0, ${JSON.stringify(join(ROOT, 'examples'))}); import django_subscriber as d
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
