/**
 * A Secrets Manager proxy DOUBLE for the rotation soak's peer: an HTTP proxy in front of
 * moto_server that forwards every request unchanged, except that a `secretsmanager.GetSecretValue`
 * naming neither `VersionStage` nor `VersionId` gets `"VersionStage":"AWSCURRENT"` added, and that
 * it counts GetSecretValue calls per SecretId.
 *
 * Why: the peer (the AWS Advanced NodeJS Wrapper's Secrets Manager plugin) reads its secret
 * without a stage. Real AWS answers such a read with AWSCURRENT; moto_server answers it with its
 * own "default version" pointer, which UpdateSecretVersionStage does not move (see the QUIRK in
 * test/support/moto-server.ts), so after a rotation moto would keep handing the peer the old
 * password forever and the peer would look far worse than it is. Adding the stage makes moto
 * answer what AWS answers. The count is the peer's Secrets Manager reads: the plugin builds its
 * own SDK client, so the app process cannot count them the way soak-app.ts counts ours.
 *
 * Signatures: the SDK signs the body (SigV4), so the rewritten request no longer matches its
 * signature. moto_server does not verify signatures (any credentials are accepted), which the
 * soak relies on; against real AWS this proxy could not work, and it is never pointed there.
 * Only GetSecretValue bodies are touched; everything else (and every response) passes through
 * byte for byte.
 */
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StageProxyDouble {
  /** `http://127.0.0.1:<port>`: the Secrets Manager endpoint to give the peer. */
  endpoint: string;
  /** GetSecretValue calls so far, per SecretId as the caller passed it. */
  reads(): Record<string, number>;
  /** How many of those reads had no stage and got AWSCURRENT added. */
  stagesAdded(): number;
  stop(): Promise<void>;
}

const GET_SECRET_VALUE = 'secretsmanager.GetSecretValue';

/** Starts the proxy on 127.0.0.1 (an OS-assigned port) in front of `target` (moto's endpoint). */
export async function startStageProxyDouble(target: string): Promise<StageProxyDouble> {
  const upstream = new URL(target);
  // Keep-alive to moto: the peer opens many short clients, the proxy should not add a TCP handshake to each read.
  const agent = new Agent({ keepAlive: true });
  const reads: Record<string, number> = {};
  let added = 0;

  const rewrite = (req: IncomingMessage, body: Buffer): Buffer => {
    if (req.headers['x-amz-target'] !== GET_SECRET_VALUE) return body;
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return body; // not JSON: let moto answer it with its own error
    }
    const id = String(input.SecretId);
    reads[id] = (reads[id] ?? 0) + 1;
    if (input.VersionStage !== undefined || input.VersionId !== undefined) return body;
    added += 1;
    return Buffer.from(JSON.stringify({ ...input, VersionStage: 'AWSCURRENT' }), 'utf8');
  };

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    const headers = { ...req.headers, host: upstream.host, 'content-length': String(body.length) };
    const out = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    out.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`stage-proxy-double: moto_server at ${target} did not answer (${error.message}); is it still running?`);
    });
    out.end(body);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => forward(req, res, rewrite(req, Buffer.concat(chunks))));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    reads: () => ({ ...reads }),
    stagesAdded: () => added,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
