/**
 * A one-line, safe description of why something failed, for CLI errors and log lines: the
 * socket error (`connect ECONNREFUSED 127.0.0.1:6379`, `getaddrinfo ENOTFOUND host`), the TLS
 * failure (`DEPTH_ZERO_SELF_SIGNED_CERT: self-signed certificate`), the Redis refusal
 * (`WRONGPASS …`, `NOPERM …`) or the AWS error name (`AccessDeniedException (HTTP 400)`).
 *
 * Safe means it never carries a secret value: AWS messages and response bodies can quote request
 * parameters or a secret (a GetSecretValue response that failed to parse), and an arbitrary
 * Redis error reply can quote a command's arguments, so those are reduced to their name or code.
 * Only texts whose shape is known (Node's socket and TLS errors, the Redis auth and permission
 * replies) are shown in full, and anything looking like URL credentials is masked even there.
 */
import { RotationRelayError } from './errors.js';

interface Described {
  text: string;
  /** False for a bare class name ("Error"): worth replacing by what its cause says. */
  informative: boolean;
}

/** Redis error replies whose text names no argument: shown whole. Others show their code only. */
const SAFE_REDIS_REPLIES = /^(WRONGPASS|NOAUTH|NOPERM|LOADING|READONLY|MASTERDOWN|CLUSTERDOWN|MISCONF|BUSY|ERR invalid password|ERR AUTH)\b/;
/** OpenSSL / Node TLS certificate codes, e.g. CERT_HAS_EXPIRED, ERR_TLS_CERT_ALTNAME_INVALID. */
const TLS_CODE = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/;
const MAX_LENGTH = 240;

function mask(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim().replace(/:\/\/[^\s/@]*@/g, '://***@');
  return oneLine.length > MAX_LENGTH ? `${oneLine.slice(0, MAX_LENGTH)}…` : oneLine;
}

function describeOne(error: unknown): Described | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  // Ours: messages that never hold a secret value by design (src/common/errors.ts).
  if (error instanceof RotationRelayError) return { text: mask(error.message), informative: true };
  const e = error as { name?: unknown; message?: unknown; code?: unknown; syscall?: unknown; $metadata?: { httpStatusCode?: unknown } };
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const message = typeof e.message === 'string' ? e.message : '';
  const code = typeof e.code === 'string' ? e.code : undefined;
  // Node's socket errors: "connect ECONNREFUSED 127.0.0.1:6379", "getaddrinfo ENOTFOUND host"
  // (the AWS SDK passes them on as they are, with its $metadata added).
  if (code !== undefined && typeof e.syscall === 'string') return { text: mask(message || code), informative: true };
  // Node's TLS errors: "DEPTH_ZERO_SELF_SIGNED_CERT: self-signed certificate".
  if (code !== undefined && TLS_CODE.test(code)) return { text: mask(message ? `${code}: ${message}` : code), informative: true };
  // An AWS SDK error (a service exception, or a response it could not parse): name and status only.
  if (e.$metadata !== undefined && typeof e.$metadata === 'object') {
    const status = typeof e.$metadata.httpStatusCode === 'number' ? ` (HTTP ${e.$metadata.httpStatusCode})` : '';
    return { text: `${name}${status}`, informative: name !== 'Error' || status !== '' };
  }
  if (name === 'ReplyError') {
    if (SAFE_REDIS_REPLIES.test(message)) return { text: mask(message), informative: true };
    return { text: `Redis replied ${message.split(' ')[0] ?? 'an error'}`, informative: true };
  }
  if (code !== undefined && /^[A-Z][A-Z0-9_]{2,}$/.test(code)) return { text: name === 'Error' ? code : `${name} ${code}`, informative: true };
  return { text: name, informative: name !== 'Error' && name !== 'AggregateError' };
}

/** The next errors down: the standard `cause`, a Cluster's `lastNodeError`, an AggregateError's `errors`. */
function causesOf(error: unknown): unknown[] {
  if (typeof error !== 'object' || error === null) return [];
  const e = error as { cause?: unknown; lastNodeError?: unknown; errors?: unknown };
  return [e.cause, e.lastNodeError, ...(Array.isArray(e.errors) ? e.errors.slice(0, 1) : [])].filter((c) => c !== undefined);
}

/**
 * What caused `error`: the safe description of the deepest informative error in its cause chain
 * (the root cause says most: the refused socket under the wrapper that timed out), or undefined
 * when the chain holds nothing informative. For "… (cause: …)" suffixes. Cycle-safe by depth.
 */
export function describeCause(error: unknown): string | undefined {
  let found: { text: string; depth: number } | undefined;
  const walk = (current: unknown, depth: number): void => {
    if (depth > 5) return;
    for (const cause of causesOf(current)) {
      const described = describeOne(cause);
      if (described?.informative && (found === undefined || depth >= found.depth)) found = { text: described.text, depth };
      walk(cause, depth + 1);
    }
  };
  walk(error, 0);
  return found?.text;
}

/**
 * The safe description of `error` itself or, when that says nothing (a bare `Error`, an
 * AggregateError), of its cause chain.
 */
export function describeError(error: unknown): string {
  const own = describeOne(error);
  if (own?.informative) return own.text;
  return describeCause(error) ?? own?.text ?? 'unknown error';
}
