import { createConnection, createServer, type Server, type Socket, type AddressInfo } from 'node:net';

/**
 * What the double does with one client connection, decided once its Redis connection name is
 * known (or known to be absent):
 * - `pass`: forward both ways to the real redis-server;
 * - `reset`: close it with a TCP RST (a connection refused or torn down by the network);
 * - `blackhole`: keep it open and drop every byte both ways (a silent partition: the client sees
 *   no error, its commands simply never get an answer);
 * - `{ resetAfterMs }`: forward, then reset after that long (accepted, then torn down).
 */
export type ProxyAction = 'pass' | 'reset' | 'blackhole' | { resetAfterMs: number };

/** One client connection, as a rule sees it. */
export interface ProxiedConnection {
  /** 1, 2, 3 … in the order the double accepted them. */
  seq: number;
  /** The `CLIENT SETNAME` it sent on connect (ioredis' `connectionName`); undefined if none. */
  name: string | undefined;
  /** What the double is doing with it now. */
  state: 'classifying' | 'passing' | 'blackholed' | 'closed';
}

export type ProxyRule = (connection: Readonly<ProxiedConnection>) => ProxyAction;

export interface TcpProxyDouble {
  /** `redis://127.0.0.1:<port>`: give it to the code under test instead of the server's URL. */
  readonly url: string;
  readonly port: number;
  /** Decides for connections classified from now on; open ones are left alone (see `partition`). */
  setRule(rule: ProxyRule): void;
  /**
   * A network partition for the connections `affects` selects (default: all): open ones are
   * reset, or blackholed in `blackhole` mode, and new ones get the same until `heal`.
   */
  partition(options?: { mode?: 'reset' | 'blackhole'; affects?: (name: string | undefined) => boolean }): void;
  /**
   * Ends the partition for the connections `affects` selects (default: all), so heals can be
   * staggered by connection name. Blackholed connections that are healed are reset: the bytes
   * dropped meanwhile cannot be replayed, as TCP gives up on a connection after a long partition.
   */
  heal(affects?: (name: string | undefined) => boolean): void;
  /** Every connection seen so far (open and closed), oldest first. */
  connections(): ProxiedConnection[];
  /** Closes the listener and every connection. Idempotent. */
  stop(): Promise<void>;
}

/** How long a connection that sent no CLIENT SETNAME waits before it is classified as unnamed. */
const CLASSIFY_TIMEOUT_MS = 100;

/**
 * A DOUBLE: a TCP proxy between a client and a real redis-server that models network partitions
 * per connection. It reads the `CLIENT SETNAME` ioredis sends on connect, so a test can cut or
 * heal the subscriber connection and the command connection of one SDK instance separately,
 * in any order — what a partition that heals unevenly does. Everything it passes is answered by
 * the real server.
 */
export async function startTcpProxyDouble(upstream: { host: string; port: number }): Promise<TcpProxyDouble> {
  let rule: ProxyRule = () => 'pass';
  const seen: Array<ProxiedConnection & { client: Socket; server?: Socket }> = [];
  let stopped = false;

  const close = (entry: (typeof seen)[number], how: 'reset' | 'end'): void => {
    entry.state = 'closed';
    for (const socket of [entry.client, entry.server]) {
      if (!socket || socket.destroyed) continue;
      if (how === 'reset') socket.resetAndDestroy();
      else socket.destroy();
    }
  };

  const blackhole = (entry: (typeof seen)[number]): void => {
    entry.state = 'blackholed';
    entry.client.unpipe();
    entry.server?.unpipe();
    entry.server?.destroy();
    delete entry.server;
    entry.client.removeAllListeners('data');
    entry.client.on('data', () => undefined);
    // unpipe() left the socket paused: keep reading (and dropping), or the client's own close of
    // a silent connection (what a timeout does) would never reach the double.
    entry.client.resume();
  };

  const act = (entry: (typeof seen)[number], buffered: Buffer): void => {
    const action = rule(entry);
    if (action === 'reset') return close(entry, 'reset');
    if (action === 'blackhole') return blackhole(entry);
    const server = createConnection({ host: upstream.host, port: upstream.port });
    entry.server = server;
    entry.state = 'passing';
    server.on('error', () => close(entry, 'reset'));
    server.on('close', () => {
      if (entry.state === 'passing') close(entry, 'end');
    });
    server.write(buffered);
    entry.client.removeAllListeners('data');
    entry.client.pipe(server);
    server.pipe(entry.client);
    if (typeof action === 'object') {
      setTimeout(() => {
        if (entry.state === 'passing') close(entry, 'reset');
      }, action.resetAfterMs).unref();
    }
  };

  const server: Server = createServer((client) => {
    if (stopped) return void client.destroy();
    const entry: (typeof seen)[number] = { seq: seen.length + 1, name: undefined, state: 'classifying', client };
    seen.push(entry);
    client.on('error', () => close(entry, 'end'));
    client.on('close', () => close(entry, 'end'));
    let buffered = Buffer.alloc(0);
    const classify = () => {
      clearTimeout(timer);
      if (entry.state === 'classifying') act(entry, buffered);
    };
    const timer = setTimeout(classify, CLASSIFY_TIMEOUT_MS);
    timer.unref();
    client.on('data', (chunk: Buffer) => {
      if (entry.state !== 'classifying') return;
      buffered = Buffer.concat([buffered, chunk]);
      const name = connectionNameIn(buffered);
      if (name !== undefined) {
        entry.name = name;
        classify();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  let blocked: { mode: 'reset' | 'blackhole'; affects: (name: string | undefined) => boolean } | undefined;
  const healed: Array<(name: string | undefined) => boolean> = [];
  let userRule: ProxyRule = () => 'pass';
  const isBlocked = (name: string | undefined) => blocked !== undefined && blocked.affects(name) && !healed.some((h) => h(name));
  rule = (connection) => (isBlocked(connection.name) ? (blocked?.mode ?? 'reset') : userRule(connection));

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    setRule(next) {
      userRule = next;
    },
    partition(options = {}) {
      blocked = { mode: options.mode ?? 'reset', affects: options.affects ?? (() => true) };
      healed.length = 0;
      for (const entry of seen) {
        if (entry.state !== 'passing' || !blocked.affects(entry.name)) continue;
        if (blocked.mode === 'reset') close(entry, 'reset');
        else blackhole(entry);
      }
    },
    heal(affects) {
      const selects = affects ?? (() => true);
      if (affects === undefined) {
        blocked = undefined;
        healed.length = 0;
      } else {
        healed.push(affects);
      }
      for (const entry of seen) if (entry.state === 'blackholed' && selects(entry.name)) close(entry, 'reset');
    },
    connections: () => seen.map(({ seq, name, state }) => ({ seq, name, state })),
    stop: () =>
      new Promise<void>((resolve) => {
        if (stopped) return resolve();
        stopped = true;
        for (const entry of seen) close(entry, 'end');
        server.close(() => resolve());
      }),
  };
}

/**
 * The name in a RESP `CLIENT SETNAME <name>` (or `HELLO … SETNAME <name>`) at the start of a
 * connection, once its bytes are complete; undefined while it is not (yet) there.
 */
export function connectionNameIn(buffer: Buffer): string | undefined {
  const text = buffer.toString('latin1');
  const match = /\$7\r\nSETNAME\r\n\$(\d+)\r\n/i.exec(text);
  if (!match) return undefined;
  const start = match.index + match[0].length;
  const length = Number(match[1]);
  if (text.length < start + length + 2) return undefined;
  return buffer.subarray(start, start + length).toString('utf8');
}
