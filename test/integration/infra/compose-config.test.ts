import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ensureDebianPackage } from '../../support/debian-package.js';

/**
 * Issue 14: docker-compose.yml validated by a real Compose implementation, not only by the
 * structural checks of test/unit/infra/container.test.ts. No Docker engine runs here; `config`
 * needs none. The implementation is Debian's `docker-compose` (installed by this setup when
 * missing), which reads the Compose file format without the v2-only top-level `name`.
 */
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

describe('docker-compose.yml under a real Compose implementation (Debian docker-compose)', () => {
  const compose = ensureDebianPackage('docker-compose', 'docker-compose');

  it('passes `docker-compose config -q`', () => {
    const result = spawnSync(compose, ['-f', 'docker-compose.yml', 'config', '-q'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(result.stderr.trim()).toBe('');
    expect(result.status).toBe(0);
  });

  it('resolves to the seven services, with the YAML anchors merged as Compose reads them', () => {
    const result = spawnSync(compose, ['-f', 'docker-compose.yml', 'config'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    const resolved = parse(result.stdout) as { services: Record<string, { image?: string; environment?: Record<string, string> }> };
    expect(Object.keys(resolved.services).sort()).toEqual(['app', 'init', 'localstack', 'mailpit', 'postgres', 'valkey', 'worker']);
    expect(resolved.services['worker']?.image).toBe('rotation-relay:local');
    expect(resolved.services['worker']?.environment?.['AWS_ENDPOINT_URL']).toBe('http://localstack:4566');
  });
});
