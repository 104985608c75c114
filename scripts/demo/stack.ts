/**
 * Everything the demo runs, started with the test launchers and stopped in order: app instances
 * first (their summaries are the result), then the worker, then the servers they all use.
 */
import { randomBytes } from 'node:crypto';
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { CliIo } from '../../src/ops/cli/io.js';
import { runCli } from '../../src/ops/cli/run.js';
import { launchAppInstance, parseAppInstanceLine, type AppInstanceLine } from '../../test/support/app-instance/launch.js';
import { runCliProcess, type CliProcess } from '../../test/support/cli-process.js';
import { motoClientConfig, startMoto, type MotoHandle } from '../../test/support/moto-server.js';
import { MotoSecrets, type TestSecret } from '../../test/support/moto-secrets.js';
import { startRedis, type RedisHandle } from '../../test/support/redis-server.js';
import { RotationTargets, type SecretKind } from '../../test/support/rotation-targets.js';
import { waitUntil } from '../../test/support/wait-until.js';
import { launchDjangoInstance } from './django-instance.js';
import type { Endpoints } from './render.js';

/** The stack name given to `rotation-relay infra apply`: queue, DLQs and rule are named after it. */
export const STACK = 'rotation-relay';

export interface DemoStackOptions {
  instances: number;
  /** One Django instance (examples/django_subscriber.py) beside the Node ones. */
  django: boolean;
  windowMs: number;
  /** Aborts start-up between steps (Ctrl-C while starting). */
  signal: AbortSignal;
  progress(line: string): void;
  onInstanceLine(line: AppInstanceLine): void;
  onWorkerLine(line: string): void;
  onInstanceStarted(instanceId: string, pid: number | undefined): void;
  /** A process the demo started ended while it was not stopping it. */
  onUnexpectedExit(name: string, how: number | string, stderrTail: string[]): void;
}

interface Named {
  name: string;
  process: CliProcess;
}

/** Calls `onLine` with every complete line the stream of `process` writes. */
function eachLine(process: CliProcess, stream: 'stdout' | 'stderr', onLine: (line: string) => void): void {
  let pending = '';
  process.child[stream]?.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (line.length > 0) onLine(line);
  });
}

/** A CliIo that collects output, for running `rotation-relay infra apply` in-process. */
function collectingIo(env: Record<string, string>): CliIo & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    out: (line) => void lines.push(...line.split('\n')),
    err: (line) => void lines.push(...line.split('\n')),
    readStdin: async () => '',
    env,
    untilSignal: () => new Promise<NodeJS.Signals>(() => undefined),
  };
}

export class DemoStack {
  moto?: MotoHandle;
  bus?: RedisHandle;
  targets?: RotationTargets;
  secrets?: Record<SecretKind, TestSecret>;
  queueUrl = '';
  worker?: Named;
  readonly instances: Named[] = [];
  readonly signingKey = randomBytes(32).toString('base64url');
  private eventBridge?: EventBridgeClient;
  private secretsManager?: MotoSecrets;
  private stopping = false;

  constructor(private readonly options: DemoStackOptions) {}

  /** Starts everything; on failure or abort, what did start is left for `stop()`. */
  async start(): Promise<void> {
    const { progress, signal } = this.options;
    progress('starting moto_server, a redis-server for the invalidations, PostgreSQL, a redis-server and an SMTP server for the app, on loopback ports…');
    const started = await Promise.allSettled([startMoto(), startRedis(), RotationTargets.start({ singleUserWindowMs: this.options.windowMs })] as const);
    const [moto, bus, targets] = started;
    if (moto.status === 'fulfilled') this.moto = moto.value;
    if (bus.status === 'fulfilled') this.bus = bus.value;
    if (targets.status === 'fulfilled') this.targets = targets.value;
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    signal.throwIfAborted();
    const motoHandle = this.moto as MotoHandle;
    const busHandle = this.bus as RedisHandle;
    const targetsHandle = this.targets as RotationTargets;

    const aws = {
      AWS_REGION: motoHandle.region,
      AWS_ENDPOINT_URL: motoHandle.endpoint,
      AWS_ACCESS_KEY_ID: motoHandle.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: motoHandle.credentials.secretAccessKey,
    };
    // The queue, its DLQs and the EventBridge rule exactly as an operator creates them on AWS.
    const io = collectingIo(aws);
    const code = await runCli(['infra', 'apply', '--name', STACK, '--secret-prefix', '*', '--json'], io);
    const applied = io.lines.map((line) => (line.startsWith('{') ? (JSON.parse(line) as { queueUrl?: string }) : {})).find((doc) => doc.queueUrl);
    if (code !== 0 || !applied?.queueUrl) throw new Error(`rotation-relay infra apply against moto_server failed (exit ${code}):\n${io.lines.join('\n')}`);
    this.queueUrl = applied.queueUrl;
    this.eventBridge = new EventBridgeClient(motoClientConfig(motoHandle));
    this.secretsManager = new MotoSecrets(motoHandle);
    this.secrets = await targetsHandle.createSecrets(this.secretsManager, 'demo');
    progress(`EventBridge rule ${STACK} → SQS ${this.queueUrl}; secrets ${Object.values(this.secrets).map((s) => s.name).join(', ')}`);
    signal.throwIfAborted();

    const worker = runCliProcess(
      ['worker'],
      {
        ...aws,
        ROTATION_RELAY_QUEUE_URL: this.queueUrl,
        ROTATION_RELAY_REDIS_URL: busHandle.url,
        ROTATION_RELAY_SIGNING_KEYS: this.signingKey,
        ROTATION_RELAY_HEALTH_PORT: '0',
        ROTATION_RELAY_HEALTH_HOST: '127.0.0.1',
        ROTATION_RELAY_METRICS: 'false',
        ROTATION_RELAY_LOG_LEVEL: 'info',
      },
      { detached: true },
    );
    this.worker = this.watch('worker', worker);
    eachLine(worker, 'stdout', (line) => this.options.onWorkerLine(line));

    // What every app instance, Node or Django, is given: where AWS, the bus and its three servers are.
    const everyInstance = {
      aws: { endpoint: motoHandle.endpoint, region: motoHandle.region, credentials: { ...motoHandle.credentials } },
      bus: { url: busHandle.url, signingKeys: [this.signingKey] },
      secrets: { db: this.secrets.db.arn, cache: this.secrets.cache.arn, mail: this.secrets.mail.arn },
      ...targetsHandle.endpoints(),
    };
    for (let i = 1; i <= this.options.instances; i += 1) {
      const instanceId = `app-${i}`;
      const process = launchAppInstance(
        {
          instanceId,
          ...everyInstance,
          // Versions and latencies come from the instance's `rotated` lines at once; the counts of
          // operations once a second are enough for the table (and keep the output small: the
          // process launcher keeps every line in memory).
          statsEveryMs: 1_000,
          // A busy web app rather than the saturation of the e2e test: a few hundred operations a
          // second per instance, new pg connections all the time (the pool's maxUses is 5).
          loadPauseMs: { pg: 10, redis: 10, smtp: 50 },
        },
        { detached: true },
      );
      this.addInstance(instanceId, process);
    }
    if (this.options.django) {
      const instanceId = 'django-1';
      const process = launchDjangoInstance({ instanceId, ...everyInstance }, { detached: true });
      this.addInstance(instanceId, process);
    }
    const instances = `${this.options.instances} app instance${this.options.instances === 1 ? '' : 's'}${this.options.django ? ' and a Django instance' : ''}`;
    progress(`starting the worker (pid ${worker.child.pid}) and ${instances} (pids ${this.instances.map((i) => i.process.child.pid).join(', ')})…`);
    await Promise.all([
      this.ready(this.worker, (line) => line.includes('"worker started"')),
      ...this.instances.map((instance) => this.ready(instance, (line) => line.includes('"type":"ready"'))),
    ]);
  }

  endpoints(): Endpoints {
    const ep = this.targets?.endpoints();
    return {
      moto: this.moto?.endpoint ?? '-',
      bus: this.bus?.url ?? '-',
      queueUrl: this.queueUrl,
      rule: STACK,
      postgres: ep ? `${ep.pg.host}:${ep.pg.port}` : '-',
      redis: ep ? `${ep.redis.host}:${ep.redis.port}` : '-',
      smtp: ep ? `${ep.smtp.host}:${ep.smtp.port}` : '-',
    };
  }

  /** Puts events on the default bus, as Secrets Manager and CloudTrail do; returns when moto has routed them. */
  async putEvents(events: Array<Record<string, unknown>>): Promise<void> {
    if (!this.eventBridge) throw new Error('the demo stack is not started');
    const entries: PutEventsRequestEntry[] = events.map((event) => ({
      Source: String(event['source']),
      DetailType: String(event['detail-type']),
      Detail: JSON.stringify(event['detail']),
      Resources: (event['resources'] as string[] | undefined) ?? [],
      ...(typeof event['time'] === 'string' ? { Time: new Date(event['time']) } : {}),
    }));
    const result = await this.eventBridge.send(new PutEventsCommand({ Entries: entries }));
    const failed = (result.Entries ?? []).find((entry) => entry.ErrorCode);
    if ((result.FailedEntryCount ?? 0) > 0 || failed) {
      throw new Error(
        `moto_server refused PutEvents with source ${entries[0]?.Source}: ${failed?.ErrorCode ?? ''} ${failed?.ErrorMessage ?? ''}`.trim() +
          ' (moto 5.x accepts aws.* sources; AWS itself does not, which is why `infra verify` mirrors them)',
      );
    }
  }

  /** Stops everything that started, in order; safe to call at any point, and more than once. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.instances.map((instance) => terminate(instance.process, 15_000)));
    if (this.worker) await terminate(this.worker.process, 15_000);
    this.eventBridge?.destroy();
    this.secretsManager?.client.destroy();
    await Promise.allSettled([this.targets?.stop(), this.bus?.stop(), this.moto?.stop()]);
  }

  /** An app instance (Node or Django): both print the JSON lines of test/support/app-instance. */
  private addInstance(instanceId: string, process: CliProcess): void {
    this.instances.push(this.watch(instanceId, process));
    this.options.onInstanceStarted(instanceId, process.child.pid);
    eachLine(process, 'stdout', (text) => {
      const line = parseAppInstanceLine(text);
      if (line) this.options.onInstanceLine(line);
    });
  }

  private watch(name: string, process: CliProcess): Named {
    void process.exited.then((how) => {
      if (!this.stopping) this.options.onUnexpectedExit(name, how, process.stderr().slice(-10));
    });
    return { name, process };
  }

  /** Waits for the line that says `name` is up; fails at once, quoting its stderr, if it exits first. */
  private async ready({ name, process }: Named, isReady: (line: string) => boolean): Promise<void> {
    const died = new AbortController();
    void process.exited.then((how) => died.abort(new Error(`${name} exited (${how}) while starting:\n${process.stderr().slice(-15).join('\n')}`)));
    await waitUntil(() => process.stdout().some(isReady), {
      timeoutMs: 60_000,
      intervalMs: 50,
      message: `${name} to start`,
      signal: AbortSignal.any([this.options.signal, died.signal]),
    });
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
async function terminate(process: CliProcess, graceMs: number): Promise<void> {
  let gone = false;
  void process.exited.then(() => {
    gone = true;
  });
  await Promise.resolve();
  if (gone || process.child.exitCode !== null || process.child.signalCode !== null) return;
  process.signal('SIGTERM');
  const timer = setTimeout(() => process.signal('SIGKILL'), graceMs);
  try {
    await process.exited;
  } finally {
    clearTimeout(timer);
  }
}
