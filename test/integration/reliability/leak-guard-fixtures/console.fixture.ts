import { it } from 'vitest';
import { fixtureSecret } from './fixture-values.js';

it('logs an object holding a registered value with console.warn', () => {
  console.warn('credentials:', { username: 'app', password: fixtureSecret('CONSOLE') });
});
