import { createServer, type Socket, type AddressInfo } from 'node:net';

/** An endpoint that accepts connections and never answers. */
export interface BlackholeDouble {
  /** `http://127.0.0.1:<port>`: give it as an AWS endpoint (AWS_ENDPOINT_URL…). */
  readonly endpoint: string;
  readonly port: number;
  /** Connections accepted so far: proof that the client got through TCP and then waited. */
  accepted(): number;
  /** Closes the listener and every connection. Idempotent. */
  stop(): Promise<void>;
}

/**
 * A DOUBLE: a TCP listener that completes every handshake, reads and drops what it is sent, and
 * never writes a byte. It models the endpoint a client cannot tell from a slow one — a proxy or
 * firewall that holds connections, a service that hangs — where neither a refused connection nor
 * a connection timeout ever fires, and only the client's own request timeout ends the wait.
 */
export async function startBlackholeDouble(): Promise<BlackholeDouble> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server = createServer((socket) => {
    count += 1;
    sockets.add(socket);
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let stopped: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    accepted: () => count,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      });
      return stopped;
    },
  };
}
