import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  canonicalString,
  createInvalidation,
  extendedCanonicalString,
  parseInvalidation,
  serializeInvalidation,
  signInvalidation,
  verifyInvalidation,
  type Invalidation,
} from '../../../src/protocol/index.js';
import { runBarePython } from '../../support/python-env.js';
import { KEY_A, KEY_B, PUBLISHED_MS, VECTOR_KEY, VECTOR_SIG, baseInvalidation } from '../../support/protocol-fixtures.js';

/**
 * The `terminateOld` extension (docs/protocol.md, "Signed extensions"): optional, covered by its
 * own signature `xsig` when present, and invisible to subscribers that predate it — `sig` still
 * covers exactly the nine documented lines, so they verify and act on the message as before.
 */

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
/** Vector 3 of docs/protocol.md: vector 1 with `terminateOld: true`. */
const VECTOR_3_XSIG = 'v1=BPndIb-a4FjdPGISpQvujvmS5K5bJKqUcq5qv_RFaGg';
const now = () => PUBLISHED_MS + 1_000;

function flagged(keys: string[] = [KEY_A], overrides: Partial<Invalidation> = {}): Invalidation {
  return signInvalidation(baseInvalidation({ terminateOld: true, ...overrides }), keys);
}

function verify(raw: string, keys: string[] = [KEY_A]) {
  return verifyInvalidation(raw, { keys, now });
}

/** What a subscriber written before the extension does: rebuild the nine lines and compare `sig`. */
function oldSubscriberAccepts(raw: string, key: string): boolean {
  const msg = JSON.parse(raw) as Record<string, unknown>;
  const fields = ['id', 'secretArn', 'secretName', 'versionId', 'reason', 'eventId', 'eventTime', 'publishedAt'];
  const canonical = ['1', ...fields.map((f) => (f === 'versionId' ? String(msg[f] ?? '') : String(msg[f])))].join('\n');
  return msg['sig'] === `v1=${createHmac('sha256', key).update(canonical, 'utf8').digest('base64url')}`;
}

describe('terminateOld: signing', () => {
  it('signs the documented vector 3: sig unchanged from vector 1, xsig over the extra line', () => {
    // Act
    const signed = flagged([VECTOR_KEY]);

    // Assess
    expect(signed.sig).toBe(VECTOR_SIG);
    expect(signed.xsig).toBe(VECTOR_3_XSIG);
    expect(extendedCanonicalString(signed)).toBe(`${canonicalString(signed)}\nterminateOld=true`);
    const docs = readFileSync(join(ROOT, 'docs', 'protocol.md'), 'utf8');
    expect(docs).toContain(VECTOR_3_XSIG);
    expect(docs).toContain(serializeInvalidation(signed));
  });

  it('writes no xsig, and the same bytes as before the extension, for a message without it', () => {
    // Prepare
    const stale = { ...baseInvalidation(), xsig: VECTOR_3_XSIG };

    // Act
    const signed = signInvalidation(stale, [VECTOR_KEY]);

    // Assess
    expect(signed.xsig).toBeUndefined();
    expect(serializeInvalidation(signed)).not.toContain('terminateOld');
    expect(serializeInvalidation(signed)).toBe(
      '{"v":1,"id":"3f2b8c1e-6a4d-4f7e-9b1a-2c5d8e0f1a2b","secretArn":"arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf","secretName":"prod/db","versionId":"a1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d","reason":"AWSCURRENT moved to version a1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d","eventId":"6f1d2c3b-4a5e-4f60-8192-a3b4c5d6e7f8","eventTime":"2024-05-01T12:00:00Z","publishedAt":"2024-05-01T12:00:01.250Z","sig":"v1=1kw0_-uuNkTjmYKdPsgZUJ1Uw5_nIoYs9UkB2V9RdCw"}',
    );
  });

  it('builds a publishable message with the flag through createInvalidation', () => {
    // Act
    const built = createInvalidation({ ...baseInvalidation(), terminateOld: true });

    // Assess
    expect(built.terminateOld).toBe(true);
    expect(parseInvalidation(serializeInvalidation(signInvalidation(built, [KEY_A])))).toMatchObject({ ok: true, invalidation: { terminateOld: true } });
  });
});

describe('terminateOld: verification', () => {
  it('verifies a signed message with the flag, and keeps the flag', () => {
    // Act
    const result = verify(serializeInvalidation(flagged()));

    // Assess
    expect(result).toMatchObject({ ok: true, signatureVerified: true, invalidation: { terminateOld: true } });
  });

  it('verifies with any configured key, as sig does (key rotation)', () => {
    expect(verify(serializeInvalidation(flagged([KEY_B])), [KEY_A, KEY_B])).toMatchObject({ ok: true });
  });

  it('verifies a message without the flag exactly as before, the flag absent', () => {
    // Act
    const result = verify(serializeInvalidation(signInvalidation(baseInvalidation(), [KEY_A])));

    // Assess
    expect(result.ok).toBe(true);
    expect(result.ok && result.invalidation.terminateOld).toBeUndefined();
  });

  const TAMPERED: Array<[string, (genuine: Invalidation) => unknown]> = [
    ['the flag added to a genuine message (no xsig)', (m) => ({ ...signInvalidation(baseInvalidation(), [KEY_A]), terminateOld: m.terminateOld })],
    ['the flag added with the xsig of another message', (m) => ({ ...signInvalidation(baseInvalidation({ id: '0b6c2f4e-1d3a-4c5b-9e7f-8a9b0c1d2e3f' }), [KEY_A]), terminateOld: true, xsig: m.xsig })],
    ['the flag dropped, its xsig kept', ({ terminateOld: _flag, ...m }) => m],
    ['xsig signed with an unknown key', (m) => ({ ...m, xsig: flagged([KEY_B]).xsig })],
    ['xsig removed', ({ xsig: _xsig, ...m }) => m],
    ['xsig not canonical base64url', (m) => ({ ...m, xsig: `${(m.xsig ?? '').slice(0, -1)}x` })],
  ];

  it.each(TAMPERED)('rejects %s as bad-signature', (_label, tamper) => {
    // Act
    const result = verify(JSON.stringify(tamper(flagged())));

    // Assess
    expect(result).toMatchObject({ ok: false, code: 'bad-signature' });
  });

  it('rejects terminateOld other than true as malformed', () => {
    // Prepare
    const raw = JSON.stringify({ ...flagged(), terminateOld: false });

    // Act
    const result = verify(raw);

    // Assess
    expect(result).toMatchObject({ ok: false, code: 'malformed' });
  });

  it('passes the flag unverified in unsigned mode (the cache then ignores it)', () => {
    // Prepare
    const raw = serializeInvalidation(baseInvalidation({ terminateOld: true }));

    // Act
    const result = verifyInvalidation(raw, { keys: [], now });

    // Assess
    expect(result).toMatchObject({ ok: true, signatureVerified: false, invalidation: { terminateOld: true } });
  });
});

describe('terminateOld: subscribers that predate it', () => {
  it('verify a flagged message with the nine-line canonical string alone, and so act on it as a plain refresh', () => {
    // Prepare
    const raw = serializeInvalidation(flagged([KEY_A]));

    // Assess: sig covers what an old subscriber rebuilds, whatever the extension says.
    expect(oldSubscriberAccepts(raw, KEY_A)).toBe(true);
    expect(oldSubscriberAccepts(raw, KEY_B)).toBe(false);
  });

  it('the Python package verifies it too, and exposes the flag', () => {
    // Prepare
    const key = 'k'.repeat(40);
    const fresh = createInvalidation({ ...baseInvalidation(), terminateOld: true });
    const raw = serializeInvalidation(signInvalidation(fresh, [key]));
    const script = `import sys; import rotation_relay.protocol as d
msg = d.verify(sys.stdin.read(), [sys.argv[1].encode()])
print(msg["secretName"], msg.get("terminateOld"))`;

    // Act
    const out = runBarePython(['-c', script, key], raw);

    // Assess
    expect(out.trim()).toBe('prod/db True');
  });

  it('a message signed before the extension existed verifies with the new code (documented vector 1 bytes)', () => {
    // Prepare: the bytes of docs/protocol.md's example, as an old worker writes them.
    const docs = readFileSync(join(ROOT, 'docs', 'protocol.md'), 'utf8');
    const example = /```json\n(\{"v":1,"id":"3f2b8c1e[^\n]*)\n```/.exec(docs)?.[1] ?? '';

    // Act
    const result = verifyInvalidation(example, { keys: [VECTOR_KEY], now });

    // Assess
    expect(example).not.toContain('terminateOld');
    expect(result).toMatchObject({ ok: true, signatureVerified: true });
  });
});
