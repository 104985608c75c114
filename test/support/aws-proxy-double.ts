import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the double does to a request; `undefined` forwards it untouched. */
export interface Fault {
  /** Wait this long before forwarding. */
  delayMs?: number;
  /** Answer with this status and an AWS-style JSON error instead of forwarding. */
  status?: number;
  /** The AWS error type in the body (`ThrottlingException`, `InternalServiceError`…). */
  errorType?: string;
}

export interface AwsProxyOptions {
  /**
   * Add `"VersionStage":"AWSCURRENT"` to a `secretsmanager.GetSecretValue` that names neither a
   * stage nor a version. Real AWS answers such a read with AWSCURRENT; moto_server answers it with
   * its own "default version" pointer, which UpdateSecretVersionStage does not move (the QUIRK in
   * test/support/moto-server.ts), so a client that reads without a stage (the soak's peer) would
   * get the old value for ever. @defaultValue false
   */
  addStageToStagelessReads?: boolean;
}

export interface AwsProxyDouble {
  /** `http://127.0.0.1:<port>`: give it to the AWS SDK as the service endpoint. */
  endpoint: string;
  /** Decides per request; `target` is the `X-Amz-Target` action, e.g. `secretsmanager.DescribeSecret`. */
  setFault(rule: (target: string) => Fault | undefined): void;
  /** Requests seen so far, by action. */
  counts(): Map<string, number>;
  /** GetSecretValue calls so far, per SecretId as the caller passed it. */
  reads(): Record<string, number>;
  /** How many GetSecretValue calls had no stage and got AWSCURRENT added (`addStageToStagelessReads`). */
  stagesAdded(): number;
  stop(): Promise<void>;
}

const GET_SECRET_VALUE = 'secretsmanager.GetSecretValue';

/**
 * A DOUBLE: the one HTTP proxy the tests and the benchmarks put in front of a real emulator
 * (moto_server, fauxqs). Per action it can delay a request or answer it with an AWS-shaped error
 * (slow, throttled or failing endpoints for the failure contract); it counts requests by action
 * and GetSecretValue calls per SecretId (a client that builds its own SDK client can be counted
 * nowhere else); and it can add the stage AWS would imply to a stageless read. Everything else is
 * forwarded byte for byte and answered by the emulator.
 *
 * Signatures: the SDK signs the body (SigV4), so a rewritten request no longer matches its
 * signature. moto_server does not verify signatures; against real AWS this double could not work,
 * and it is never pointed there.
 */
export async function startAwsProxyDouble(upstream: string, options: AwsProxyOptions = {}): Promise<AwsProxyDouble> {
  const target = new URL(upstream);
  // Keep-alive upstream: clients that open many short connections should not pay a handshake per call twice.
  const agent = new Agent({ keepAlive: true });
  let rule: (action: string) => Fault | undefined = () => undefined;
  const counts = new Map<string, number>();
  const reads: Record<string, number> = {};
  let added = 0;

  const rewrite = (action: string, body: Buffer): Buffer => {
    if (action !== GET_SECRET_VALUE) return body;
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return body; // not JSON: let the emulator answer it with its own error
    }
    const id = String(input.SecretId);
    reads[id] = (reads[id] ?? 0) + 1;
    if (!options.addStageToStagelessReads || input.VersionStage !== undefined || input.VersionId !== undefined) return body;
    added += 1;
    return Buffer.from(JSON.stringify({ ...input, VersionStage: 'AWSCURRENT' }), 'utf8');
  };

  const forward = (incoming: IncomingMessage, response: ServerResponse, body: Buffer): void => {
    const headers = { ...incoming.headers, host: target.host, 'content-length': String(body.length) };
    const outgoing = request({ host: target.hostname, port: target.port, method: incoming.method, path: incoming.url, headers, agent }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    });
    outgoing.on('error', (error) => {
      if (!response.headersSent) response.writeHead(502, { 'content-type': 'text/plain' });
      response.end(`aws-proxy-double: upstream ${upstream} did not answer (${error.message})`);
    });
    outgoing.end(body);
  };

  const server = createServer((incoming, response) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const action = String(incoming.headers['x-amz-target'] ?? incoming.url ?? '');
      counts.set(action, (counts.get(action) ?? 0) + 1);
      const body = rewrite(action, Buffer.concat(chunks));
      const fault = rule(action);
      const act = (): void => {
        if (fault?.status) {
          const type = fault.errorType ?? 'InternalServiceError';
          response.writeHead(fault.status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': type });
          response.end(JSON.stringify({ __type: type, message: `injected by the AWS proxy double (${fault.status})` }));
          return;
        }
        forward(incoming, response, body);
      };
      if (fault?.delayMs) setTimeout(act, fault.delayMs);
      else act();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    setFault: (next) => {
      rule = next;
    },
    counts: () => new Map(counts),
    reads: () => ({ ...reads }),
    stagesAdded: () => added,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
