import { createPool } from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { CACHE_DEFAULTS } from '../../../src/sdk/cache/options.js';
import { MYSQL_DEFAULT_PORT } from '../../../src/sdk/mysql2/mysql2-credentials.js';
import { brokenLinks, localLinks, readDoc, tsBlocks, typecheckSnippet } from '../../support/doc-snippet.js';

/**
 * docs/use-with-mysql2.md describes what exists: its example compiles against the public entry
 * points (strict, NodeNext), its links resolve, and every default it states is the one mysql2
 * and the cache really apply — a mysql2 upgrade that changed one fails here, not in a user's app.
 */
const DOC = 'docs/use-with-mysql2.md';
const text = readDoc(DOC);

describe(DOC, () => {
  it('has a complete example that type-checks against rotation-relay, rotation-relay/mysql2 and mysql2', () => {
    const blocks = tsBlocks(text);
    expect(blocks).toHaveLength(1);
    const [example = ''] = blocks;
    for (const part of ['createCredentialCache(', 'await cache.start()', 'createRotatingMysql2Pool(cache', 'pool.query', 'pool.getConnection()', 'pool.end()']) expect(example).toContain(part);
    expect(() => typecheckSnippet(example)).not.toThrow();
  }, 60_000);

  it('links only to files and headings that exist', () => {
    expect(localLinks(DOC).length).toBeGreaterThan(0);
    expect(brokenLinks(DOC)).toEqual([]);
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
