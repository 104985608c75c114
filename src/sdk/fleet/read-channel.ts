import { Cluster, type Redis } from 'ioredis';
import { protocolKeys } from '../../protocol/index.js';
import { waitForReady } from '../../redis/index.js';
import { parseClientList, type ChannelReading, type PubsubConnection } from './channel-subscribers.js';
import { Deadline } from './deadline.js';
import type { RedisClient } from '../../common/index.js';

export interface ReadChannelOptions {
  /** Bounds every node's connect and reads. @defaultValue 10 s from the call */
  deadline?: Deadline;
}

/**
 * `PUBSUB NUMSUB` and `CLIENT LIST TYPE pubsub` of the invalidation channel, pipelined on every
 * node: the one server, or on Redis Cluster every master **and** replica (`nodes('all')`), since
 * NUMSUB counts only the subscribers connected to the node that answers and a subscriber
 * connection lives on exactly one node. A node runs its two commands back to back. A node
 * that fails is reported as such (the count is then incomplete); a CLIENT LIST that fails (NOPERM
 * for a user without `+client|list`) only drops the names.
 */
export async function readChannel(redis: RedisClient, keyPrefix: string, options: ReadChannelOptions = {}): Promise<ChannelReading> {
  const { channel } = protocolKeys(keyPrefix);
  const deadline = options.deadline ?? Deadline.in(10_000);
  const nodes: Redis[] = redis instanceof Cluster ? redis.nodes('all') : [redis];
  const replies = await Promise.all(nodes.map((node) => readNode(node, channel, deadline)));
  const reading: ChannelReading = { channel, nodes: replies.map((reply) => reply.count) };
  // A cluster client that knows no node cannot count anything: incomplete, not zero.
  if (nodes.length === 0) reading.nodes.push({ node: '(no cluster node known)', error: 'the cluster client knows no node yet' });
  const listError = replies.find((reply) => reply.connections === undefined);
  if (listError) reading.clientListError = listError.listError ?? 'not read';
  else reading.connections = replies.flatMap((reply) => reply.connections ?? []);
  return reading;
}

interface NodeReply {
  count: ChannelReading['nodes'][number];
  connections?: PubsubConnection[];
  listError?: string;
}

async function readNode(node: Redis, channel: string, deadline: Deadline): Promise<NodeReply> {
  const name = `${node.options.host ?? '?'}:${node.options.port ?? '?'}`;
  try {
    // Cluster nodes connect lazily, and with the offline queue off (the CLI) a command sent
    // before the node is ready fails at once: wait for it, within the deadline.
    if (node.status === 'wait') node.connect().catch(() => undefined);
    if (node.status !== 'ready') await deadline.bound(waitForReady(node, deadline.remainingMs()), `Redis node ${name}`);
    const results = (await deadline.bound(node.pipeline().pubsub('NUMSUB', channel).client('LIST', 'TYPE', 'PUBSUB').exec(), `PUBSUB NUMSUB on ${name}`)) ?? [];
    const [numsubError, numsub] = results[0] ?? [new Error('no reply'), undefined];
    const [listError, list] = results[1] ?? [new Error('no reply'), undefined];
    const subscribers = numsubError ? undefined : numsubCount(numsub);
    const count = subscribers === undefined ? { node: name, error: numsubError ? reason(numsubError) : 'unexpected PUBSUB NUMSUB reply' } : { node: name, subscribers };
    if (listError || typeof list !== 'string') return { count, listError: listError ? reason(listError) : 'no reply' };
    return { count, connections: parseClientList(list, name) };
  } catch (error) {
    return { count: { node: name, error: reason(error) }, listError: reason(error) };
  }
}

/** `[channel, count]`. */
function numsubCount(reply: unknown): number | undefined {
  const count = Array.isArray(reply) ? Number(reply[1]) : Number.NaN;
  return Number.isInteger(count) && count >= 0 ? count : undefined;
}

/** `NOPERM` for an ACL refusal (the usual case, and all an operator needs), else the message. */
function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.startsWith('NOPERM') ? 'NOPERM' : message;
}
