/**
 * One app instance of the rotation soak, as its own process: pg, Redis and SMTP traffic at a fixed
 * pace (one loop per kind, or only the kinds `kinds` names; MySQL only where `kinds` names it),
 * configured by SOAK_APP_CONFIG (JSON).
 * The pg pool opens new connections often (a connection serves 3 queries), so every rotation meets
 * new logins; so does the MySQL loop (`mysql`, the rotating mysql2 pool, `ours` only): its
 * connection is destroyed after QUERIES_PER_CONNECTION queries (mysql2 has no `maxUses`). The SMTP pool keeps its connections (`smtp.maxMessages`, set by soak.ts): a new SMTP
 * connection waits about 100 ms for the test server's greeting, and recycling one every few
 * messages made the soak's latency tail that wait and nothing else.
 *
 * Three modes, same traffic:
 * - `ours`: the subscriber SDK — a CredentialCache on the invalidation channel and the rotating
 *   pg pool, ioredis client and nodemailer transport.
 * - `poll`: what apps do without it — the same cache with invalidations off and a poll every
 *   `pollIntervalMs` (±10 % jitter, the cache's default), and the plain clients reading the polled
 *   value: pg asks for the password on every new connection, the Redis client's password and the
 *   SMTP transport are replaced when the poll finds a change. No retry on an authentication failure.
 * - `peer`: PostgreSQL only, through the AWS Advanced NodeJS Wrapper's Secrets Manager plugin
 *   (soak-peer-pg.ts), which reads Secrets Manager itself: no CredentialCache in this mode.
 * `ours` with `kinds: ['pg']` is the peer's work done by the SDK (the pg-only phase): only the pg
 * loop, and a cache holding only the pg secret.
 *
 * In `ours` and `poll`, counts GetSecretValue calls per secret with SDK middleware (Secrets
 * Manager reads per rotation); the peer's own SDK client is out of reach, soak.ts counts its reads
 * in the aws-proxy-double (test/support) in front of moto_server, and counts the pg-only and
 * poll-only phases' reads there too (their `aws.endpoint` is that proxy).
 * Prints JSON lines: `ready`, `rotated` (per secret change it holds, with the time), and on
 * `{"cmd":"stop"}` a `summary` with every operation as [kind, startedAt, latencyMs, ok] and the
 * first failures' messages (client messages, never a credential).
 */
import { createInterface } from 'node:readline';
import type { CredentialCache, RotatedEvent } from '../../src/entry/index.js';
import { now, sleep } from './clock.js';
import { SOAK_KINDS, type SoakKind } from './soak-kinds.js';

export interface SoakAppConfig {
  instanceId: string;
  mode: 'ours' | 'poll' | 'peer';
  /** `ours` only: the loops to run and the secrets the cache holds. @defaultValue pg, redis and smtp */
  kinds?: SoakKind[];
  pollIntervalMs: number;
  aws: { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };
  bus: { url: string; signingKeys: string[] };
  secrets: { db: string; cache: string; mail: string; mysqldb?: string };
  pg: { host: string; port: number; database: string };
  /** The MariaDB server of the `mysql` loop. */
  mysql?: { host: string; port: number; database: string };
  redis: { host: string; port: number };
  /** nodemailer pool settings besides the address: soak.ts reports them with the result. */
  smtp: { host: string; port: number; maxConnections: number; maxMessages: number };
  /** Pause after each operation, per kind (one loop per kind). */
  pauseMs: { pg: number; redis: number; smtp: number; mysql: number };
  /** An operation slower than this counts as failed (a request a user gave up on). */
  timeoutMs: number;
}

export type { SoakKind };
type Kind = SoakKind;
const KINDS: readonly Kind[] = SOAK_KINDS;
/** A pg connection serves this many queries, then a new one is opened (pools that recycle often). */
const QUERIES_PER_CONNECTION = 3;

const config = JSON.parse(process.env.SOAK_APP_CONFIG ?? '{}') as SoakAppConfig;
const print = (line: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify({ instanceId: config.instanceId, ...line })}\n`);
};

const reads: Record<string, number> = {};
const kinds = new Set<Kind>(config.kinds ?? ['pg', 'redis', 'smtp']);

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
  // Only the secrets this instance's loops use: the pg-only phase holds the pg secret alone, as the peer does.
  const secrets = {
    ...(kinds.has('pg') ? { db: { secretId: config.secrets.db, json: true } } : {}),
    ...(kinds.has('redis') ? { cache: { secretId: config.secrets.cache, json: true } } : {}),
    ...(kinds.has('smtp') ? { mail: { secretId: config.secrets.mail, json: true } } : {}),
    ...(kinds.has('mysql') && config.secrets.mysqldb ? { mysqldb: { secretId: config.secrets.mysqldb, json: true } } : {}),
  };
  const cache = createCredentialCache({
    secrets,
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
const smtpOptions = {
  host: config.smtp.host,
  port: config.smtp.port,
  secure: false,
  ignoreTLS: true,
  pool: true,
  maxConnections: config.smtp.maxConnections,
  maxMessages: config.smtp.maxMessages,
} as const;
const mail = (i: number) => ({ from: 'app@example.test', to: 'ops@example.test', subject: `${config.instanceId} ${i}`, text: 'hi' });

interface Clients {
  operation: Partial<Record<Kind, (i: number) => Promise<unknown>>>;
  close(): Promise<void>;
}

/**
 * The load's operations, the same for our clients and plain ones (the mailer is looked up per
 * call: poll-only replaces it). A client left out has no operation, so its loop does not run.
 */
function operationsOn(
  pool: { query(sql: string): Promise<unknown> } | undefined,
  redis: { set(key: string, value: string): Promise<unknown> } | undefined,
  mailer: (() => { sendMail(message: ReturnType<typeof mail>): Promise<unknown> }) | undefined,
): Clients['operation'] {
  return {
    ...(pool ? { pg: () => pool.query('SELECT 1') } : {}),
    ...(redis ? { redis: (i: number) => redis.set(`${config.instanceId}:k`, String(i)) } : {}),
    ...(mailer ? { smtp: (i: number) => mailer().sendMail(mail(i)) } : {}),
  };
}

/** The MySQL operation: a checkout, one query, and every QUERIES_PER_CONNECTION-th connection destroyed so the pool logs in again. */
async function mysqlOperation(cache: CredentialCache): Promise<{ operation: (i: number) => Promise<unknown>; end: () => Promise<void> }> {
  const { createRotatingMysql2Pool } = await import('../../src/entry/mysql2.js');
  const pool = createRotatingMysql2Pool(cache, 'mysqldb', { ...config.mysql, connectionLimit: 4 });
  return {
    operation: async (i) => {
      const connection = await pool.getConnection();
      try {
        await connection.query('SELECT 1');
      } finally {
        if (i % QUERIES_PER_CONNECTION === QUERIES_PER_CONNECTION - 1) connection.destroy();
        else connection.release();
      }
    },
    end: () => pool.end(),
  };
}

async function ours(cache: CredentialCache): Promise<Clients> {
  const [{ createRotatingMailer }, { createRotatingPgPool }, { createRotatingRedis }] = await Promise.all([
    import('../../src/entry/mailer.js'),
    import('../../src/entry/pg.js'),
    import('../../src/entry/redis.js'),
  ]);
  const pool = kinds.has('pg') ? createRotatingPgPool(cache, 'db', pgOptions) : undefined;
  const redis = kinds.has('redis') ? createRotatingRedis(cache, 'cache', { host: config.redis.host, port: config.redis.port }) : undefined;
  const mailer = kinds.has('smtp') ? createRotatingMailer(cache, 'mail', smtpOptions) : undefined;
  const mysql = kinds.has('mysql') && config.mysql ? await mysqlOperation(cache) : undefined;
  return {
    operation: { ...operationsOn(pool, redis, mailer && (() => mailer)), ...(mysql ? { mysql: mysql.operation } : {}) },
    close: async () => {
      await Promise.allSettled([pool?.end(), redis?.quit(), mailer?.close(), mysql?.end()]);
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
      // Later, not now: close() fails a message still queued on it ("Connection pool was closed"),
      // a failure of the swap, not of the stale password. Every send begun on it has ended by then.
      setTimeout(() => old.close(), config.timeoutMs).unref();
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
const failures: Record<Kind, string[]> = { pg: [], redis: [], smtp: [], mysql: [] };

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
