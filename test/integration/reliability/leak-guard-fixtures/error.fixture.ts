import { EventEmitter } from 'node:events';
import { it } from 'vitest';
import { SecretNotFoundError } from '../../../../src/secrets/errors.js';
import { fixtureSecret } from './fixture-values.js';

it('builds a typed error whose message quotes a registered value, and drops it', () => {
  void new SecretNotFoundError(fixtureSecret('ERROR'));
});

it('emits an error quoting a registered value on an EventEmitter', () => {
  const emitter = new EventEmitter();
  emitter.on('error', () => undefined);
  emitter.emit('error', new Error(`WRONGPASS for ${fixtureSecret('EMITTED')}`));
});
