import type { DeferredStart } from './start-gate.js';
import type { RefreshRequest } from './secret-state.js';
import type { RefreshTrigger } from './types.js';

/**
 * Triggers the per-secret read budget holds back: the ones whoever can publish on the channel (or
 * write `{P}:versions`) decides the number of. Every other trigger keeps applications working or
 * is rare by construction — start (once), an authentication failure (rate-limited by
 * `authFailureMinIntervalMs`, and the read that fixes a failed login), `forceRefresh` (the
 * operator asked), the poll (one per interval) and retries (backed off) — and bypasses it.
 */
export function isBudgeted(trigger: RefreshTrigger): boolean {
  return trigger === 'invalidation' || trigger === 'reconcile';
}

/** Does `request` need AWSCURRENT to move before it is met (a `changed` request, or one merged into a version)? */
function needsChange(request: RefreshRequest): boolean {
  return request.kind === 'changed' || (request.kind === 'version' && request.ifNotCurrent === 'until-changed');
}

const STRENGTH = { 'read-current': 0, 'wait-for-change': 1, 'until-changed': 2 } as const;

/**
 * One request stands for every request that arrived while it waited (`mergeRequests`). Newest
 * wins, without losing what an older one needed:
 * - the same version twice is one request (the later `confirmedAt` kept, and the longer wait);
 * - two different versions become one AWSCURRENT read: at most one of them can be current, and
 *   that read finds it, while reading the newest by id would lose the older one if the newest is
 *   forged (each `version` request ends in an AWSCURRENT read when its version is not current, so
 *   neither way loses anything; this one costs one read, not two). It stays one read however many
 *   more versions follow, so a flood of distinct versions costs one read per refresh;
 * - a request waiting for AWSCURRENT to move (`changed`) keeps that need: merged with a version
 *   it becomes that version with `until-changed` (read by id, the fast path when the version is
 *   genuine; if it is not current, re-read AWSCURRENT until it moves), otherwise `changed`;
 * - a plain read asked for by a trigger that bypasses the budget (a poll, an auth failure…) next
 *   to a version keeps the version: its read by id either finds it current, or is followed by an
 *   AWSCURRENT read. A budgeted plain read (several versions merged already, or a reconcile's)
 *   absorbs the version: the AWSCURRENT read answers it too.
 * `at` is the oldest trigger time (latency is measured from the first request the read serves),
 * and the trigger is the newest one unless an older one bypasses the budget (an auth failure
 * joined by an invalidation is still reported as the auth failure).
 */
export function mergeRequests(older: RefreshRequest, newer: RefreshRequest): RefreshRequest {
  const meta = {
    trigger: isBudgeted(newer.trigger) && !isBudgeted(older.trigger) ? older.trigger : newer.trigger,
    at: Math.min(older.at, newer.at),
  };
  const mustChange = needsChange(older) || needsChange(newer);
  const plain: RefreshRequest = mustChange ? { kind: 'changed', ...meta } : { kind: 'current', ...meta };
  if (older.kind === 'version' && newer.kind === 'version') {
    if (older.versionId !== newer.versionId) return plain;
    const confirmedAt = newer.confirmedAt ?? older.confirmedAt;
    return {
      kind: 'version',
      versionId: newer.versionId,
      ifNotCurrent: STRENGTH[older.ifNotCurrent] > STRENGTH[newer.ifNotCurrent] ? older.ifNotCurrent : newer.ifNotCurrent,
      ...meta,
      ...(confirmedAt !== undefined ? { confirmedAt } : {}),
    };
  }
  const version = newer.kind === 'version' ? newer : older.kind === 'version' ? older : undefined;
  const other = version === newer ? older : newer;
  if (!version) return plain;
  if (other.kind === 'changed') return { ...version, ifNotCurrent: 'until-changed', ...meta };
  // `other` is a plain read: see above.
  if (isBudgeted(other.trigger)) return plain;
  return { ...version, ...meta };
}

/** Settles the callers that await one run; created only when someone awaits (invalidations do not). */
export interface RunWaiters {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export function runWaiters(): RunWaiters {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A run whose callers stopped listening (the cache stopped) must not crash the process.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** The request waiting for the read in flight (or for a token) to finish. */
export interface WaitingRefresh {
  request: RefreshRequest;
  /** Version held when the newest request that may wait for a change joined: it is met by any change since. */
  base: string | undefined;
  /** A request that bypasses the budget joined: start without a token. */
  bypass: boolean;
  waiters: RunWaiters | undefined;
}

/** The read in flight. */
export interface RunningRefresh {
  request: RefreshRequest;
  promise: Promise<void>;
  /** Unbudgeted from the start, or since a caller that bypasses the budget joined it. */
  bypass: boolean;
  /** Tokens left that were taken for this run before it started (the first read's). */
  prepaid: number;
  /** Ends a wait for a token at once (a bypassing caller joined, or the cache stops). */
  wake: (() => void) | undefined;
}

/**
 * Per secret: at most one read in flight and one request waiting — what keeps a flood of
 * invalidations from queueing one read each. New requests merge into the waiting one
 * (`mergeRequests`); it starts when the read in flight settles (and, when budgeted, once a token
 * is there). The timers belong to the slot so `stop()` can clear them.
 */
export class RefreshSlot {
  running: RunningRefresh | undefined;
  waiting: WaitingRefresh | undefined;
  /** Start once the process is quiet (`StartGate`, see `RefreshQueue.onInvalidation`). */
  startSoon: DeferredStart | undefined;
  /** Waiting for a token. */
  timer: NodeJS.Timeout | undefined;

  /** Merges `request` into the waiting one (or makes it the waiting one) and returns that. */
  add(request: RefreshRequest, base: string | undefined, bypass: boolean): WaitingRefresh {
    const waiting = this.waiting;
    if (!waiting) {
      this.waiting = { request, base, bypass, waiters: undefined };
      return this.waiting;
    }
    waiting.request = mergeRequests(waiting.request, request);
    // A plain read compares with nothing; a request that may wait for a change compares with what
    // was held when it was made (the newest such: an older one is met by any change since).
    if (request.kind !== 'current') waiting.base = base;
    waiting.bypass ||= bypass;
    return waiting;
  }

  /** Removes and returns the waiting request. */
  take(): WaitingRefresh | undefined {
    const waiting = this.waiting;
    this.waiting = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    return waiting;
  }

  /** Drops the waiting request and every timer (the cache stops); its callers get `error`. */
  clear(error: unknown): void {
    this.startSoon?.cancel();
    this.startSoon = undefined;
    this.take()?.waiters?.reject(error);
    this.running?.wake?.();
  }
}
