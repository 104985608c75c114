import { createServer, connect, type Socket, type AddressInfo } from 'node:net';
import { registerCleanup } from './cleanup-registry.js';

export interface FreezeProxyDouble {
  /** `redis://127.0.0.1:<port>`: give it to a client instead of the real server's URL. */
  url: string;
  /**
   * Stop forwarding in both directions without closing anything: the client notices nothing,
   * and what the server sends meanwhile (a PUBLISH, say) waits in the proxy.
   */
  freeze(): void;
  /** Drop every connection (and what waited in it) and forward again: the client reconnects. */
  reset(): void;
  stop(): Promise<void>;
}

/**
 * A DOUBLE: a TCP proxy in front of a real redis-server that can go silent (a network partition
 * the client does not see) and then drop its connections, so a subscriber really misses a
 * broadcast and has to reconcile after reconnecting. Kept apart from tcp-proxy-double.ts (rules
 * per connection name, reset or blackhole modes) because the fleet tests need only this one
 * switch, for every connection at once.
 */
export async function startFreezeProxyDouble(targetPort: number): Promise<FreezeProxyDouble> {
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  let frozen = false;
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    const pair = { client, upstream };
    pairs.add(pair);
    const relay = (from: Socket, to: Socket) =>
      from.on('data', (chunk: Buffer) => {
        // While frozen, data is dropped: the partition loses it, as a real one would.
        if (!frozen) to.write(chunk);
      });
    relay(client, upstream);
    relay(upstream, client);
    const close = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const unregister = registerCleanup(`tcp proxy ${port}`, () => server.close());
  return {
    url: `redis://127.0.0.1:${port}`,
    freeze: () => {
      frozen = true;
    },
    reset: () => {
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
      frozen = false;
    },
    stop: async () => {
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
      unregister();
    },
  };
}
