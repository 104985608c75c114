import type pg from 'pg';

/**
 * The pg-pool 3.x internals an emergency revoke needs, in one place and checked at runtime:
 * `_clients` (every client of the pool: idle, checked out, still connecting), `_idle` (the idle
 * ones) and `_pendingQueue` (checkouts waiting for a client), and each client's
 * `connection.stream` (its socket). pg-pool has no public way to close a checked-out client: its
 * `end()` waits for every one to be released.
 */
interface PoolInternals {
  _clients: PoolClientInternals[];
  _idle: Array<{ client: PoolClientInternals }>;
  _pendingQueue: Array<{ callback: (err: Error) => void }>;
}

interface PoolClientInternals {
  connection?: { stream?: { destroyed?: boolean; destroy(error?: Error): void; once(event: 'close', listener: () => void): unknown } };
  on(event: 'error', listener: (err: Error) => void): unknown;
}

function internalsOf(pool: pg.Pool): PoolInternals | undefined {
  const internals = pool as unknown as Partial<PoolInternals>;
  return Array.isArray(internals._clients) && Array.isArray(internals._idle) && Array.isArray(internals._pendingQueue) ? (internals as PoolInternals) : undefined;
}

/**
 * Closes a pg pool now, for an emergency revoke: checkouts still waiting fail with
 * `terminated()`, every socket of a client in use (a query in flight, a client the app checked
 * out) is destroyed with it — pg hands that error to the query in flight, and the app's next
 * query on a checked-out client fails too — and idle clients end as `pool.end()` ends them.
 * Resolves once the busy sockets are closed; the pool itself ends when the app has released its
 * clients, as pg-pool's `end()` does. Returns false, after a plain `end()`, when pg-pool's
 * internals are not what this module expects (a pg-pool major that renamed them): the pool then
 * closes only after its work, as a drain would.
 */
export async function terminatePgPool(pool: pg.Pool, terminated: () => Error): Promise<boolean> {
  const internals = internalsOf(pool);
  if (!internals) {
    await pool.end();
    return false;
  }
  // Before anything fails: once ending, pg-pool neither hands a client back out nor opens a new
  // one for a queued checkout, and it ends the idle clients.
  void pool.end().catch(() => undefined);
  // pg-pool leaves queued checkouts waiting for ever after end(); they never started, fail them.
  for (const item of internals._pendingQueue.splice(0)) item.callback(terminated());
  const idle = new Set(internals._idle.map((item) => item.client));
  const busy = internals._clients.filter((client) => !idle.has(client));
  await Promise.all(
    busy.map(
      (client) =>
        new Promise<void>((resolve) => {
          // pg reports the socket error to the query in flight and then emits it on the client: a
          // checked-out client has no pool listener, and an 'error' without one would crash the app.
          client.on('error', () => undefined);
          const stream = client.connection?.stream;
          if (!stream || stream.destroyed) return resolve();
          stream.once('close', resolve);
          stream.destroy(terminated());
        }),
    ),
  );
  return true;
}
