import { createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidSigningKeysError, InvalidVerifyOptionsError } from './errors.js';
import { extensionLines, hasExtensions } from './extensions.js';
import { assertInvalidation, invalidationSchema, parseInvalidation, type Invalidation } from './invalidation.js';

/** The environment variable that usually holds the keys (parsed by src/config); named in errors. */
export const SIGNING_KEYS_ENV = 'ROTATION_RELAY_SIGNING_KEYS';
/** Shortest accepted key, in UTF-8 bytes: HMAC-SHA256 gains nothing from more, loses from less. */
export const MIN_SIGNING_KEY_BYTES = 32;
/** Default replay window: a message published longer ago than this is rejected. */
export const DEFAULT_MAX_AGE_MS = 5 * 60 * 1000;
/**
 * Default of `clockSkewToleranceMs`: how far in the future `publishedAt` may be (the worker's clock
 * ahead of the subscriber's). NTP keeps hosts within milliseconds; 30 s leaves room for a host
 * that just booted, and is small next to the 5-minute replay window.
 */
export const DEFAULT_CLOCK_SKEW_TOLERANCE_MS = 30 * 1000;
/** The same default under its older name (from when the tolerance was fixed), kept for existing imports. */
export const MAX_CLOCK_SKEW_MS = DEFAULT_CLOCK_SKEW_TOLERANCE_MS;

/** `sig` = this prefix + base64url (no padding) of the 32-byte HMAC. */
const SIG_PREFIX = 'v1=';
// 32 bytes are exactly 43 base64url characters without padding.
const SIG_RE = /^v1=[A-Za-z0-9_-]{43}$/;
const EXPECTED_KEYS_FORM = `comma-separated keys of at least ${MIN_SIGNING_KEY_BYTES} bytes each, current key first (e.g. \`openssl rand -base64 48\`)`;

export type VerifyFailureCode = 'malformed' | 'unsigned' | 'bad-signature' | 'too-old' | 'from-the-future';

/** The failure codes of the freshness checks, the only ones that say something about clocks. */
export type FreshnessFailureCode = Extract<VerifyFailureCode, 'too-old' | 'from-the-future'>;

export type VerifyFailure =
  | { ok: false; code: Exclude<VerifyFailureCode, FreshnessFailureCode>; reason: string }
  | {
      ok: false;
      code: FreshnessFailureCode;
      reason: string;
      /**
       * `publishedAt` minus this verifier's clock, in ms: positive when the message is from the
       * future (the publisher's clock is ahead), negative when it is old (this clock is ahead, or
       * the message is a replay).
       */
      offsetMs: number;
      /**
       * True when a configured key verified `sig` before the freshness check failed: only then is
       * `publishedAt` the worker's own clock reading rather than whatever a forger wrote.
       */
      signatureVerified: boolean;
      /** The message as parsed; it passed the schema, so its fields are well formed. */
      invalidation: Invalidation;
    };

export type VerifyResult =
  | {
      ok: true;
      invalidation: Invalidation;
      /** True when a configured key verified `sig`; false when no keys are configured (or unsigned was allowed). */
      signatureVerified: boolean;
    }
  | VerifyFailure;

export interface VerifyOptions {
  /** Accepted keys, current first. Empty: signatures are neither required nor checked. */
  keys: readonly string[];
  /**
   * Oldest accepted `publishedAt`, in ms before now. `Infinity` turns the age check off, for
   * entries read back from `{P}:versions` (old by design). @defaultValue {@link DEFAULT_MAX_AGE_MS}
   */
  maxAgeMs?: number;
  /**
   * How far in the future `publishedAt` may be before a message is `from-the-future`: the most the
   * worker's clock may be ahead of this one. This clock *ahead* of the worker's is covered by
   * `maxAgeMs` instead (messages merely look older). Finite, `>= 0`.
   * @defaultValue {@link DEFAULT_CLOCK_SKEW_TOLERANCE_MS} (30 000 ms)
   */
  clockSkewToleranceMs?: number;
  /** Clock, injectable for tests. @defaultValue `Date.now` */
  now?: () => number;
  /**
   * Reject messages without `sig`. `false` with keys configured is the roll-out mode: unsigned
   * messages pass, signed ones must still verify. @defaultValue `true` when keys are given
   */
  requireSignature?: boolean;
}

export interface InvalidationVerifier {
  /** Parses and verifies one received message. Never throws. */
  verify(raw: string): VerifyResult;
  /** Verifies an already parsed invalidation (e.g. an entry of `readPublishedVersions`). Never throws. */
  verifyObject(invalidation: Invalidation): VerifyResult;
}

/**
 * The exact text that is signed: the fields joined by "\n" in this fixed order, `v` as a decimal
 * number and a missing `versionId` as the empty string. No field may contain a line break (the
 * schema refuses them), so the join is unambiguous. Any language rebuilds it in one line.
 */
export function canonicalString(invalidation: Invalidation): string {
  const { v, id, secretArn, secretName, versionId, reason, eventId, eventTime, publishedAt } = invalidation;
  return [String(v), id, secretArn, secretName, versionId ?? '', reason, eventId, eventTime, publishedAt].join('\n');
}

/**
 * What `xsig` signs (docs/protocol.md, "Signed extensions"): the canonical string, then one
 * `name=value` line per extension field present. Equal to the canonical string without extensions.
 */
export function extendedCanonicalString(invalidation: Invalidation): string {
  return [canonicalString(invalidation), ...extensionLines(invalidation)].join('\n');
}

/**
 * Returns a copy of `invalidation` with `sig` computed with the first (current) key, and `xsig`
 * too when it carries an extension field (`terminateOld`); a stale `xsig` is dropped.
 * Throws {@link InvalidSigningKeysError} without keys and {@link InvalidInvalidationError}
 * for an invalidation subscribers would reject anyway.
 */
export function signInvalidation(invalidation: Invalidation, keys: readonly string[]): Invalidation {
  assertSigningKeys(keys);
  const [current] = keys;
  if (current === undefined) throw keysError('no key given to sign with');
  const { xsig: _stale, ...valid } = assertInvalidation(invalidation);
  const signed: Invalidation = { ...valid, sig: SIG_PREFIX + hmac(current, canonicalString(valid)).toString('base64url') };
  if (hasExtensions(valid)) signed.xsig = SIG_PREFIX + hmac(current, extendedCanonicalString(valid)).toString('base64url');
  return signed;
}

/**
 * Signs with the current key when signing is configured, and leaves the message unsigned when
 * `keys` is empty (signing off): the one switch the worker and the CLI share.
 */
export function signIfKeyed(invalidation: Invalidation, keys: readonly string[]): Invalidation {
  return keys.length > 0 ? signInvalidation(invalidation, keys) : invalidation;
}

/** Parses and verifies one received message. Throws only for bad options, never for a bad message. */
export function verifyInvalidation(raw: string, options: VerifyOptions): VerifyResult {
  return createInvalidationVerifier(options).verify(raw);
}

/** Verifies an already parsed invalidation. Throws only for bad options. */
export function verifyInvalidationObject(invalidation: Invalidation, options: VerifyOptions): VerifyResult {
  return createInvalidationVerifier(options).verifyObject(invalidation);
}

/**
 * Checks the options once (throws {@link InvalidSigningKeysError} / {@link InvalidVerifyOptionsError})
 * so a listener fails at start-up, not on its first message. Checks run in this order:
 * malformed → unsigned / bad-signature → too-old → from-the-future, so authenticity is judged
 * before freshness, and a freshness failure can say whether its `publishedAt` was signed.
 */
export function createInvalidationVerifier(options: VerifyOptions): InvalidationVerifier {
  const keys = [...options.keys];
  if (keys.length > 0) assertSigningKeys(keys);
  const maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  if (typeof maxAgeMs !== 'number' || Number.isNaN(maxAgeMs) || maxAgeMs <= 0) {
    throw new InvalidVerifyOptionsError('maxAgeMs must be a positive number of milliseconds (Infinity turns the age check off)');
  }
  const clockSkewToleranceMs = options.clockSkewToleranceMs ?? DEFAULT_CLOCK_SKEW_TOLERANCE_MS;
  // Infinity is refused (unlike maxAgeMs): a message stamped years ahead would then never grow
  // too old, and one leaked signed message would be replayable for ever.
  if (typeof clockSkewToleranceMs !== 'number' || !Number.isFinite(clockSkewToleranceMs) || clockSkewToleranceMs < 0) {
    throw new InvalidVerifyOptionsError('clockSkewToleranceMs must be a finite number of milliseconds >= 0');
  }
  const requireSignature = options.requireSignature ?? keys.length > 0;
  if (requireSignature && keys.length === 0) {
    throw new InvalidVerifyOptionsError(`requireSignature is true but no signing keys are configured (${SIGNING_KEYS_ENV})`);
  }
  const now = options.now ?? Date.now;

  const check = (invalidation: Invalidation): VerifyResult => {
    const signature = checkSignature(invalidation, keys, requireSignature);
    if (signature !== true && signature !== false) return signature;
    const freshness = checkFreshness(invalidation, now(), { maxAgeMs, clockSkewToleranceMs, signatureVerified: signature });
    if (freshness) return freshness;
    return { ok: true, invalidation, signatureVerified: signature };
  };

  return {
    verify(raw: string): VerifyResult {
      const parsed = parseInvalidation(raw);
      if (!parsed.ok) return { ok: false, code: 'malformed', reason: parsed.reason };
      return check(parsed.invalidation);
    },
    verifyObject(invalidation: Invalidation): VerifyResult {
      // Re-validated: an object built by hand could hold a line break and make the canonical
      // string ambiguous, and this function promises not to throw.
      const parsed = invalidationSchema.safeParse(invalidation);
      if (!parsed.success) return { ok: false, code: 'malformed', reason: 'invalidation does not match the v1 schema' };
      return check(parsed.data);
    },
  };
}

/** `true`: verified; `false`: not checked (no keys, or unsigned allowed); otherwise the failure. */
function checkSignature(invalidation: Invalidation, keys: readonly string[], requireSignature: boolean): VerifyResult | boolean {
  // Without keys there is nothing to check against: this mode trusts whoever can publish to Redis.
  if (keys.length === 0) return false;
  const { sig, xsig } = invalidation;
  if (sig === undefined) {
    return requireSignature ? { ok: false, code: 'unsigned', reason: 'message has no sig and signing keys are configured' } : false;
  }
  const plain = checkMac('sig', sig, canonicalString(invalidation), keys);
  if (plain) return plain;
  // The extensions' own signature: an extension field (or an xsig) that does not verify rejects
  // the whole message, so a flag added to, or flipped in, a genuine message is never acted on.
  if (xsig === undefined) {
    return hasExtensions(invalidation) ? { ok: false, code: 'bad-signature', reason: 'message has an extension field (terminateOld) but no xsig' } : true;
  }
  return checkMac('xsig', xsig, extendedCanonicalString(invalidation), keys) ?? true;
}

/** Undefined when `mac` is `v1=` + the HMAC of `text` under one of `keys`; otherwise the failure naming `field`. */
function checkMac(field: 'sig' | 'xsig', mac: string, text: string, keys: readonly string[]): VerifyFailure | undefined {
  if (!SIG_RE.test(mac)) {
    return { ok: false, code: 'bad-signature', reason: `${field} is not in the form v1=<43 base64url characters>` };
  }
  const given = Buffer.from(mac.slice(SIG_PREFIX.length), 'base64url');
  // Buffer decoding ignores stray low bits of the last character; insist on the one canonical
  // spelling so a signature has exactly one accepted text.
  if (given.toString('base64url') !== mac.slice(SIG_PREFIX.length)) {
    return { ok: false, code: 'bad-signature', reason: `${field} is not canonical base64url` };
  }
  // Every key is tried (no early exit), each with a constant-time compare of equal-length buffers.
  let matched = false;
  for (const key of keys) {
    if (timingSafeEqual(hmac(key, text), given)) matched = true;
  }
  return matched ? undefined : { ok: false, code: 'bad-signature', reason: `${field} does not match any configured key` };
}

interface FreshnessBounds {
  maxAgeMs: number;
  clockSkewToleranceMs: number;
  /** Passed through to the failure: whether `publishedAt` can be trusted as the worker's clock. */
  signatureVerified: boolean;
}

function checkFreshness(invalidation: Invalidation, nowMs: number, bounds: FreshnessBounds): VerifyFailure | undefined {
  const published = Date.parse(invalidation.publishedAt);
  if (Number.isNaN(published)) return { ok: false, code: 'malformed', reason: 'publishedAt is not a date' };
  const ageMs = nowMs - published;
  const { maxAgeMs, clockSkewToleranceMs, signatureVerified } = bounds;
  if (ageMs > maxAgeMs) {
    const reason = `publishedAt is ${ageMs} ms old, more than the ${maxAgeMs} ms allowed`;
    return { ok: false, code: 'too-old', reason, offsetMs: -ageMs, signatureVerified, invalidation };
  }
  if (-ageMs > clockSkewToleranceMs) {
    const reason = `publishedAt is ${-ageMs} ms in the future, more than the ${clockSkewToleranceMs} ms clock skew allowed`;
    return { ok: false, code: 'from-the-future', reason, offsetMs: -ageMs, signatureVerified, invalidation };
  }
  return undefined;
}

function assertSigningKeys(keys: readonly string[]): void {
  if (keys.length === 0) throw keysError('no key given');
  keys.forEach((key, index) => {
    const position = `entry ${index + 1} of ${keys.length}`;
    if (typeof key !== 'string' || key === '') throw keysError(`${position} is empty`);
    if (Buffer.byteLength(key, 'utf8') < MIN_SIGNING_KEY_BYTES) {
      throw keysError(`${position} is shorter than ${MIN_SIGNING_KEY_BYTES} bytes`);
    }
  });
}

function keysError(problem: string): InvalidSigningKeysError {
  return new InvalidSigningKeysError(`${SIGNING_KEYS_ENV}: expected ${EXPECTED_KEYS_FORM}; ${problem}`);
}

function hmac(key: string, text: string): Buffer {
  return createHmac('sha256', Buffer.from(key, 'utf8')).update(text, 'utf8').digest();
}
