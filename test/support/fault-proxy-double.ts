import { createServer, request, type IncomingMessage, type Server } from 'node:http';
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

export interface FaultProxyDouble {
  /** `http://127.0.0.1:<port>`: give it to the AWS SDK as the service endpoint. */
  endpoint: string;
  /** Decides per request; `target` is the `X-Amz-Target` action, e.g. `secretsmanager.DescribeSecret`. */
  setFault(rule: (target: string) => Fault | undefined): void;
  /** Requests seen so far, by action. */
  counts(): Map<string, number>;
  stop(): Promise<void>;
}

/**
 * A DOUBLE: an HTTP proxy in front of a real emulator (moto_server) that can delay requests or
 * answer them with AWS-shaped errors, per action. It models slow, throttled or failing AWS
 * endpoints for the tests of the failure contract; everything it forwards is answered by moto.
 */
export async function startFaultProxyDouble(upstream: string): Promise<FaultProxyDouble> {
  const target = new URL(upstream);
  let rule: (action: string) => Fault | undefined = () => undefined;
  const counts = new Map<string, number>();

  const forward = (incoming: IncomingMessage, body: Buffer, respond: (status: number, headers: Record<string, string | string[] | undefined>, payload: Buffer) => void) => {
    const outgoing = request(
      { host: target.hostname, port: target.port, method: incoming.method, path: incoming.url, headers: incoming.headers },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => respond(response.statusCode ?? 502, response.headers, Buffer.concat(chunks)));
      },
    );
    outgoing.on('error', () => respond(502, {}, Buffer.from('upstream unreachable')));
    outgoing.end(body);
  };

  const server: Server = createServer((incoming, response) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const action = String(incoming.headers['x-amz-target'] ?? incoming.url ?? '');
      counts.set(action, (counts.get(action) ?? 0) + 1);
      const fault = rule(action);
      const act = () => {
        if (fault?.status) {
          const type = fault.errorType ?? 'InternalServiceError';
          response.writeHead(fault.status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': type });
          response.end(JSON.stringify({ __type: type, message: `injected by the fault proxy double (${fault.status})` }));
          return;
        }
        forward(incoming, Buffer.concat(chunks), (status, headers, payload) => {
          response.writeHead(status, headers);
          response.end(payload);
        });
      };
      if (fault?.delayMs) setTimeout(act, fault.delayMs);
      else act();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    setFault: (next) => {
      rule = next;
    },
    counts: () => new Map(counts),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
