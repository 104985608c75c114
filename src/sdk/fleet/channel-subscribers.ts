import type { FleetSnapshot } from './read-fleet.js';

/**
 * The connection name of `rotation-relay listen`: a debugging subscriber that holds no
 * credentials, so `status` and `wait-converged` leave it out of the count when `CLIENT LIST`
 * identifies it.
 */
export const LISTEN_CONNECTION_NAME = 'rotation-relay:cli:listen';

/**
 * What every CredentialCache's subscriber connection is called, followed by `:<instanceId>`
 * (`listenerConnectionName` in src/sdk/cache/listener-link.ts; a unit test holds the two
 * together). Without the id (an id CLIENT SETNAME cannot carry, a bare InvalidationListener, an
 * older SDK) the name is this prefix alone.
 */
export const LISTENER_CONNECTION_PREFIX = 'rotation-relay:listener';

/** An ioredis Cluster names its subscriber connection `ioredis-cluster(subscriber):<name>`. */
const CLUSTER_NAME_PREFIX = /^ioredis-cluster\([a-z]+\):/;

/** What a subscriber connection's name says about it. */
export type ConnectionIdentity =
  | { kind: 'listener'; instanceId: string }
  | { kind: 'listener-without-id' }
  | { kind: 'cli-listen' }
  | { kind: 'other' };

export function identifyConnection(name: string | undefined): ConnectionIdentity {
  const bare = (name ?? '').replace(CLUSTER_NAME_PREFIX, '');
  if (bare === LISTEN_CONNECTION_NAME) return { kind: 'cli-listen' };
  if (bare === LISTENER_CONNECTION_PREFIX) return { kind: 'listener-without-id' };
  if (bare.startsWith(`${LISTENER_CONNECTION_PREFIX}:`)) return { kind: 'listener', instanceId: bare.slice(LISTENER_CONNECTION_PREFIX.length + 1) };
  return { kind: 'other' };
}

/** One connection in pub/sub mode, from `CLIENT LIST TYPE pubsub` on one node. */
export interface PubsubConnection {
  /** `host:port` of the Redis node it is connected to. */
  node: string;
  /** Its CLIENT SETNAME name; absent when it set none. */
  name?: string;
  /** The client's address as the node sees it (`addr`). */
  addr?: string;
  /** How many channels it is subscribed to (`sub`). */
  channels: number;
}

/** What Redis itself says about the invalidation channel, node by node. */
export interface ChannelReading {
  channel: string;
  /** `PUBSUB NUMSUB <channel>` of every node; `error` instead when the node could not be read. */
  nodes: Array<{ node: string; subscribers?: number; error?: string }>;
  /** Every node's pub/sub connections; absent when `CLIENT LIST` failed on any node. */
  connections?: PubsubConnection[];
  /** Why `connections` is absent (e.g. `NOPERM`). */
  clientListError?: string;
}

/** A subscriber connection that could be one no presence entry accounts for. */
export interface UnaccountedConnection {
  node: string;
  name?: string;
  addr?: string;
  /** Named like a CredentialCache's listener, with this id, which no live presence entry has. */
  instanceId?: string;
}

/** The subscribers on the channel cross-checked against presence. */
export interface SubscriberAccount {
  channel: string;
  /** PUBSUB NUMSUB summed over every node that answered (a connection lives on one node). */
  subscribers: number;
  /** False when some node could not be counted: `subscribers` is then only a lower bound. */
  complete: boolean;
  /** Nodes that could not be counted, with the reason. */
  failedNodes: Array<{ node: string; error: string }>;
  /** Live instances that report presence with their subscription up (or that do not say). */
  reporting: number;
  /**
   * Subscribers nothing accounts for: `subscribers` minus those matched to a live presence entry
   * (by connection name, or by count), minus `rotation-relay listen` connections. 0 or more.
   */
  unaccounted: number;
  /** `client-list`: names were matched; `counts`: CLIENT LIST was not allowed, counts only. */
  method: 'client-list' | 'counts';
  /** Why CLIENT LIST could not be used (method `counts`). */
  clientListError?: string;
  /** `rotation-relay listen` connections left out of the count (method `client-list`). */
  cliListeners: number;
  /** With `unaccounted` > 0 and CLIENT LIST: the connections that can be it (possibly more than `unaccounted`). */
  candidates: UnaccountedConnection[];
  /**
   * Live instances that say they are subscribed but whose subscriber connection is on no node
   * (method `client-list`): typically crashed, presence not expired yet. They account for nothing.
   */
  reportingWithoutConnection: string[];
}

/**
 * The cross-check of `reading` against `fleet`, read in that order (a subscriber that joins in
 * between is then seen in presence too). Each live instance has exactly one subscriber
 * connection while its subscription is up.
 *
 * Counts only: unaccounted = subscribers − reporting instances. That is masked by an instance
 * that reports presence without a connection (crashed, its hash not expired yet), so with
 * CLIENT LIST each `rotation-relay:listener:<id>` connection is matched to the live presence
 * entry `<id>`, and unaccounted = subscribers − matched connections − `rotation-relay listen`
 * connections − (nameless listener connections, up to the unmatched reporting instances whose id
 * a connection name cannot carry). CLIENT LIST cannot say which channel a connection is on: the
 * listen and nameless-listener deductions assume this prefix's channel.
 */
export function accountSubscribers(reading: ChannelReading, fleet: FleetSnapshot): SubscriberAccount {
  let subscribers = 0;
  const failedNodes: SubscriberAccount['failedNodes'] = [];
  for (const node of reading.nodes) {
    if (node.subscribers === undefined) failedNodes.push({ node: node.node, error: node.error ?? 'no reply' });
    else subscribers += node.subscribers;
  }
  const reportingIds = fleet.live.filter((instance) => instance.subscribed !== false).map((instance) => instance.id);
  const base = { channel: reading.channel, subscribers, complete: failedNodes.length === 0, failedNodes, reporting: reportingIds.length };

  if (!reading.connections) {
    return {
      ...base,
      unaccounted: Math.max(0, subscribers - reportingIds.length),
      method: 'counts',
      ...(reading.clientListError !== undefined ? { clientListError: reading.clientListError } : {}),
      cliListeners: 0,
      candidates: [],
      reportingWithoutConnection: [],
    };
  }

  // Any live instance's connection is accounted for, even one whose presence says it is not
  // subscribed (it just resubscribed and has not written yet).
  const liveIds = new Set(fleet.live.map((instance) => instance.id));
  const connected = new Set<string>();
  let matched = 0;
  let cliListeners = 0;
  const withoutId: UnaccountedConnection[] = [];
  const unknown: UnaccountedConnection[] = [];
  for (const connection of reading.connections) {
    if (connection.channels <= 0) continue; // pattern subscriptions only: NUMSUB does not count them
    const identity = identifyConnection(connection.name);
    const entry: UnaccountedConnection = {
      node: connection.node,
      ...(connection.name !== undefined ? { name: connection.name } : {}),
      ...(connection.addr !== undefined ? { addr: connection.addr } : {}),
    };
    if (identity.kind === 'listener' && liveIds.has(identity.instanceId)) {
      matched += 1;
      connected.add(identity.instanceId);
    } else if (identity.kind === 'cli-listen') {
      cliListeners += 1;
    } else if (identity.kind === 'listener-without-id') {
      withoutId.push(entry);
    } else {
      unknown.push(identity.kind === 'listener' ? { ...entry, instanceId: identity.instanceId } : entry);
    }
  }
  const unmatchedReporting = reportingIds.filter((id) => !connected.has(id));
  // A nameless listener connection can belong to a reporting instance only if its id could not
  // be put in the name (the SDK names every other one): those are excused, up to their number.
  const excusedWithoutId = Math.min(withoutId.length, unmatchedReporting.filter((id) => !canBeNamed(id)).length);
  const unaccounted = Math.max(0, subscribers - matched - cliListeners - excusedWithoutId);
  const suspects = [...unknown.filter((c) => c.instanceId !== undefined), ...unknown.filter((c) => c.instanceId === undefined), ...(withoutId.length > excusedWithoutId ? withoutId : [])];
  return {
    ...base,
    unaccounted,
    method: 'client-list',
    cliListeners,
    candidates: unaccounted === 0 ? [] : suspects,
    reportingWithoutConnection: unmatchedReporting.filter(canBeNamed),
  };
}

/** CLIENT SETNAME takes `!`…`~` only: a listener of an id with other characters has no id in its name. */
function canBeNamed(id: string): boolean {
  return /^[\x21-\x7e]+$/.test(id);
}

/** Parses `CLIENT LIST` output (one client per line, `key=value` fields) into pub/sub connections. */
export function parseClientList(text: string, node: string): PubsubConnection[] {
  const connections: PubsubConnection[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const fields = new Map<string, string>();
    for (const part of line.trim().split(' ')) {
      const at = part.indexOf('=');
      if (at > 0) fields.set(part.slice(0, at), part.slice(at + 1));
    }
    const channels = Number(fields.get('sub') ?? '0');
    const name = fields.get('name');
    const addr = fields.get('addr');
    connections.push({
      node,
      channels: Number.isFinite(channels) ? channels : 0,
      ...(name ? { name } : {}),
      ...(addr ? { addr } : {}),
    });
  }
  return connections;
}
