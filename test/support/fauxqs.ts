/*
 * fauxqs (npm, in-process SQS emulator) for tests that need a fast, real-protocol SQS.
 *
 * Redrive: fauxqs 1.9 DOES implement RedrivePolicy (checked in node_modules/fauxqs/dist/sqs/
 * sqsStore.js and by hand, see support-smoke.test.ts). As on AWS, a message whose receive count
 * would exceed maxReceiveCount is moved to the DLQ lazily, by the receive that would have
 * returned it for the (maxReceiveCount + 1)-th time; nothing moves while nobody receives. With
 * maxReceiveCount 2 and VisibilityTimeout 0: receives 1 and 2 return it, receive 3 returns
 * nothing and the DLQ now holds it. moto_server also enforces redrive, with the same timing.
 *
 * Other quirks:
 * - Queue URLs look like http://sqs.us-east-1.localhost:<port>/000000000000/<name>. Clients
 *   built from this handle set `endpoint`, so the SDK never tries to resolve that host name
 *   (it would only if `endpoint` were unset: `useQueueUrlAsEndpoint`). Use the URL exactly as
 *   returned: fauxqs looks queues up by the full URL string.
 * - We use fauxqs's exported `buildApp` and listen ourselves, instead of `startFauxqs()`,
 *   because `startFauxqs` always listens on 0.0.0.0; tests must only listen on loopback.
 * - Any credentials are accepted; the account id is 000000000000.
 */
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SQSClient,
  type QueueAttributeName,
} from '@aws-sdk/client-sqs';
import { buildApp } from 'fauxqs';
import type { AddressInfo } from 'node:net';

export interface CreateFauxqsQueueOptions {
  /** Also create `<name>-dlq` (`<base>-dlq.fifo` for FIFO) and attach it with this RedrivePolicy. */
  dlq?: { maxReceiveCount: number };
  /** Queue `VisibilityTimeout` (default fauxqs/AWS: 30 s). */
  visibilityTimeoutSeconds?: number;
}

export interface FauxqsQueue {
  queueUrl: string;
  queueArn: string;
  dlqUrl?: string;
  dlqArn?: string;
}

export interface FauxqsHandle {
  /** `http://127.0.0.1:<port>`; pass as `endpoint` to `new SQSClient(...)`. */
  endpoint: string;
  region: 'us-east-1';
  credentials: { accessKeyId: 'test'; secretAccessKey: 'test' };
  createQueue(name: string, opts?: CreateFauxqsQueueOptions): Promise<FauxqsQueue>;
  /** Closes the server (and open connections). Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts fauxqs inside the test process on 127.0.0.1 and an OS-assigned port (port 0, so there
 * is no free-port race). In-process means no child to clean up: it dies with the worker.
 */
export async function startFauxqs(): Promise<FauxqsHandle> {
  const app = buildApp({ logger: false, defaultRegion: 'us-east-1' });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const region = 'us-east-1' as const;
  const credentials = { accessKeyId: 'test', secretAccessKey: 'test' } as const;
  const sqs = new SQSClient({ endpoint, region, credentials: { ...credentials } });
  let stopped = false;

  const create = async (name: string, attributes: Partial<Record<QueueAttributeName, string>>) => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    const queueArn = attrs.Attributes?.QueueArn;
    if (!QueueUrl || !queueArn) throw new Error(`fauxqs: CreateQueue ${name} returned no URL/ARN`);
    return { url: QueueUrl, arn: queueArn };
  };

  return {
    endpoint,
    region,
    credentials,
    async createQueue(name, { dlq, visibilityTimeoutSeconds } = {}) {
      const attributes: Partial<Record<QueueAttributeName, string>> = {};
      if (visibilityTimeoutSeconds !== undefined) attributes.VisibilityTimeout = String(visibilityTimeoutSeconds);
      if (!dlq) {
        const main = await create(name, attributes);
        return { queueUrl: main.url, queueArn: main.arn };
      }
      // A FIFO queue needs a FIFO DLQ: `orders.fifo` → `orders-dlq.fifo`.
      const dead = await create(name.replace(/(\.fifo)?$/, '-dlq$1'), {});
      attributes.RedrivePolicy = JSON.stringify({
        deadLetterTargetArn: dead.arn,
        maxReceiveCount: dlq.maxReceiveCount,
      });
      const main = await create(name, attributes);
      return { queueUrl: main.url, queueArn: main.arn, dlqUrl: dead.url, dlqArn: dead.arn };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      sqs.destroy();
      await app.close();
    },
  };
}
