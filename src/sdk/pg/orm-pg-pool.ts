import type { EventEmitter } from 'node:events';
import pg from 'pg';
import type { PoolClient } from 'pg';
import type { RotatingPgPool } from './pg-pool.js';

/** The events a pg.Pool emits, which the adapter forwards from the rotating pool. */
const FORWARDED = ['error', 'release', 'connect', 'acquire', 'remove'] as const;
type ForwardedEvent = (typeof FORWARDED)[number];
const isForwarded = (event: string | symbol): event is ForwardedEvent => (FORWARDED as readonly (string | symbol)[]).includes(event);

type ConnectCallback = (err: Error | undefined, client: PoolClient | undefined, done: (release?: unknown) => void) => void;

/**
 * `pool` seen as a real `pg.Pool`, for the libraries that test for one rather than call its methods.
 *
 * Why it exists: some ORMs decide what a client is by its class, not by its methods, and treat a
 * pool they do not recognise as a single connection:
 * - Drizzle (node-postgres driver) runs `db.transaction()` on one checked-out client only when the
 *   client is `instanceof pg.Pool` (or its class name contains "Pool"); otherwise it sends BEGIN,
 *   the statements and COMMIT through `query()`, each on whatever connection the pool picks, so
 *   the transaction silently is none;
 * - `@prisma/adapter-pg` uses a pool it is given only when it is `instanceof pg.Pool`; otherwise it
 *   reads the object as a PoolConfig and builds a pool of its own (without credentials);
 * - TypeORM calls `connect(callback)` and `end(callback)`, pg.Pool's callback forms.
 *
 * The adapter is an instance of `pg.Pool` whose own connection machinery is never used: `query`,
 * `connect` (both forms) and `end` (both forms) go to the rotating pool, `totalCount`,
 * `idleCount` and `waitingCount` are the rotating pool's (its current generation), `ending` and
 * `ended` are both its `ended` (true once `end()` was called), and its events are forwarded from
 * every generation. `expiredCount` is always 0 (the rotating pool does
 * not report it), and `options` are pg.Pool's defaults, not what the generations use (the secret
 * and the rotating pool's options decide that). Every guarantee is the rotating pool's: a rotation
 * or a rejected login never fails a query made through the adapter.
 *
 * An 'error' listener on the adapter receives the idle-client errors of every generation; without
 * one, the rotating pool logs them instead of crashing the app (an EventEmitter 'error' with no
 * listener throws).
 */
export function asPgPool(pool: RotatingPgPool): RotatingPgPoolAdapter {
  return new RotatingPgPoolAdapter(pool);
}

/** The class of {@link asPgPool}'s result: a `pg.Pool` over a rotating pool. */
export class RotatingPgPoolAdapter extends pg.Pool {
  constructor(private readonly rotating: RotatingPgPool) {
    super();
    // pg.Pool declares these as fields (and sets ending/ended in its constructor): own accessors
    // shadow them, so every reader sees the rotating pool's numbers.
    const counters: Record<string, () => unknown> = {
      totalCount: () => rotating.totalCount,
      idleCount: () => rotating.idleCount,
      waitingCount: () => rotating.waitingCount,
      expiredCount: () => 0,
      ending: () => rotating.ended,
      ended: () => rotating.ended,
    };
    for (const [key, get] of Object.entries(counters)) Object.defineProperty(this, key, { get, set: () => {}, configurable: true, enumerable: true });

    // pg.Pool's query overloads (promise, callback, values) are the rotating pool's: the same arguments go through.
    this.query = ((...args: unknown[]): unknown => (rotating.query as (...a: unknown[]) => unknown)(...args)) as pg.Pool['query'];

    // Subscribe to the rotating pool only for the events someone listens to here: an 'error'
    // forwarded to an adapter nobody listens on would throw, while the rotating pool logs it.
    const forwarders = new Map<ForwardedEvent, (...args: never[]) => void>(
      FORWARDED.map((event) => [event, (...args: never[]) => void this.emit(event, ...args)]),
    );
    // pg.Pool types `on` for its own events only; these two are EventEmitter's.
    (this as EventEmitter).on('newListener', (event: string | symbol) => {
      if (isForwarded(event) && this.listenerCount(event) === 0) rotating.on(event as 'connect', forwarders.get(event) as (client: PoolClient) => void);
    });
    (this as EventEmitter).on('removeListener', (event: string | symbol) => {
      if (isForwarded(event) && this.listenerCount(event) === 0) rotating.off(event, forwarders.get(event) as (...args: never[]) => void);
    });
  }

  /** Which credentials new connections use, and the recovery counters: the rotating pool's `rotation`. */
  get rotation(): RotatingPgPool['rotation'] {
    return this.rotating.rotation;
  }

  override connect(): Promise<PoolClient>;
  override connect(callback: ConnectCallback): void;
  override connect(callback?: ConnectCallback): Promise<PoolClient> | void {
    const checkout = this.rotating.connect();
    if (!callback) return checkout;
    checkout.then(
      (client) => callback(undefined, client, (release?: unknown) => client.release(release as Error | boolean | undefined)),
      (err: unknown) => callback(err as Error, undefined, () => {}),
    );
  }

  override end(): Promise<void>;
  override end(callback: () => void): void;
  override end(callback?: (err?: unknown) => void): Promise<void> | void {
    const ended = this.rotating.end();
    if (!callback) return ended;
    ended.then(() => callback(), (err: unknown) => callback(err));
  }
}
