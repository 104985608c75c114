import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { RedisConfig } from '../../config/index.js';
import type { Logger } from '../../common/index.js';
import type { Metrics } from '../../metrics/index.js';

/** How one logical secret is read. */
export interface SecretSpec {
  /** Name or ARN, as in Secrets Manager. Names match event ARNs by the `-XXXXXX` suffix rule. */
  secretId: string;
  /**
   * Parse `SecretString` as JSON (RDS, ElastiCache user/password, SES credentials). `get()` then
   * returns the object. @defaultValue false (`get()` returns the string)
   */
  json?: boolean;
  /**
   * Used only at cold start when Secrets Manager is unreachable: either the name of one
   * environment variable holding the whole secret string, or, for JSON secrets, a map from
   * field to environment variable (`{ username: 'DB_USER', password: 'DB_PASSWORD' }`).
   * `status()` and the log say when it is in use. @defaultValue none: start() fails instead
   */
  envFallback?: string | Record<string, string>;
}

export interface BackoffOptions {
  /** First retry delay after a failed refresh. @defaultValue 1 000 ms */
  minMs?: number;
  /** Cap of the exponential backoff (full jitter). @defaultValue 60 000 ms */
  maxMs?: number;
}

/**
 * Bounds on the Secrets Manager reads that invalidations can cause, per secret. Whoever can
 * publish on the channel (or replay a genuine message) chooses how many messages arrive; these
 * bound what they cost. Whatever the settings, per secret at most one read is in flight and one
 * request waits (newer ones merge into it), and a message id already handled costs nothing.
 *
 * The budget holds back reads asked for by invalidations and reconciles only. Start, `reportAuthFailure`,
 * `forceRefresh`, the poll and retries bypass it: they are few by construction, and the read
 * that fixes a failed login must never wait behind a flood. A throttled read is not dropped: it
 * waits for a token, counts `RefreshesThrottled` (and `status().counts.refreshesThrottled`), and
 * the first one a minute per secret logs a warning.
 */
export interface RefreshBudgetOptions {
  /** Reads a secret may make at once before invalidation-driven reads wait. @defaultValue 3 */
  burst?: number;
  /**
   * One more read is allowed per this interval (continuously refilled, up to `burst`): a sustained
   * flood costs at most 1 000 / this reads per second per secret. @defaultValue 500 ms
   */
  refillIntervalMs?: number;
  /**
   * How long a version a read found missing, or labelled neither AWSCURRENT nor AWSPENDING (a
   * replayed or stale message), is remembered: a later message naming it costs no read if it was
   * published before that read (with `clockSkewToleranceMs` to spare) — a message published later
   * may announce a genuine roll-back onto it. Handled message ids are remembered for this long or
   * `maxAgeMs`, whichever is longer. At most 256 versions and 256 ids per secret; 0 remembers
   * no version. @defaultValue 300 000 ms (5 min)
   */
  rememberVersionsMs?: number;
}

/**
 * Fleet presence (docs/protocol.md, "Presence and acknowledgements"): the cache registers itself
 * in Redis with a heartbeat and a TTL, and acks the version it holds of each secret after every
 * refresh, so `rotation-relay status`, `wait-converged` and the `InstancesStale` metric know which
 * live instances still use an old version. Costs one pipelined write per heartbeat and per refresh
 * on the cache's normal Redis connection (no extra connection).
 */
export interface PresenceOptions {
  /**
   * This instance's id in `{P}:instances` (1–200 printable characters, no whitespace); unique per
   * process. @defaultValue `<hostname>:<pid>:<6 random hex characters>`
   */
  instanceId?: string;
  /** Period of the heartbeat write. @defaultValue 10 000 ms */
  heartbeatIntervalMs?: number;
  /**
   * The presence entry expires this long after the last write: an instance that dies stops
   * counting after at most this long. Must exceed `heartbeatIntervalMs`. @defaultValue 30 000 ms
   */
  ttlMs?: number;
  /**
   * How long an instance that stopped heartbeating (crashed, partitioned) stays listed as such
   * before heartbeats of others trim it away. A clean `stop()` deregisters at once.
   * @defaultValue 3 600 000 ms (1 h)
   */
  lastSeenRetentionMs?: number;
}

export interface CredentialCacheOptions {
  /** Logical name → how to read it. Clients name secrets by these logical names. */
  secrets: Record<string, SecretSpec>;
  /**
   * Where invalidations are published. Omit to run on the poll alone (not recommended: that is
   * exactly the 30-minute window this project closes).
   */
  redis?: RedisConfig & {
    /**
     * Logical name of a secret (in `secrets`) that holds this Redis connection's own password
     * (`password` or `authToken` field, or the whole string): reconnects use its current value,
     * and a WRONGPASS refreshes it first. @defaultValue none: the URL's credentials
     */
    passwordSecret?: string;
    /**
     * How long `start()` waits for the first SUBSCRIBE before resolving without it. Nothing is
     * lost either way: pub/sub keeps connecting in the background and reconciles from
     * `{P}:versions` once subscribed; meanwhile the poll covers. @defaultValue 5 000 ms
     */
    subscribeWaitMs?: number;
    /**
     * Upper bound of the uniform random wait before a subscriber rereads AWSCURRENT because the
     * versions hash lost a secret it had seen there (a Redis restart without persistence, a
     * failover, FLUSHALL): spread so a whole fleet does not read at the same instant.
     * @defaultValue 1 000 ms
     */
    lostStateJitterMs?: number;
  };
  /**
   * Fleet presence and acks (see {@link PresenceOptions}); `false` turns them off. Needs `redis`.
   * @defaultValue on, with the defaults of `PresenceOptions`, whenever `redis` is set
   */
  presence?: PresenceOptions | false;
  /**
   * Accepted signing keys, current first: the worker's `ROTATION_RELAY_SIGNING_KEYS`. Required
   * with `redis`: without keys the constructor refuses to build the cache unless
   * `allowUnsigned` asks for unsigned mode. @defaultValue [] (refused with `redis`)
   */
  signingKeys?: readonly string[];
  /**
   * Accept unsigned invalidations, on purpose, when `signingKeys` is empty. Anyone who can
   * publish on the channel can then make this instance re-read its secrets (bounded by
   * `refreshBudget`, never a wrong credential). Announced with a warning at `start()` and as
   * `status().pubsub.signing: 'unsigned'`. Ignored when keys are given. @defaultValue false
   */
  allowUnsigned?: boolean;
  /** Replay guard for signed invalidations. @defaultValue 300 000 ms */
  maxAgeMs?: number;
  /**
   * How far in the future an invalidation's `publishedAt` may be (the worker's clock ahead of this
   * host's) before it is rejected. A host clock *ahead* of the worker's only makes messages look
   * older, which `maxAgeMs` covers. A host outside either bound logs one warning with the skew it measured,
   * counts `ClockSkewDetected` per such message, and still converges through reconcile and the poll.
   * @defaultValue 30 000 ms
   */
  clockSkewToleranceMs?: number;
  /** Per-secret bounds on invalidation-driven reads (see {@link RefreshBudgetOptions}). */
  refreshBudget?: RefreshBudgetOptions;
  /**
   * An invalidation's refresh starts once the process has asked for no other such start for this
   * long (at most 20 ms after the first): a broadcast reaches every cache of a process over several
   * turns of the event loop, and a GetSecretValue started early spends CPU before the process has
   * read the other caches' sockets, delaying their delivery. Caches of a process with the same
   * setting share one gate. 0 starts on the next turn of the event loop (no wait). Start, poll,
   * auth-failure and `forceRefresh` reads never wait here. @defaultValue 2 ms
   */
  refreshStartQuietMs?: number;
  /** Fallback poll of every secret. @defaultValue 1 800 000 ms (30 min), ±10 % jitter */
  pollIntervalMs?: number;
  /** Fraction of the poll interval used as ± jitter, so a fleet does not poll in step. @defaultValue 0.1 */
  pollJitter?: number;
  backoff?: BackoffOptions;
  /**
   * An invalidation without a versionId: Secrets Manager reads are eventually consistent right
   * after a label moves, so re-read AWSCURRENT until the version changes, at most this long.
   * @defaultValue 5 000 ms
   */
  consistencyWindowMs?: number;
  /**
   * `reportAuthFailure` reads Secrets Manager at most once per this interval per secret: within it,
   * a report returns the result of the refresh that just finished, so a storm of failed logins
   * costs one read. @defaultValue 1 000 ms
   */
  authFailureMinIntervalMs?: number;
  /**
   * How long a `pending()` answer (the AWSPENDING version, or "none") is reused. It is dropped
   * earlier when AWSCURRENT changes. @defaultValue 2 000 ms
   */
  pendingTtlMs?: number;
  /** Where `envFallback` variables are read. @defaultValue process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * A poll that finds a version no invalidation announced counts `MissedByEvents` only if no
   * invalidation (or versions-hash entry) announces it within this grace period: a poll that
   * merely beat an in-flight invalidation by a second is not a broken pipeline, and across a large
   * fleet such races would otherwise trip the alarm on many rotations. 0 counts at once.
   * @defaultValue 60 000 ms
   */
  missedByEventsGraceMs?: number;
  /**
   * Injected client (tests, custom credentials). Building it with `cacheMiddleware: true` (as the
   * default one is) saves CPU on every read. @defaultValue one built from the SDK environment
   */
  secretsClient?: SecretsManagerClient;
  /** Region for the default client. @defaultValue the SDK's resolution (AWS_REGION, profile) */
  region?: string;
  /** @defaultValue a silent logger */
  logger?: Logger;
  /** @defaultValue no metrics */
  metrics?: Metrics;
  /** Clock and timers, injectable for tests. @defaultValue Date.now */
  now?: () => number;
}

/** Why a refresh ran. */
export type RefreshTrigger = 'start' | 'invalidation' | 'reconcile' | 'poll' | 'auth-failure' | 'force' | 'retry';

export interface RotatedEvent {
  name: string;
  secretArn: string;
  versionId: string;
  previousVersionId?: string;
  trigger: RefreshTrigger;
  /** Trigger (invalidation received, poll fired, …) → new value in place, in ms. */
  latencyMs?: number;
}

/**
 * An emergency revoke (`forceRefresh(name, { terminateOld: true })`, or a signed invalidation
 * with `terminateOld`, e.g. from `rotation-relay publish SECRET --terminate-old`): every rotating
 * client of the secret closes, at once, each connection built with a version other than
 * `versionId`, failing the work in flight on it, instead of letting it finish. Emitted once the
 * read it asked for has settled, after the `rotated` event of the change if there was one, and
 * also when nothing changed (the cache already held the new version, its old connections are
 * still draining: the usual case of an operator's revoke after a rotation).
 */
export interface RevokedEvent {
  name: string;
  secretArn: string;
  /** The version held now: connections on it stay; connections on any other version are closed. */
  versionId: string;
  /** `force`: `forceRefresh`; `invalidation`: a signed broadcast. */
  trigger: 'force' | 'invalidation';
}

/** Options of `forceRefresh`. */
export interface ForceRefreshOptions {
  /**
   * Emergency revoke, for a leaked credential: once the read has settled, emit `revoked` (see
   * {@link RevokedEvent}), and every rotating client built on this cache closes its connections
   * that use another version of the secret now, failing the work in flight on them, instead of
   * draining them after their work. Also when the read fails (what is held is then the newest
   * version known) or finds no change. Logged at warn, naming the secret. @defaultValue false
   */
  terminateOld?: boolean;
}

/** Per-secret part of `status()`: metadata only, never a value. */
export interface SecretStatus {
  secretId: string;
  secretArn?: string;
  versionId?: string;
  /** Where the value in use came from. */
  source: 'secrets-manager' | 'env-fallback' | 'none';
  lastRefreshAt?: string;
  lastError?: { code: string; message: string; at: string };
  nextRetryInMs?: number;
  refreshes: number;
  failures: number;
}

/** The `presence` part of `status()` (present only when presence is on). */
export interface PresenceStatus {
  instanceId: string;
  heartbeatIntervalMs: number;
  ttlMs: number;
  /**
   * - `not-started`: `start()` has not started presence yet;
   * - `starting`: started, the first write has not finished;
   * - `ok`: the last write succeeded;
   * - `failing`: writes fail (see `reasonCode`): `status` and `wait-converged` stop counting this
   *   instance `ttlMs` after `lastWriteAt`;
   * - `stopped`: after `stop()` (deregistered).
   */
  state: 'not-started' | 'starting' | 'ok' | 'failing' | 'stopped';
  /**
   * While `failing`, why the last write failed: `NOPERM` (the Redis ACL lacks the presence keys or
   * commands, docs/protocol.md), `AUTH` (WRONGPASS / NOAUTH), `READONLY` (a replica answered),
   * `TIMEOUT` (no answer within the write bound), `CONNECTION` (no connection to Redis), `OTHER`.
   */
  reasonCode?: 'NOPERM' | 'AUTH' | 'READONLY' | 'TIMEOUT' | 'CONNECTION' | 'OTHER';
  /** While `failing`, when the first write of this failure failed. */
  failingSince?: string;
  /** Failed writes since the cache was built (each also counts 1 in `PresenceWriteFailures`). */
  failedWrites: number;
  /** Last successful write (heartbeat or ack). */
  lastWriteAt?: string;
  /** Last failed write, until a write succeeds again; the message withholds the server's text. */
  lastError?: { message: string; at: string };
}

export interface CacheStatus {
  running: boolean;
  pollIntervalMs: number;
  nextPollInMs?: number;
  pubsub: {
    enabled: boolean;
    connected: boolean;
    /** `verified`: only signed messages are accepted; `unsigned`: the `allowUnsigned` opt-in is in effect. Absent without `redis`. */
    signing?: 'verified' | 'unsigned';
    lastInvalidationAt?: string;
    lastInvalidation?: { secretName: string; versionId?: string };
  };
  secrets: Record<string, SecretStatus>;
  /** Fleet presence; absent when it is off (no `redis`, or `presence: false`). */
  presence?: PresenceStatus;
  counts: CacheCounts;
}

/** Counters over the cache's life (the `counts` of `status()`). */
export interface CacheCounts {
  refreshes: number;
  failures: number;
  authRecoveries: number;
  missedByEvents: number;
  invalidationsReceived: number;
  invalidationsRejected: number;
  /**
   * Reads an invalidation or reconcile asked for that had to wait for the per-secret read budget
   * (`refreshBudget`); each wait counts once, however many messages were merged into it. Present
   * only with `redis`: nothing else is budgeted.
   */
  refreshesThrottled?: number;
  /**
   * Reconciles that found `{P}:versions` emptied or missing a secret seen there before (each
   * reread AWSCURRENT of what it lost, once). Present only with `redis`: without it nothing is
   * reconciled.
   */
  versionsStateLost?: number;
  /**
   * New credentials a rotating client with `validateBeforeSwitch` tried and the server refused
   * (or could not be reached with): each kept the client on its current credentials and is
   * retried with backoff. Also the metric `CredentialValidationFailures`. Present once one was counted.
   */
  credentialValidationFailures?: number;
  /**
   * Emergency revokes this cache emitted (`revoked` events: `forceRefresh` with `terminateOld`,
   * signed broadcasts with `terminateOld`). Present once one was emitted.
   */
  revocations?: number;
}

/** A credential version as the rotating clients use it. */
export interface CredentialVersion<T = unknown> {
  value: T;
  versionId: string;
  secretArn: string;
}

/**
 * What rotating clients need from the cache. Kept narrow so the clients can be tested with a
 * cache over moto_server and nothing else.
 */
export interface CredentialSource {
  /** The current value (parsed when `json`); throws before `start()` resolved. */
  get<T = unknown>(name: string): T;
  current<T = unknown>(name: string): CredentialVersion<T>;
  /**
   * A client saw an authentication failure with the value it had: refresh AWSCURRENT (shared by
   * all concurrent callers), resolve with the version now current and whether it changed.
   */
  reportAuthFailure<T = unknown>(name: string): Promise<{ changed: boolean; current: CredentialVersion<T> }>;
  /**
   * The AWSPENDING version, if a rotation is between setSecret and finishSecret. Fetched once per
   * pending version (cached), so a storm of failed logins costs one read.
   */
  pending<T = unknown>(name: string): Promise<CredentialVersion<T> | undefined>;
  /** Count a failure a client recovered from without the caller seeing it. */
  recordAuthRecovery(name: string): void;
  /**
   * Count new credentials a client validated before switching to them and the server refused
   * (`validateBeforeSwitch`). Optional: a source without it only loses the count.
   */
  recordValidationFailure?(name: string): void;
  on(event: 'rotated', listener: (event: RotatedEvent) => void): unknown;
  on(event: 'revoked', listener: (event: RevokedEvent) => void): unknown;
  off(event: 'rotated', listener: (event: RotatedEvent) => void): unknown;
  off(event: 'revoked', listener: (event: RevokedEvent) => void): unknown;
}
