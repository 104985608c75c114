// Public surface of src/events: body → ParseResult, secret-id helpers, and the inspect line.
export type { EventAction, EventFamily, ParseResult, RejectedEvent, RotationEvent } from './types.js';
export { parseEventBody } from './parse-event.js';
export { toInspectLine } from './inspect-line.js';
export { EVENT_LIMITS } from './limits.js';
export type { SecretArnParts } from './secret-id.js';
export {
  isPartialSecretArn,
  isSecretName,
  isSecretsManagerArn,
  parseSecretArn,
  secretIdMatches,
  secretNameFromArn,
  secretNameFromId,
} from './secret-id.js';
