// The wire contract shared by the worker and every subscriber; docs/protocol.md is its spec.
export { DEFAULT_KEY_PREFIX, protocolKeys, type ProtocolKeys } from './keys.js';
export {
  PROTOCOL_VERSION,
  MAX_MESSAGE_LENGTH,
  invalidationSchema,
  createInvalidation,
  assertInvalidation,
  parseInvalidation,
  serializeInvalidation,
  type Invalidation,
  type InvalidationFields,
  type ParseInvalidationResult,
} from './invalidation.js';
export {
  SIGNING_KEYS_ENV,
  MIN_SIGNING_KEY_BYTES,
  DEFAULT_MAX_AGE_MS,
  MAX_CLOCK_SKEW_MS,
  canonicalString,
  extendedCanonicalString,
  signInvalidation,
  signIfKeyed,
  verifyInvalidation,
  verifyInvalidationObject,
  createInvalidationVerifier,
  type VerifyFailureCode,
  type VerifyResult,
  type VerifyOptions,
  type InvalidationVerifier,
} from './signing.js';
export {
  DEFAULT_DEDUPE_TTL_SECONDS,
  PUBLISH_SCRIPT,
  publishInvalidation,
  publishIfNewer,
  readPublishedVersions,
  readPublishedVersion,
  type PublishOptions,
  type PublishOutcome,
  type ConfirmingRead,
  type FastPublishOptions,
  type FastPublishOutcome,
} from './publish-script.js';
export {
  InvalidKeyPrefixError,
  InvalidSigningKeysError,
  InvalidVerifyOptionsError,
  InvalidInvalidationError,
  PublishError,
  VersionsReadError,
} from './errors.js';
export {
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_PRESENCE_TTL_MS,
  DEFAULT_LAST_SEEN_RETENTION_MS,
  ACK_FIELD_PREFIX,
  PRESENCE_FIELDS,
  encodeAck,
  decodeAck,
  encodePresence,
  decodePresence,
  isValidInstanceId,
  type InstanceMetadata,
  type PresenceAck,
  type DecodedPresence,
} from './presence.js';
export { INVALIDATION_FIELD_LIMITS, isInvalidationTime } from './invalidation.js';
export { EXTENSION_FIELDS, hasExtensions, type ExtensionField } from './extensions.js';
export { DEFAULT_CLOCK_SKEW_TOLERANCE_MS, type VerifyFailure } from './signing.js';
