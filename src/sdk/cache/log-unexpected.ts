import type { Logger } from '../../common/index.js';
import { safeMessage } from './secret-state.js';

// Its own file because every part of the cache that starts work nobody awaits (the listener
// link, the reconciler, the cache itself) ends that work's promise chain here.

/** Last line of defence for fire-and-forget work: a bug must be logged, never crash the app. */
export function logUnexpected(logger: Logger, what: string, error: unknown): void {
  logger.error({ code: 'UNEXPECTED', what }, `${what} failed unexpectedly: ${safeMessage(error)}`);
}
