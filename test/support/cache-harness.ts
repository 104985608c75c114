import { captureLogger, type CapturedLogger } from './log-capture.js';
import { createCredentialCache, type CredentialCache } from '../../src/sdk/cache/credential-cache.js';
import type { CredentialCacheOptions } from '../../src/sdk/cache/types.js';
import { SecretsManagerClientDouble } from './secrets-manager-client-double.js';

export interface Harness {
  sm: SecretsManagerClientDouble;
  cache: CredentialCache;
  logs: CapturedLogger;
  /** GetSecretValue calls so far. */
  reads(): number;
}

/**
 * One cache over a Secrets Manager client double holding `app/db` (a JSON secret, logical name `db`), no
 * Redis (these tests drive the cache through its public API), and a captured debug logger.
 */
export function harness(overrides: Partial<CredentialCacheOptions> = {}, setup?: (sm: SecretsManagerClientDouble) => void): Harness {
  const sm = new SecretsManagerClientDouble();
  sm.create('app/db');
  setup?.(sm);
  const logs = captureLogger({ component: 'cache-test' });
  const cache = createCredentialCache({
    secrets: { db: { secretId: 'app/db', json: true } },
    secretsClient: sm.client,
    logger: logs.logger,
    ...overrides,
  });
  return { sm, cache, logs, reads: () => sm.calls.length };
}

/** Every secret value (and its password) that occurs in `text`: must stay empty. */
export function leaks(text: string, values: readonly string[]): string[] {
  const needles = values.flatMap((value) => {
    try {
      const parsed = JSON.parse(value) as { password?: string };
      return parsed.password ? [value, parsed.password] : [value];
    } catch {
      return [value];
    }
  });
  return needles.filter((needle) => text.includes(needle));
}
