import { createClient, DEFAULT_RESP } from 'redis';
import { describe, expect, it } from 'vitest';
import { CACHE_DEFAULTS } from '../../../src/sdk/cache/options.js';
import { DEFAULT_AUTH_RECOVERY_TIMEOUT_MS } from '../../../src/sdk/node-redis/node-redis-client.js';
import { brokenLinks, localLinks, readDoc, tsBlocks, typecheckSnippet } from '../../support/doc-snippet.js';

/**
 * docs/use-with-node-redis.md describes what exists: its example compiles against the public
 * entry points and node-redis' own types (strict, NodeNext), its links resolve, and the defaults
 * it states are the ones node-redis, the client and the cache apply — a node-redis upgrade that
 * changed one fails here, not in a user's app.
 */
const DOC = 'docs/use-with-node-redis.md';
const text = readDoc(DOC);

describe(DOC, () => {
  it('has a complete example that type-checks against rotation-relay, rotation-relay/node-redis and redis', () => {
    const blocks = tsBlocks(text);
    expect(blocks).toHaveLength(1);
    const [example = ''] = blocks;
    for (const part of ['createCredentialCache(', 'await cache.start()', 'createRotatingNodeRedis(cache', 'createRotatingNodeRedisCluster(cache', '.connect()', '.close()']) expect(example).toContain(part);
    expect(() => typecheckSnippet(example)).not.toThrow();
  }, 60_000);

  it('links only to files and headings that exist', () => {
    expect(localLinks(DOC).length).toBeGreaterThan(0);
    expect(brokenLinks(DOC)).toEqual([]);
  });

  it('states the defaults node-redis, the client and the cache really apply', () => {
    const client = createClient(); // never connected: no server needed
    const commandTimeout = (client as unknown as { _commandOptions?: { timeout?: number } })._commandOptions?.timeout;
    expect(text).toContain(`RESP${DEFAULT_RESP} (\`HELLO ${DEFAULT_RESP} AUTH …\``);
    expect(text).toContain(`rejected if not sent within\n${commandTimeout} ms (\`commandOptions.timeout\`)`);
    expect(text).toContain(`| \`options.authRecoveryTimeoutMs\` | ${DEFAULT_AUTH_RECOVERY_TIMEOUT_MS} ms |`);
    expect(text).toContain(`\`authFailureMinIntervalMs\`, default ${CACHE_DEFAULTS.authFailureMinIntervalMs} ms`);
    expect(text).toContain(`cached \`pendingTtlMs\`,\n   default ${CACHE_DEFAULTS.pendingTtlMs} ms`);
  });
});
