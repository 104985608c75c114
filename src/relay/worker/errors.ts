import { RotationRelayError } from '../../common/index.js';

/** The queue is missing or unreadable at start-up: a deployment fault to fix, not to retry. */
export class QueueUnavailableError extends RotationRelayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('QUEUE_UNAVAILABLE', message, options);
  }
}
