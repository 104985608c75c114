import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { InvalidInvalidationError } from './errors.js';
import { hasExtensions } from './extensions.js';

/** The protocol version this code speaks. Bumped only for changes old subscribers cannot ignore. */
export const PROTOCOL_VERSION = 1;

/**
 * Longest message (in UTF-16 code units) a subscriber parses. A real invalidation is well under
 * 2 KiB; the cap keeps a hostile publisher from making every subscriber parse megabytes. The
 * worker refuses to build a message longer than this (see {@link createInvalidation}), so no
 * message it stores in `{P}:versions` or publishes is one a subscriber would reject.
 */
export const MAX_MESSAGE_LENGTH = 64 * 1024;

/**
 * Longest value, in UTF-16 code units, of each field the worker fills in an invalidation; the
 * event parser (src/relay/events/limits.ts) rejects a body whose fields exceed them, so an oversized
 * field is refused at the edge instead of being broadcast. Each is far above what AWS produces:
 * a secret ARN is at most 2048 characters (DescribeSecret's `SecretId` maximum), a name 512, a
 * version id 64, an EventBridge event id is a 36-character UUID. Together, even with every
 * character escaped by JSON (6 characters each), they stay far below {@link MAX_MESSAGE_LENGTH}.
 */
export const INVALIDATION_FIELD_LIMITS = {
  secretArn: 2048,
  secretName: 512,
  versionId: 64,
  reason: 1024,
  eventId: 256,
  eventTime: 64,
} as const;

/** `sig` as signing.ts writes it: `v1=` and 43 base64url characters. */
const SIG_LENGTH = 46;

// Signed fields are joined with "\n" into the canonical string (see signing.ts). Refusing line
// breaks in every one of them keeps that join unambiguous: no two different invalidations can
// produce the same canonical string by moving text across a separator.
const LINE = /^[^\r\n]*$/;
const line = () => z.string().regex(LINE, 'must not contain a line break');
const nonEmptyLine = () => line().min(1);
const eventTimeSchema = z.iso.datetime({ offset: true });

// Loose on purpose (partition, region and account are not checked): subscribers only need the
// `:secret:NAME-XXXXXX` tail to match configured names, and AWS owns ARN validity.
const SECRET_ARN = /^arn:[^:\s]+:secretsmanager:[^:\s]*:[^:\s]*:secret:\S+$/;

/**
 * Zod schema of a v1 invalidation message. Unknown fields are stripped, not rejected: a v1
 * subscriber must keep working when a later publisher adds a field (additive changes keep v=1).
 */
export const invalidationSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  /** Unique per broadcast (a random UUID), for logs and for correlating acks. */
  id: z.uuid(),
  /** Full ARN of the secret; the key of `{P}:versions`. */
  secretArn: line().regex(SECRET_ARN, 'must be a Secrets Manager secret ARN'),
  /** The secret's name (the ARN's resource part without the `-XXXXXX` suffix). */
  secretName: nonEmptyLine(),
  /** The AWSCURRENT version confirmed by the worker; absent when it could not be confirmed. */
  versionId: nonEmptyLine().optional(),
  /** One human sentence saying why this was published. */
  reason: line(),
  /** The EventBridge event id that caused it (or a generated id for a manual publish). */
  eventId: nonEmptyLine(),
  /** When the causing event happened (ISO-8601, with `Z` or an offset). */
  eventTime: eventTimeSchema,
  /** When the worker built this message (ISO-8601); the replay guard measures age from it. */
  publishedAt: z.iso.datetime({ offset: true }),
  /**
   * Signed extension (docs/protocol.md, "Signed extensions"): close the connections that use any
   * other version of the secret at once instead of after their work — an emergency revoke of a
   * leaked credential (`rotation-relay publish --terminate-old`). Only `true`; absent otherwise.
   */
  terminateOld: z.literal(true).optional(),
  /** `v1=<base64url(HMAC-SHA256)>` over the canonical string; absent when signing is off. */
  sig: z.string().optional(),
  /**
   * `v1=<base64url(HMAC-SHA256)>` over the canonical string followed by the extension lines
   * (`extensions.ts`); present, with signing on, exactly when an extension field is.
   */
  xsig: z.string().optional(),
});

/** One broadcast: "secret X changed, fetch it again". Never carries a secret value. */
export type Invalidation = z.infer<typeof invalidationSchema>;

/** What the worker knows about a change; `createInvalidation` adds the rest. */
export type InvalidationFields = Pick<Invalidation, 'secretArn' | 'secretName' | 'versionId' | 'reason' | 'eventId' | 'eventTime' | 'terminateOld'>;

export type ParseInvalidationResult = { ok: true; invalidation: Invalidation } | { ok: false; reason: string };

/**
 * Builds a validated, unsigned invalidation: fills `v`, a random `id` and `publishedAt` from
 * `now`. Throws {@link InvalidInvalidationError} naming the field when `fields` are unusable,
 * because an invalidation subscribers would reject must never be published.
 */
export function createInvalidation(fields: InvalidationFields, now: () => number = Date.now): Invalidation {
  const candidate = {
    v: PROTOCOL_VERSION,
    id: randomUUID(),
    ...pickFields(fields),
    publishedAt: new Date(now()).toISOString(),
  };
  return assertPublishable(assertInvalidation(candidate));
}

/**
 * What subscribers accept is wider than what the worker may send: the field limits keep every
 * message far below {@link MAX_MESSAGE_LENGTH}, and the length is still measured as published
 * (serialized, with the longest `sig` there is) so the guarantee does not rest on arithmetic.
 */
function assertPublishable(invalidation: Invalidation): Invalidation {
  for (const [field, max] of Object.entries(INVALIDATION_FIELD_LIMITS) as Array<[keyof typeof INVALIDATION_FIELD_LIMITS, number]>) {
    const value = invalidation[field];
    if (value !== undefined && value.length > max) {
      throw new InvalidInvalidationError(`invalidation is invalid: ${field} is ${value.length} characters, more than the ${max} allowed`);
    }
  }
  const longestSignatures = { sig: 'v'.repeat(SIG_LENGTH), ...(hasExtensions(invalidation) ? { xsig: 'v'.repeat(SIG_LENGTH) } : {}) };
  const length = serializeInvalidation({ ...invalidation, ...longestSignatures }).length;
  if (length > MAX_MESSAGE_LENGTH) {
    throw new InvalidInvalidationError(`invalidation is invalid: it would be ${length} characters, more than the ${MAX_MESSAGE_LENGTH} a subscriber parses`);
  }
  return invalidation;
}

/**
 * True when `value` is a date-time the v1 schema accepts for `eventTime` (ISO-8601 with `Z` or an
 * offset, at most {@link INVALIDATION_FIELD_LIMITS}.eventTime characters): the event parser uses it
 * so that a body whose time could never be published is rejected before any AWS call.
 */
export function isInvalidationTime(value: string): boolean {
  return value.length <= INVALIDATION_FIELD_LIMITS.eventTime && eventTimeSchema.safeParse(value).success;
}

/** Validates an invalidation this process is about to send; throws {@link InvalidInvalidationError}. */
export function assertInvalidation(value: unknown): Invalidation {
  const result = invalidationSchema.safeParse(value);
  if (!result.success) {
    throw new InvalidInvalidationError(`invalidation is invalid: ${describeIssue(result.error)}`, { cause: result.error });
  }
  return result.data;
}

/**
 * Parses one received message. Never throws: anything unusable becomes `{ ok: false, reason }`
 * with one sentence naming the problem (for a log line or a metric dimension).
 */
export function parseInvalidation(raw: string): ParseInvalidationResult {
  if (typeof raw !== 'string') return { ok: false, reason: 'message is not a string' };
  if (raw.length > MAX_MESSAGE_LENGTH) {
    return { ok: false, reason: `message is ${raw.length} characters, more than the ${MAX_MESSAGE_LENGTH} allowed` };
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, reason: 'message is not JSON' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, reason: 'message is not a JSON object' };
  }
  const version = (json as { v?: unknown }).v;
  if (typeof version === 'number' && version !== PROTOCOL_VERSION) {
    return { ok: false, reason: `unsupported protocol version v=${version} (this code speaks v=${PROTOCOL_VERSION})` };
  }
  const result = invalidationSchema.safeParse(json);
  if (!result.success) return { ok: false, reason: describeIssue(result.error) };
  return { ok: true, invalidation: result.data };
}

/**
 * The JSON text of an invalidation, fields in a fixed order. This exact text is what gets stored
 * in `{P}:versions` and published, so every reader sees the same bytes the worker signed.
 */
export function serializeInvalidation(invalidation: Invalidation): string {
  const { v, id, secretArn, secretName, versionId, reason, eventId, eventTime, publishedAt, terminateOld, sig, xsig } = invalidation;
  // Absent fields stay absent (JSON.stringify drops undefined): a message without extensions is
  // byte for byte what it was before they existed.
  return JSON.stringify({ v, id, secretArn, secretName, versionId, reason, eventId, eventTime, publishedAt, terminateOld, sig, xsig });
}

// Copies only the known fields, so a caller's extra properties (or a stray `sig`) never leak in.
function pickFields(fields: InvalidationFields): InvalidationFields {
  const { secretArn, secretName, versionId, reason, eventId, eventTime, terminateOld } = fields;
  return {
    secretArn,
    secretName,
    ...(versionId === undefined ? {} : { versionId }),
    reason,
    eventId,
    eventTime,
    ...(terminateOld === undefined ? {} : { terminateOld }),
  };
}

// Field values are not echoed: an invalidation holds no secret, but a hostile message could hold
// anything, and the sentence ends up in logs.
function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'message is invalid';
  const field = issue.path.map(String).join('.') || 'message';
  if (issue.code === 'invalid_type') return `${field} must be ${issue.expected === 'undefined' ? 'absent' : `a ${issue.expected}`}`;
  if (issue.code === 'invalid_value') return `${field} must be ${issue.values.map((value) => JSON.stringify(value)).join(' or ')}`;
  if (issue.code === 'too_small') return `${field} must not be empty`;
  if (issue.code === 'invalid_format') {
    // Regex checks carry their own sentence ("must not contain a line break").
    return issue.format === 'regex' ? `${field} ${issue.message}` : `${field} must be ${formatName(issue.format)}`;
  }
  return `${field} is invalid (${issue.message})`;
}

function formatName(format: string): string {
  if (format === 'datetime') return 'an ISO-8601 date-time with Z or an offset';
  if (format === 'uuid') return 'a UUID';
  return `a valid ${format}`;
}
