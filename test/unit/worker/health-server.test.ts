import { Agent, request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startHealthServer, type HealthChecks, type HealthServer } from '../../../src/relay/worker/health-server.js';

const HOST = '127.0.0.1';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request on a fresh connection (no keep-alive pool), so a closed server is observable. */
function call(port: number, path: string, method = 'GET', agent: Agent | false = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: HOST, port, path, method, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Readiness the test can flip between requests. */
function switchableChecks(initial: { ready: boolean; checks: Record<string, boolean> }): HealthChecks & { set(next: typeof initial): void } {
  let state = initial;
  return {
    ready: () => state,
    set(next) {
      state = next;
    },
  };
}

describe('startHealthServer', () => {
  const started: HealthServer[] = [];

  async function start(checks: HealthChecks): Promise<HealthServer> {
    const server = await startHealthServer(HOST, 0, checks);
    started.push(server);
    return server;
  }

  afterEach(async () => {
    await Promise.all(started.splice(0).map((server) => server.close()));
  });

  it('listens on an ephemeral port when asked for port 0', async () => {
    // Prepare
    const checks = switchableChecks({ ready: true, checks: {} });

    // Act
    const server = await start(checks);

    // Assess
    expect(server.port).toBeGreaterThan(0);
    expect(server.port).not.toBe(0);
  });

  it('answers /healthz with 200 even when not ready', async () => {
    // Prepare
    const server = await start(switchableChecks({ ready: false, checks: { redis: false } }));

    // Act
    const reply = await call(server.port, '/healthz');

    // Assess
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/json');
    expect(JSON.parse(reply.body)).toEqual({ status: 'ok' });
  });

  it('answers /readyz with 200 when the checks say ready', async () => {
    // Prepare
    const server = await start(switchableChecks({ ready: true, checks: { consuming: true, redis: true } }));

    // Act
    const reply = await call(server.port, '/readyz');

    // Assess
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toEqual({ status: 'ready', checks: { consuming: true, redis: true } });
  });

  it('answers /readyz with 503 and the failing checks when not ready', async () => {
    // Prepare
    const server = await start(switchableChecks({ ready: false, checks: { consuming: true, redis: false } }));

    // Act
    const reply = await call(server.port, '/readyz');

    // Assess
    expect(reply.status).toBe(503);
    const parsed = JSON.parse(reply.body) as { status: string; checks: Record<string, boolean> };
    expect(parsed.status).toBe('not-ready');
    expect(parsed.checks).toEqual({ consuming: true, redis: false });
  });

  it('evaluates readiness on every request', async () => {
    // Prepare
    const checks = switchableChecks({ ready: false, checks: { redis: false } });
    const server = await start(checks);
    const before = await call(server.port, '/readyz');

    // Act
    checks.set({ ready: true, checks: { redis: true } });
    const after = await call(server.port, '/readyz');

    // Assess
    expect(before.status).toBe(503);
    expect(after.status).toBe(200);
  });

  it('ignores the query string when routing', async () => {
    // Prepare
    const server = await start(switchableChecks({ ready: true, checks: {} }));

    // Act
    const reply = await call(server.port, '/readyz?verbose=1');

    // Assess
    expect(reply.status).toBe(200);
  });

  it('answers HEAD like GET, without a body', async () => {
    // Prepare
    const server = await start(switchableChecks({ ready: true, checks: {} }));

    // Act
    const reply = await call(server.port, '/healthz', 'HEAD');

    // Assess
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('');
  });

  it.each(['/', '/health', '/readyz/extra', '/metrics'])('answers 404 for %s', async (path) => {
    // Prepare
    const server = await start(switchableChecks({ ready: true, checks: {} }));

    // Act
    const reply = await call(server.port, path);

    // Assess
    expect(reply.status).toBe(404);
    expect(JSON.parse(reply.body)).toEqual({ status: 'not-found' });
  });

  it.each(['POST', 'PUT', 'DELETE'])('answers 405 with an Allow header for %s', async (method) => {
    // Prepare
    let consulted = 0;
    const server = await start({
      ready: () => {
        consulted += 1;
        return { ready: true, checks: {} };
      },
    });

    // Act
    const reply = await call(server.port, '/readyz', method);

    // Assess
    expect(reply.status).toBe(405);
    expect(reply.headers['allow']).toBe('GET, HEAD');
    expect(consulted).toBe(0);
  });

  it('rejects when the port is already taken', async () => {
    // Prepare
    const first = await start(switchableChecks({ ready: true, checks: {} }));

    // Act
    const second = startHealthServer(HOST, first.port, switchableChecks({ ready: true, checks: {} }));

    // Assess
    await expect(second).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it('resolves close() and stops answering on the port', async () => {
    // Prepare
    const server = await startHealthServer(HOST, 0, switchableChecks({ ready: true, checks: {} }));
    const before = await call(server.port, '/healthz');

    // Act
    await server.close();

    // Assess
    expect(before.status).toBe(200);
    await expect(call(server.port, '/healthz')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('resolves close() while a client keeps an idle keep-alive connection open', async () => {
    // Prepare
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const server = await startHealthServer(HOST, 0, switchableChecks({ ready: true, checks: {} }));
    try {
      await call(server.port, '/healthz', 'GET', agent);
      const pooled = Object.values(agent.freeSockets).flat().length;

      // Act
      await server.close();

      // Assess
      expect(pooled).toBe(1);
      await expect(call(server.port, '/healthz')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      agent.destroy();
    }
  });
});
