import type { Pool } from 'mysql2/promise';

/**
 * The mysql2 3.x internals an emergency revoke needs, in one place and checked at runtime: the
 * promise pool's core `pool`, its `_allConnections` and `_freeConnections` (ring queues with
 * `length` and `get(i)`), and each connection's `stream` (its socket). mysql2 has no public way
 * to close a checked-out connection at once: `end()` queues a QUIT behind the query in flight.
 */
interface RingQueue<T> {
  length: number;
  get(index: number): T;
}

interface ConnectionInternals {
  stream?: { destroyed?: boolean; destroy(error?: Error): void; once(event: 'close', listener: () => void): unknown };
  on(event: 'error', listener: (err: Error) => void): unknown;
}

interface CorePoolInternals {
  _allConnections: RingQueue<ConnectionInternals>;
  _freeConnections: RingQueue<ConnectionInternals>;
}

function coreOf(pool: Pool): CorePoolInternals | undefined {
  const core = (pool as unknown as { pool?: Partial<CorePoolInternals> }).pool;
  const isQueue = (queue: unknown): boolean => typeof (queue as RingQueue<unknown> | undefined)?.get === 'function';
  return core && isQueue(core._allConnections) && isQueue(core._freeConnections) ? (core as CorePoolInternals) : undefined;
}

function itemsOf<T>(queue: RingQueue<T>): T[] {
  return Array.from({ length: queue.length }, (_, index) => queue.get(index));
}

/**
 * Closes a mysql2 pool now, for an emergency revoke: `end()` first (queued checkouts fail with
 * mysql2's "Pool is closed.", idle connections QUIT, and the pool opens no connection any more),
 * then every connection in use has its socket destroyed with `terminated()`, which mysql2 hands
 * to the query in flight. Resolves once those sockets are closed. Returns false, after a plain
 * `end()`, when mysql2's internals are not what this module expects: the pool then closes only
 * after the queries in flight, as a drain would.
 */
export async function terminateMysql2Pool(pool: Pool, terminated: () => Error): Promise<boolean> {
  const core = coreOf(pool);
  if (!core) {
    await pool.end();
    return false;
  }
  const free = new Set(itemsOf(core._freeConnections));
  const busy = itemsOf(core._allConnections).filter((connection) => !free.has(connection));
  // end() rejects with the error the destroyed sockets give its QUITs: expected, not a failure.
  void pool.end().catch(() => undefined);
  await Promise.all(
    busy.map(
      (connection) =>
        new Promise<void>((resolve) => {
          // mysql2 emits the socket error on the connection after the query has it: never unhandled.
          connection.on('error', () => undefined);
          const stream = connection.stream;
          if (!stream || stream.destroyed) return resolve();
          stream.once('close', resolve);
          stream.destroy(terminated());
        }),
    ),
  );
  return true;
}
