import { describe, expect, it } from 'vitest';
import {
  accountSubscribers,
  identifyConnection,
  LISTEN_CONNECTION_NAME,
  parseClientList,
  type ChannelReading,
  type FleetInstance,
  type FleetSnapshot,
  type PubsubConnection,
} from '../../../src/sdk/fleet/index.js';
import { listenerConnectionName } from '../../../src/sdk/cache/credential-cache.js';

const CHANNEL = '{rotation-relay}:invalidations';
const NODE = '127.0.0.1:6379';

function live(id: string, subscribed?: boolean): FleetInstance {
  return { id, lastSeenAt: 1, acks: [], ...(subscribed !== undefined ? { subscribed } : {}) };
}

function fleet(...instances: FleetInstance[]): FleetSnapshot {
  return { readAt: 1, live: instances, stopped: [] };
}

function pubsub(name: string | undefined, channels = 1, node = NODE): PubsubConnection {
  return { node, channels, addr: `10.0.0.9:${40_000 + (name?.length ?? 0)}`, ...(name !== undefined ? { name } : {}) };
}

function reading(counts: number[] | number, connections?: PubsubConnection[], clientListError?: string): ChannelReading {
  const nodes = (Array.isArray(counts) ? counts : [counts]).map((subscribers, i) => ({ node: `127.0.0.1:${7000 + i}`, subscribers }));
  return { channel: CHANNEL, nodes, ...(connections ? { connections } : {}), ...(clientListError ? { clientListError } : {}) };
}

describe('identifyConnection', () => {
  it.each([
    ['web-1:4242:a1b2c3', { kind: 'listener', instanceId: 'web-1:4242:a1b2c3' }],
    ['app-0', { kind: 'listener', instanceId: 'app-0' }],
  ])('recognises the CredentialCache listener name listenerConnectionName(%j) and gives back the id', (id, identity) => {
    expect(identifyConnection(listenerConnectionName(id))).toEqual(identity);
  });

  it('sees through the ioredis Cluster prefix of a subscriber connection', () => {
    expect(identifyConnection(`ioredis-cluster(subscriber):${listenerConnectionName('web-1:1:abcdef')}`)).toEqual({ kind: 'listener', instanceId: 'web-1:1:abcdef' });
    expect(identifyConnection(`ioredis-cluster(subscriber):${LISTEN_CONNECTION_NAME}`)).toEqual({ kind: 'cli-listen' });
  });

  it('tells a listener whose id a connection name cannot carry (the bare prefix) from the listen CLI and from strangers', () => {
    expect(identifyConnection(listenerConnectionName('wébserver:1:abcdef'))).toEqual({ kind: 'listener-without-id' });
    expect(identifyConnection(listenerConnectionName(undefined))).toEqual({ kind: 'listener-without-id' });
    expect(identifyConnection(LISTEN_CONNECTION_NAME)).toEqual({ kind: 'cli-listen' });
    expect(identifyConnection('rotation-relay:listenerX')).toEqual({ kind: 'other' });
    expect(identifyConnection(undefined)).toEqual({ kind: 'other' });
  });
});

describe('parseClientList', () => {
  it('reads name, addr and channel count of each line of CLIENT LIST TYPE pubsub (Redis 7.0 format)', () => {
    const text = [
      'id=7 addr=127.0.0.1:51540 laddr=127.0.0.1:6379 fd=9 name=rotation-relay:listener:web-1:7:abcdef age=3 idle=3 flags=P db=0 sub=1 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=1800 events=r cmd=subscribe user=subscriber redir=-1 resp=2',
      'id=8 addr=10.1.2.3:40000 laddr=127.0.0.1:6379 fd=10 name= age=1 idle=1 flags=P db=0 sub=0 psub=2 ssub=0 multi=-1 cmd=psubscribe user=default redir=-1 resp=2',
      '',
    ].join('\n');

    expect(parseClientList(text, NODE)).toEqual([
      { node: NODE, name: 'rotation-relay:listener:web-1:7:abcdef', addr: '127.0.0.1:51540', channels: 1 },
      { node: NODE, addr: '10.1.2.3:40000', channels: 0 },
    ]);
  });
});

describe('accountSubscribers', () => {
  it('counts only, without CLIENT LIST: subscribers on the channel minus live instances that report their subscription', () => {
    // Act
    const account = accountSubscribers(reading(3, undefined, 'NOPERM'), fleet(live('a', true), live('b')));

    // Assess
    expect(account).toMatchObject({ subscribers: 3, reporting: 2, unaccounted: 1, method: 'counts', clientListError: 'NOPERM', candidates: [], complete: true });
  });

  it('sums PUBSUB NUMSUB over every node: a subscriber connection lives on exactly one', () => {
    const account = accountSubscribers(reading([1, 0, 2, 1]), fleet(live('a'), live('b'), live('c')));
    expect(account).toMatchObject({ subscribers: 4, reporting: 3, unaccounted: 1 });
  });

  it('leaves out live instances whose presence says their subscription is down', () => {
    expect(accountSubscribers(reading(2), fleet(live('a', true), live('b', false))).unaccounted).toBe(1);
  });

  it('names a subscriber that counts alone would hide behind a crashed instance whose presence has not expired', () => {
    // Prepare: 'crashed' still has its presence hash but no connection; 'ghost' listens without presence.
    const snapshot = fleet(live('alive', true), live('crashed', true));
    const connections = [pubsub(listenerConnectionName('alive')), pubsub(listenerConnectionName('ghost'))];

    // Act
    const byCounts = accountSubscribers(reading(2), snapshot);
    const byNames = accountSubscribers(reading(2, connections), snapshot);

    // Assess
    expect(byCounts.unaccounted).toBe(0);
    expect(byNames).toMatchObject({ method: 'client-list', unaccounted: 1, reportingWithoutConnection: ['crashed'] });
    expect(byNames.candidates).toEqual([expect.objectContaining({ name: 'rotation-relay:listener:ghost', instanceId: 'ghost', node: NODE })]);
  });

  it('leaves rotation-relay listen out when CLIENT LIST identifies it, and counts it when only counts are known', () => {
    // Prepare
    const snapshot = fleet(live('a'));
    const connections = [pubsub(listenerConnectionName('a')), pubsub(LISTEN_CONNECTION_NAME)];

    // Act
    const named = accountSubscribers(reading(2, connections), snapshot);
    const counted = accountSubscribers(reading(2, undefined, 'NOPERM'), snapshot);

    // Assess
    expect(named).toMatchObject({ unaccounted: 0, cliListeners: 1, candidates: [] });
    expect(counted).toMatchObject({ unaccounted: 1, cliListeners: 0 });
  });

  it('accounts every connection named after a live instance, a leftover second one included', () => {
    const connections = [pubsub(listenerConnectionName('a')), pubsub(listenerConnectionName('a')), pubsub(listenerConnectionName('b'))];
    expect(accountSubscribers(reading(3, connections), fleet(live('a'), live('b', false))).unaccounted).toBe(0);
  });

  it('excuses a nameless listener only for a reporting instance whose id no connection name can carry', () => {
    // Prepare
    const nameless = [pubsub(listenerConnectionName(undefined))];

    // Act
    const unnameable = accountSubscribers(reading(1, nameless), fleet(live('wébserver:1:abcdef')));
    const nameable = accountSubscribers(reading(1, nameless), fleet(live('crashed:1:abcdef')));

    // Assess
    expect(unnameable).toMatchObject({ unaccounted: 0, reportingWithoutConnection: [] });
    expect(nameable).toMatchObject({ unaccounted: 1, reportingWithoutConnection: ['crashed:1:abcdef'] });
    expect(nameable.candidates).toEqual([expect.objectContaining({ name: 'rotation-relay:listener' })]);
  });

  it('ignores pattern-only connections (NUMSUB does not count them) and names no one when nothing is missing', () => {
    // Prepare: another prefix's listener on the same Redis is a pub/sub connection too.
    const connections = [pubsub(listenerConnectionName('a')), pubsub('monitor', 0), pubsub(listenerConnectionName('other-prefix-app'))];

    // Act
    const account = accountSubscribers(reading(1, connections), fleet(live('a')));

    // Assess
    expect(account).toMatchObject({ unaccounted: 0, candidates: [] });
  });

  it('lists every connection that can be the missing one when there are more suspects than missing subscribers', () => {
    const connections = [pubsub(listenerConnectionName('a')), pubsub('app-in-python'), pubsub(listenerConnectionName('gone'))];
    const account = accountSubscribers(reading(2, connections), fleet(live('a')));
    expect(account.unaccounted).toBe(1);
    // The listener-named one first: it is the likeliest.
    expect(account.candidates.map((c) => c.name)).toEqual(['rotation-relay:listener:gone', 'app-in-python']);
  });

  it('is incomplete, a lower bound, when a node could not be counted', () => {
    const account = accountSubscribers({ channel: CHANNEL, nodes: [{ node: 'n1', subscribers: 1 }, { node: 'n2', error: 'NOPERM' }] }, fleet(live('a')));
    expect(account).toMatchObject({ subscribers: 1, complete: false, failedNodes: [{ node: 'n2', error: 'NOPERM' }], unaccounted: 0 });
  });
});
