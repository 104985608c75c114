import { it } from 'vitest';
import { registerSecretValue } from '../../../support/leak-guard.js';
import { fixtureSecret } from './fixture-values.js';

it('registers a thousand values (the prefix-index scan) and prints one of them', () => {
  const base = fixtureSecret('MANY', { register: false });
  for (let i = 0; i < 1_000; i += 1) registerSecretValue(`${base}-${i}`, `fixture bulk value ${i}`);
  process.stderr.write(`rotated to ${base}-777 at last\n`);
});
