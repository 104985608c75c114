import type { Logger } from '../../common/index.js';

/**
 * Runs one `emit` of the cache's events: a throwing listener (an app's 'rotated' handler, say)
 * must not turn a successful refresh into a failure, so its throw is logged, by error name only,
 * and ignored.
 */
export function emitSafely(logger: Logger, emit: () => unknown, event: string): void {
  try {
    emit();
  } catch (error) {
    logger.error({ event, error: error instanceof Error ? error.name : 'unknown' }, `a "${event}" listener threw; ignored`);
  }
}
