/**
 * Fleet presence and acknowledgements: what every subscriber writes about itself under the
 * protocol's hash tag, and how readers decode it. Pure (no I/O); docs/protocol.md, "Presence and
 * acknowledgements", is the spec a subscriber in another language follows.
 *
 * Per instance, one pipelined write per heartbeat and per refresh:
 *   ZADD    {P}:instances <nowMs> <id>
 *   HSET    {P}:instance:<id> id … host … pid … startedAt … sdk … runtime … heartbeatAt …
 *           ttlMs … heartbeatIntervalMs … subscribed 0|1  ack:<secret> <versionId>@<ackedAtMs> …
 *   PEXPIRE {P}:instance:<id> <ttlMs>
 *   ZREMRANGEBYSCORE {P}:instances -inf <nowMs − lastSeenRetentionMs>   (heartbeats only)
 */

/** How often an instance rewrites its presence. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 10_000;
/** How long an instance's hash lives without a heartbeat: three missed beats. */
export const DEFAULT_PRESENCE_TTL_MS = 30_000;
/** How long an instance that stopped heartbeating stays listed in `{P}:instances`. */
export const DEFAULT_LAST_SEEN_RETENTION_MS = 3_600_000;

/** Prefix of every acknowledgement field; the rest of the field name is the secret. */
export const ACK_FIELD_PREFIX = 'ack:';

/** Metadata fields of `{P}:instance:<id>` (all optional for a reader, strings on the wire). */
export const PRESENCE_FIELDS = [
  'id',
  'host',
  'pid',
  'startedAt',
  'sdk',
  'runtime',
  'heartbeatAt',
  'ttlMs',
  'heartbeatIntervalMs',
  'subscribed',
] as const;

export interface InstanceMetadata {
  id: string;
  host: string;
  pid: number;
  /** Process start, ms since the epoch. */
  startedAt: number;
  /** `rotation-relay/<version>` for this package; another SDK names itself. */
  sdk: string;
  /** `node/<version>`, `python/<version>`, … */
  runtime: string;
  heartbeatIntervalMs: number;
  ttlMs: number;
}

/** One acknowledgement: the version an instance holds for one secret, and since when. */
export interface PresenceAck {
  /** The secret's full ARN once Secrets Manager answered; the configured name or ARN before that. */
  secret: string;
  versionId: string;
  /** When the instance first held this version (ms since the epoch, the instance's clock). */
  ackedAt: number;
}

/** What a reader gets back from one `HGETALL {P}:instance:<id>`. */
export interface DecodedPresence {
  id: string;
  host?: string;
  pid?: number;
  startedAt?: number;
  sdk?: string;
  runtime?: string;
  heartbeatAt?: number;
  ttlMs?: number;
  heartbeatIntervalMs?: number;
  /** Whether its invalidation subscription was up at the last write. */
  subscribed?: boolean;
  acks: PresenceAck[];
}

/** `versionId@ackedAtMs`. Version ids never contain `@` (Secrets Manager: 32–64 `[a-zA-Z0-9-]`). */
export function encodeAck(versionId: string, ackedAt: number): string {
  return `${versionId}@${Math.round(ackedAt)}`;
}

/** Undefined for a value that is not `versionId@ms`. */
export function decodeAck(value: string): { versionId: string; ackedAt: number } | undefined {
  const at = value.lastIndexOf('@');
  if (at <= 0) return undefined;
  const ackedAt = Number(value.slice(at + 1));
  if (!Number.isSafeInteger(ackedAt) || ackedAt < 0) return undefined;
  return { versionId: value.slice(0, at), ackedAt };
}

/** The HSET arguments (field, value, field, value …) of one presence write. */
export function encodePresence(
  meta: InstanceMetadata,
  state: { heartbeatAt: number; subscribed: boolean; acks: Iterable<PresenceAck> },
): string[] {
  const args = [
    'id', meta.id,
    'host', meta.host,
    'pid', String(meta.pid),
    'startedAt', String(Math.round(meta.startedAt)),
    'sdk', meta.sdk,
    'runtime', meta.runtime,
    'heartbeatAt', String(Math.round(state.heartbeatAt)),
    'ttlMs', String(meta.ttlMs),
    'heartbeatIntervalMs', String(meta.heartbeatIntervalMs),
    'subscribed', state.subscribed ? '1' : '0',
  ];
  for (const ack of state.acks) args.push(`${ACK_FIELD_PREFIX}${ack.secret}`, encodeAck(ack.versionId, ack.ackedAt));
  return args;
}

/**
 * Decodes a presence hash. Unknown fields are ignored and malformed values dropped, so a writer
 * may add fields, and a broken writer cannot break a reader.
 */
export function decodePresence(id: string, hash: Readonly<Record<string, string>>): DecodedPresence {
  const decoded: DecodedPresence = { id, acks: [] };
  const num = (field: string): number | undefined => {
    const raw = hash[field];
    if (raw === undefined) return undefined;
    const value = Number(raw);
    return Number.isFinite(value) ? value : undefined;
  };
  if (hash['host'] !== undefined) decoded.host = hash['host'];
  if (hash['sdk'] !== undefined) decoded.sdk = hash['sdk'];
  if (hash['runtime'] !== undefined) decoded.runtime = hash['runtime'];
  for (const field of ['pid', 'startedAt', 'heartbeatAt', 'ttlMs', 'heartbeatIntervalMs'] as const) {
    const value = num(field);
    if (value !== undefined) decoded[field] = value;
  }
  if (hash['subscribed'] !== undefined) decoded.subscribed = hash['subscribed'] === '1';
  for (const [field, value] of Object.entries(hash)) {
    if (!field.startsWith(ACK_FIELD_PREFIX) || field.length === ACK_FIELD_PREFIX.length) continue;
    const ack = decodeAck(value);
    if (ack) decoded.acks.push({ secret: field.slice(ACK_FIELD_PREFIX.length), ...ack });
  }
  return decoded;
}

/**
 * An instance id is part of a key name and shown in tables: 1–200 printable characters, no
 * whitespace.
 */
export function isValidInstanceId(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && id.length <= 200 && /^[\x21-\x7e\u00a0-\uffff]+$/u.test(id);
}
