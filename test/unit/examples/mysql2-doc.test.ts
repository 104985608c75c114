import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPool } from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { CACHE_DEFAULTS } from '../../../src/sdk/cache/options.js';
import { MYSQL_DEFAULT_PORT } from '../../../src/sdk/mysql2/mysql2-credentials.js';
import { typecheckSnippet } from '../../support/doc-snippet.js';

/**
 * docs/use-with-mysql2.md describes what exists: its example compiles against the public entry
 * points (strict, NodeNext), its links resolve, and every default it states is the one mysql2
 * and the cache really apply — a mysql2 upgrade that changed one fails here, not in a user's app.
 */
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const DOC = 'docs/use-with-mysql2.md';
const text = readFileSync(join(ROOT, DOC), 'utf8');

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchors(markdown: string): Set<string> {
  const slugs = new Set<string>();
  for (const [, heading] of markdown.matchAll(/^#{1,6} (.+)$/gm)) {
    slugs.add((heading ?? '').toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-'));
  }
  return slugs;
}

describe(DOC, () => {
  it('has a complete example that type-checks against rotation-relay, rotation-relay/mysql2 and mysql2', () => {
    const blocks = [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map(([, code]) => code ?? '');
    expect(blocks).toHaveLength(1);
    const [example = ''] = blocks;
    for (const part of ['createCredentialCache(', 'await cache.start()', 'createRotatingMysql2Pool(cache', 'pool.query', 'pool.getConnection()', 'pool.end()']) expect(example).toContain(part);
    expect(() => typecheckSnippet(example)).not.toThrow();
  }, 60_000);

  it('links only to files and headings that exist', () => {
    const links = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map(([, target]) => target ?? '').filter((target) => !/^https?:/.test(target));
    expect(links.length).toBeGreaterThan(0);
    for (const target of links) {
      const [path, anchor] = target.split('#');
      const file = path ? resolve(dirname(join(ROOT, DOC)), path) : join(ROOT, DOC);
      expect(existsSync(file), `${DOC} links to ${target}`).toBe(true);
      if (anchor && file.endsWith('.md')) expect(anchors(readFileSync(file, 'utf8')), `${DOC} links to ${target}`).toContain(anchor);
    }
  });

  it('states the defaults mysql2 and the cache really apply', async () => {
    const pool = createPool({ host: '127.0.0.1' }); // connects lazily: no server needed
    try {
      const { config } = pool.pool as unknown as {
        config: { connectionLimit: number; waitForConnections: boolean; queueLimit: number; maxIdle: number; idleTimeout: number; connectionConfig: { connectTimeout: number } };
      };
      expect(text).toContain(`\`connectionLimit\` ${config.connectionLimit}, \`waitForConnections\` ${config.waitForConnections}`);
      expect(text).toContain(`\`queueLimit\` ${config.queueLimit} (unbounded), \`maxIdle\` = \`connectionLimit\``);
      expect(config.maxIdle).toBe(config.connectionLimit);
      expect(text).toContain(`\`idleTimeout\` ${config.idleTimeout} ms`);
      expect(text).toContain(`\`connectTimeout\` ${config.connectionConfig.connectTimeout} ms`);
    } finally {
      await pool.end();
    }
    expect(text).toContain(`(else ${MYSQL_DEFAULT_PORT})`);
    expect(text).toContain(`\`authFailureMinIntervalMs\` (default ${CACHE_DEFAULTS.authFailureMinIntervalMs} ms)`);
    expect(text).toContain(`\`pendingTtlMs\` (default ${CACHE_DEFAULTS.pendingTtlMs} ms)`);
  });
});
