/**
 * The node-redis internal an emergency revoke uses to drop a connection (node-redis 6.4):
 * `_resetDesyncedConnection(err)` destroys the client's current socket with `err`, which then
 * takes node-redis' own path for a dropped connection: the commands waiting for a reply are
 * rejected with `err`, the commands not yet written stay queued, and the client reconnects at
 * once (its `reconnectStrategy` decides; the default does), through a new handshake that asks the
 * credentials provider again. node-redis calls it itself when a Cluster's slot migration leaves
 * replies it cannot match.
 *
 * Why an internal: node-redis has no public "reconnect now". `destroy()` + `connect()` would
 * also fail the queued commands, emit `'end'` to the app and dispose the client's state; a
 * server-side `CLIENT KILL ID` needs a permission (`@admin`) app users seldom have, and `QUIT`
 * is deprecated. Checked at runtime: if a future node-redis renames it, nothing is dropped, the
 * client warns once and its status says so (`connectionDrop: false`).
 */
interface DropInternals {
  isOpen?: boolean;
  _resetDesyncedConnection?: (err: Error) => void;
}

/** `dropped`: the socket is being closed; `closed`: the client holds no connection (never connected, or closed); `unsupported`: the internal is missing. */
export type DropOutcome = 'dropped' | 'closed' | 'unsupported';

/** Whether `client` (a node-redis client or a Cluster's node connection) has what {@link dropConnection} needs. */
export function canDropConnection(client: unknown): boolean {
  return typeof (client as DropInternals | undefined)?._resetDesyncedConnection === 'function';
}

/**
 * Drops the current connection of one node-redis client so it logs in again; `err` is what the
 * commands in flight on it reject with (and what node-redis emits as `'error'`). Never throws.
 */
export function dropConnection(client: unknown, err: Error): DropOutcome {
  const internals = client as DropInternals | undefined;
  if (!canDropConnection(internals)) return 'unsupported';
  if (internals?.isOpen !== true) return 'closed';
  try {
    internals._resetDesyncedConnection?.(err);
    return 'dropped';
  } catch {
    // The internal exists but no longer works as read here (a node-redis change): same as missing.
    return 'unsupported';
  }
}

/** What dropping a client's connections did: how many sockets are closing, and whether a connection lacked the internal. */
export interface DropReport {
  dropped: number;
  unsupported: boolean;
}

/** {@link dropConnection} on each of `clients` (one standalone client, or a Cluster's node connections). */
export function dropConnections(clients: readonly unknown[], err: Error): DropReport {
  const report: DropReport = { dropped: 0, unsupported: false };
  for (const client of clients) {
    const outcome = dropConnection(client, err);
    if (outcome === 'dropped') report.dropped += 1;
    report.unsupported ||= outcome === 'unsupported';
  }
  return report;
}
