import { it } from 'vitest';
import { createCredentialCache } from '../../../../src/sdk/cache/credential-cache.js';
import { fixtureSecret } from './fixture-values.js';

it('reads status() of a cache whose configuration holds a registered value', async () => {
  // A secret id is not secret; configured as one here only to make status() carry the value.
  const cache = createCredentialCache({ secrets: { db: { secretId: fixtureSecret('STATUS') } } });
  cache.status();
  await cache.stop();
});
