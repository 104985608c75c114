import { isRedisAuthError } from '../../redis/index.js';
import { ConnectionTerminatedError } from '../rotating/index.js';
import type { CredentialFollower } from './credential-follower.js';

/** The `'error'` side of a node-redis client or Cluster, which both emit `'error'` and count listeners. */
interface ErrorEmitter {
  prependListener(event: 'error', listener: (err: unknown) => void): unknown;
  listenerCount(event: 'error'): number;
}

/**
 * The rotating client's own `'error'` listener, first in line: a refused login starts the
 * recovery, a socket an emergency revoke dropped is expected (node-redis reconnects by itself),
 * and node-redis' rule is kept for everything else: an error nobody else listens to is thrown.
 */
export function listenForLoginErrors(emitter: ErrorEmitter, follower: CredentialFollower): void {
  emitter.prependListener('error', (err: unknown) => {
    if (isRedisAuthError(err)) {
      void follower.loginRefused(err as Error);
      return;
    }
    if (err instanceof ConnectionTerminatedError) return;
    if (emitter.listenerCount('error') === 1) throw err;
  });
}
