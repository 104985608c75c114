import { createServer } from 'node:net';

/**
 * Asks the kernel for a currently unused TCP port on 127.0.0.1.
 *
 * Why: every service a test starts (redis-server, moto_server, postgres) must listen on a port
 * private to this test run, because two test files run in parallel and CI may already run
 * system-wide services on the default ports (6379, 5432, …). Binding port 0 and reading the
 * assigned number back is the only portable way to find one.
 *
 * Caveat: the port is released before the caller's child process binds it, so another process
 * can grab it in between. The launchers therefore retry with a fresh port when a child exits
 * with "Address already in use" (see `isAddressInUse` in spawn-daemon.ts).
 */
export function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`freePort: unexpected server address ${String(address)}`));
        return;
      }
      const { port } = address;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/**
 * Runs `start(port)` with a fresh free port, retrying (default 3 attempts) with another port if
 * it fails because the port got taken between {@link freePort} and the child's bind, which we
 * recognise by "Address already in use" in the error (launchers quote the child's log in it).
 *
 * Why: closes the race `freePort` cannot close on its own, without serialising test files.
 */
export async function withFreePort<T>(start: (port: number) => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (err) {
      if (attempt >= attempts || !isAddressInUse(err)) throw err;
    }
  }
}

function isAddressInUse(err: unknown): boolean {
  return err instanceof Error && /address already in use|EADDRINUSE/i.test(err.message);
}
