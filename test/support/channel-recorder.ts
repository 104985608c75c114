import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { startRedis, type RedisHandle } from './redis-server.js';
import { waitUntil } from './wait-until.js';

const SENTINEL = 'channel-recorder:sentinel';

/**
 * A private redis-server, a command connection and a subscriber recording one pub/sub channel:
 * for tests of what a publish script broadcasts.
 */
export interface ChannelRecorder {
  readonly server: RedisHandle;
  /** The connection tests publish and read keys with. */
  readonly client: Redis;
  /**
   * Every message published since the last call (or `clear()`), once a sentinel published after
   * them has arrived: one connection's publishes reach a subscriber in order, so "nothing was
   * broadcast" is proven without a fixed sleep.
   */
  drain(): Promise<string[]>;
  /** Forgets what was received (say, in `beforeEach` after a FLUSHALL). */
  clear(): void;
  stop(): Promise<void>;
}

export async function startChannelRecorder(channel: string): Promise<ChannelRecorder> {
  const server = await startRedis();
  const client = new Redis(server.url);
  const subscriber = new Redis(server.url);
  let received: string[] = [];
  subscriber.on('message', (_channel: string, message: string) => received.push(message));
  await subscriber.subscribe(channel);
  return {
    server,
    client,
    async drain() {
      await client.publish(channel, SENTINEL);
      await waitUntil(() => received.includes(SENTINEL), { message: `the sentinel on ${channel} to arrive` });
      const messages = received.filter((message) => message !== SENTINEL);
      received = [];
      return messages;
    },
    clear() {
      received = [];
    },
    async stop() {
      subscriber.disconnect();
      client.disconnect();
      await server.stop();
    },
  };
}

/**
 * For a test file about one channel: starts a recorder before its tests, flushes Redis and
 * forgets what was received before each test, and stops it after them.
 */
export function useChannelRecorder(channel: string): { readonly client: Redis; drain(): Promise<string[]> } {
  let recorder: ChannelRecorder | undefined;
  const started = (): ChannelRecorder => {
    if (!recorder) throw new Error('the channel recorder is used outside its tests');
    return recorder;
  };
  beforeAll(async () => {
    recorder = await startChannelRecorder(channel);
  });
  afterAll(async () => {
    await recorder?.stop();
  });
  beforeEach(async () => {
    await started().client.flushall();
    started().clear();
  });
  return {
    get client() {
      return started().client;
    },
    drain: () => started().drain(),
  };
}
