import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runBarePython } from '../../support/python-env.js';

const EXAMPLE = join(fileURLToPath(new URL('../../..', import.meta.url)), 'examples', 'django_subscriber.py');

/**
 * examples/django_subscriber.py, the thin Django example over the package: what it says and refuses
 * before Django is imported, on a bare python3. Its Django run is covered by the demo test
 * (`npm run demo -- --django`, test/integration/demo/demo.test.ts), under Debian's python3.
 */
describe('examples/django_subscriber.py', () => {
  it('--help names every environment variable it reads, and what each is', () => {
    const out = runBarePython([EXAMPLE, '--help']);

    for (const name of ['APP_DB_HOST', 'APP_DB_PORT', 'APP_CACHE_REDIS_URL', 'APP_SMTP_HOST', 'APP_SMTP_PORT', 'APP_DB_SECRET', 'APP_CACHE_SECRET', 'APP_MAIL_SECRET', 'ROTATION_RELAY_REDIS_URL', 'ROTATION_RELAY_SIGNING_KEYS']) {
      expect(out).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
    }
  });

  it('without its environment exits 2 with one line naming what to set, before importing Django', () => {
    let failure: { status?: number; stderr?: string } = {};
    try {
      runBarePython([EXAMPLE]);
    } catch (error) {
      failure = error as typeof failure;
    }

    expect(failure.status).toBe(2);
    expect(failure.stderr?.trim()).toMatch(/^django_subscriber\.py: set APP_DB_HOST, .*ROTATION_RELAY_SIGNING_KEYS \(--help says what each is\)$/);
    expect(failure.stderr).not.toContain('Traceback');
  });

  it('uses the package: it imports rotation_relay, and implements no protocol of its own', () => {
    const source = readFileSync(EXAMPLE, 'utf8');

    expect(source).toContain('from rotation_relay.django import get_cache');
    expect(source).not.toMatch(/\bhmac\b|hashlib|def verify/);
  });
});
