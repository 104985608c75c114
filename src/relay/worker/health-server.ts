import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HealthChecks {
  /** Everything the readiness probe needs: consumer polling and Redis ready. */
  ready(): { ready: boolean; checks: Record<string, boolean> };
}

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

/**
 * `/healthz`: the process is alive (an orchestrator restarts it otherwise).
 * `/readyz`: it is consuming and can publish; 503 with the failing checks while Redis is down,
 * so a deployment rolls forward only onto workers that can actually relay.
 */
export async function startHealthServer(host: string, port: number, checks: HealthChecks): Promise<HealthServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (path === '/readyz') {
      const { ready, checks: detail } = checks.ready();
      response
        .writeHead(ready ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: ready ? 'ready' : 'not-ready', checks: detail }));
      return;
    }
    response.writeHead(404, { 'content-type': 'application/json' }).end('{"status":"not-found"}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
