import { it } from 'vitest';
import { fixtureSecret } from './fixture-values.js';

it('writes a registered value to process.stdout', () => {
  process.stdout.write(`connecting with ${fixtureSecret('STDOUT')}\n`);
});
