/**
 * One app instance of the rotation soak, as its own process: pg, Redis and SMTP traffic at a fixed
 * pace, with pools that open new connections often (pg: a connection serves 3 queries; SMTP: a
 * pooled connection sends 5 messages), configured by SOAK_APP_CONFIG (JSON).
 *
 * Three modes, same traffic:
 * - `ours`: the subscriber SDK — a CredentialCache on the invalidation channel and the rotating
 *   pg pool, ioredis client and nodemailer transport.
 * - `poll`: what apps do without it — the same cache with invalidations off and a 30 s poll, and
 *   the plain clients reading the polled value: pg asks for the password on every new connection,
 *   the Redis client's password and the SMTP transport are replaced when the poll finds a change.
 *   No retry on an authentication failure.
 * - `peer`: PostgreSQL only, through the AWS Advanced NodeJS Wrapper's Secrets Manager plugin
 *   (soak-peer-pg.ts), which reads Secrets Manager itself: no CredentialCache in this mode.
 *
 * In `ours` and `poll`, counts GetSecretValue calls per secret with SDK middleware (Secrets
 * Manager reads per rotation); the peer's own SDK client is out of reach, soak.ts counts its reads
 * in the aws-proxy-double (test/support) in front of moto_server.
 * Prints JSON lines: `ready`, `rotated` (per secret change it holds, with the time), and on
 * `{"cmd":"stop"}` a `summary` with every operation as [kind, startedAt, latencyMs, ok] and the
 * first failures' messages (client messages, never a credential).
 */
import { createInterface } from 'node:readline';
import type { CredentialCache, RotatedEvent } from '../../src/entry/index.js';
import { now, sleep } from './clock.js';

export interface SoakAppConfig {
  instanceId: string;
  mode: 'ours' | 'poll' | 'peer';
  pollIntervalMs: number;
  aws: { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };
  bus: { url: string; signingKeys: string[] };
  secrets: { db: string; cache: string; mail: string };
  pg: { host: string; port: number; database: string };
  redis: { host: string; port: number };
  smtp: { host: string; port: number };
  /** Pause after each operation, per kind (one loop per kind). */
  pauseMs: { pg: number; redis: number; smtp: number };
  /** An operation slower than this counts as failed (a request a user gave up on). */
  timeoutMs: number;
}

type Kind = 'pg' | 'redis' | 'smtp';
const KINDS: Kind[] = ['pg', 'redis', 'smtp'];
/** A pg connection serves this many queries, then a new one is opened (pools that recycle often). */
const QUERIES_PER_CONNECTION = 3;

const config = JSON.parse(process.env.SOAK_APP_CONFIG ?? '{}') as SoakAppConfig;
const print = (line: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify({ instanceId: config.instanceId, ...line })}\n`);
};

const reads: Record<string, number> = {};

// Each mode imports only the libraries it uses: four processes importing the SDK, ioredis and
// nodemailer for nothing cost the peer's phase seconds of start-up on a loaded 2-core machine.

/** The CredentialCache of `ours` and `poll`, reading through an SDK client that counts GetSecretValue. */
async function startCache(): Promise<CredentialCache> {
  const [{ SecretsManagerClient }, { createCredentialCache }] = await Promise.all([import('@aws-sdk/client-secrets-manager'), import('../../src/entry/index.js')]);
  const client = new SecretsManagerClient({ ...config.aws, credentials: { ...config.aws.credentials } });
  client.middlewareStack.add(
    (next, context) => (args) => {
      if (context.commandName === 'GetSecretValueCommand') {
        const id = String((args.input as { SecretId?: string }).SecretId);
        reads[id] = (reads[id] ?? 0) + 1;
      }
      return next(args);
    },
    { step: 'initialize', name: 'soakCountReads' },
  );
  const cache = createCredentialCache({
    secrets: {
      db: { secretId: config.secrets.db, json: true },
      cache: { secretId: config.secrets.cache, json: true },
      mail: { secretId: config.secrets.mail, json: true },
    },
    ...(config.mode === 'ours' ? { redis: { url: config.bus.url, cluster: false, keyPrefix: 'rotation-relay' }, signingKeys: config.bus.signingKeys } : {}),
    pollIntervalMs: config.pollIntervalMs,
    secretsClient: client,
  });
  await cache.start();
  cache.on('rotated', (event: RotatedEvent) => print({ type: 'rotated', name: event.name, versionId: event.versionId, trigger: event.trigger, at: now() }));
  return cache;
}

interface Creds {
  username: string;
  password: string;
}
const pgOptions = { host: config.pg.host, port: config.pg.port, database: config.pg.database, max: 4, idleTimeoutMillis: 1_000, maxUses: QUERIES_PER_CONNECTION };
const smtpOptions = { host: config.smtp.host, port: config.smtp.port, secure: false, ignoreTLS: true, pool: true, maxConnections: 2, maxMessages: 5 } as const;
const mail = (i: number) => ({ from: 'app@example.test', to: 'ops@example.test', subject: `${config.instanceId} ${i}`, text: 'hi' });

interface Clients {
  operation: Partial<Record<Kind, (i: number) => Promise<unknown>>>;
  close(): Promise<void>;
}

/** The load's three operations, the same for our clients and plain ones (the mailer is looked up per call: poll-only replaces it). */
function operationsOn(
  pool: { query(sql: string): Promise<unknown> },
  redis: { set(key: string, value: string): Promise<unknown> },
  mailer: () => { sendMail(message: ReturnType<typeof mail>): Promise<unknown> },
): Clients['operation'] {
  return {
    pg: () => pool.query('SELECT 1'),
    redis: (i) => redis.set(`${config.instanceId}:k`, String(i)),
    smtp: (i) => mailer().sendMail(mail(i)),
  };
}

async function ours(cache: CredentialCache): Promise<Clients> {
  const [{ createRotatingMailer }, { createRotatingPgPool }, { createRotatingRedis }] = await Promise.all([
    import('../../src/entry/mailer.js'),
    import('../../src/entry/pg.js'),
    import('../../src/entry/redis.js'),
  ]);
  const pool = createRotatingPgPool(cache, 'db', pgOptions);
  const redis = createRotatingRedis(cache, 'cache', { host: config.redis.host, port: config.redis.port });
  const mailer = createRotatingMailer(cache, 'mail', smtpOptions);
  return {
    operation: operationsOn(pool, redis, () => mailer),
    close: async () => {
      await Promise.allSettled([pool.end(), redis.quit(), mailer.close()]);
    },
  };
}

async function pollOnly(cache: CredentialCache): Promise<Clients> {
  const [{ default: pg }, { Redis }, { default: nodemailer }] = await Promise.all([import('pg'), import('ioredis'), import('nodemailer')]);
  const creds = (name: string): Creds => cache.get<Creds>(name);
  const pool = new pg.Pool({ ...pgOptions, user: creds('db').username, password: () => creds('db').password });
  pool.on('error', () => undefined);
  const redis = new Redis({ host: config.redis.host, port: config.redis.port, username: creds('cache').username, password: creds('cache').password });
  redis.on('error', () => undefined);
  const transport = () => nodemailer.createTransport({ ...smtpOptions, auth: { user: creds('mail').username, pass: creds('mail').password } });
  let mailer = transport();
  cache.on('rotated', (event) => {
    if (event.name === 'cache') redis.options.password = creds('cache').password;
    if (event.name === 'mail') {
      const old = mailer;
      mailer = transport();
      old.close();
    }
  });
  return {
    operation: operationsOn(pool, redis, () => mailer),
    close: async () => {
      redis.disconnect();
      mailer.close();
      await pool.end().catch(() => undefined);
    },
  };
}

async function peer(): Promise<Clients> {
  const { createPeerPg } = await import('./soak-peer-pg.js');
  const pool = createPeerPg({ ...config.pg, secretId: config.secrets.db, region: config.aws.region, endpoint: config.aws.endpoint, queriesPerConnection: QUERIES_PER_CONNECTION });
  return { operation: { pg: () => pool.query('SELECT 1') }, close: () => pool.close() };
}

const cache = config.mode === 'peer' ? undefined : await startCache();
const clients = await (cache === undefined ? peer() : config.mode === 'ours' ? ours(cache) : pollOnly(cache));
let running = true;
/** [kind index, startedAt, latencyMs, ok (1/0)] */
const ops: Array<[number, number, number, number]> = [];
const failures: Record<Kind, string[]> = { pg: [], redis: [], smtp: [] };

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`operation timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function loop(kind: Kind): Promise<void> {
  const k = KINDS.indexOf(kind);
  const operation = clients.operation[kind];
  if (!operation) return; // this mode has no client for that kind (the peer is pg only)
  for (let i = 0; running; i += 1) {
    const started = now();
    let ok = 1;
    try {
      await withTimeout(operation(i), config.timeoutMs);
    } catch (error) {
      ok = 0;
      if (failures[kind].length < 5) failures[kind].push(error instanceof Error ? error.message : String(error));
    }
    ops.push([k, Math.round(started * 10) / 10, Math.round((now() - started) * 100) / 100, ok]);
    if (running) await sleep(config.pauseMs[kind]);
  }
}

const loops = KINDS.map((kind) => loop(kind));
print({ type: 'ready', at: now() });

async function stop(): Promise<void> {
  running = false;
  await Promise.all(loops);
  print({ type: 'summary', reads, ops, failures, status: cache?.status().counts });
  await clients.close();
  await cache?.stop();
  process.exit(0);
}

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.includes('"stop"')) void stop();
});
process.once('SIGTERM', () => void stop());
