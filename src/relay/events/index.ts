// Public surface of src/relay/events: body → ParseResult and the inspect line. The ARN helpers live in
// src/secrets (arn.ts): the SDK side uses them too, and may not import the relay's event parsing.
export type { EventAction, EventFamily, ParseResult, RejectedEvent, RotationEvent } from './types.js';
export { parseEventBody } from './parse-event.js';
export { toInspectLine } from './inspect-line.js';
export { EVENT_LIMITS } from './limits.js';
export { shortText } from './text.js';
