/**
 * One app instance as a separate process, the way a web app uses rotation-relay: a credential
 * cache subscribed to invalidations, a rotating pg pool, ioredis client and nodemailer transport,
 * and continuous traffic on all three. Configured by APP_INSTANCE_CONFIG (JSON); prints JSON
 * lines: `ready`, periodic `stats`, a `rotated` line each time the cache adopts a new version
 * (with the wall-clock time, so the demo can measure propagation from the event's enqueue), and a
 * final `summary` on SIGTERM. Launch it with `launchAppInstance` (./launch.ts).
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
// Only the package's public API, as an app would import it.
import { createRotatingMailer } from '../../../src/entry/mailer.js';
import { createRotatingPgPool } from '../../../src/entry/pg.js';
import { createRotatingRedis } from '../../../src/entry/redis.js';
import { createCredentialCache, createLogger } from '../../../src/entry/index.js';
import { startLoadLoop, type LoadLoop } from '../load-loop.js';

export interface AppInstanceConfig {
  instanceId: string;
  aws: { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };
  bus: { url: string; signingKeys: string[] };
  secrets: { db: string; cache: string; mail: string };
  pg: { host: string; port: number; database: string };
  redis: { host: string; port: number };
  smtp: { host: string; port: number };
  statsEveryMs: number;
  /** Pause after each operation, per client (ms). @defaultValue pg 2, redis 2, smtp 10 */
  loadPauseMs?: { pg: number; redis: number; smtp: number };
  /** The cache's log level, written to stderr. @defaultValue `'silent'` */
  logLevel?: string;
  /** Presence timing (the partition drill uses short beats). @defaultValue the SDK's (10 s / 30 s) */
  presence?: { heartbeatIntervalMs: number; ttlMs: number };
}

const config = JSON.parse(process.env.APP_INSTANCE_CONFIG ?? '{}') as AppInstanceConfig;
const print = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ instanceId: config.instanceId, ...line })}\n`);

const cache = createCredentialCache({
  secrets: {
    db: { secretId: config.secrets.db, json: true },
    cache: { secretId: config.secrets.cache, json: true },
    mail: { secretId: config.secrets.mail, json: true },
  },
  redis: { url: config.bus.url, cluster: false, keyPrefix: 'rotation-relay' },
  signingKeys: config.bus.signingKeys,
  secretsClient: new SecretsManagerClient(config.aws),
  presence: { instanceId: config.instanceId, ...config.presence },
  logger: createLogger({ level: config.logLevel ?? 'silent', base: { instanceId: config.instanceId }, destination: process.stderr }),
});
await cache.start();

// Small pools that open new connections all the time: the case a fixed poll gets wrong.
const pool = createRotatingPgPool(cache, 'db', { host: config.pg.host, port: config.pg.port, database: config.pg.database, max: 4, idleTimeoutMillis: 1, maxUses: 5 });
const redis = createRotatingRedis(cache, 'cache', { host: config.redis.host, port: config.redis.port });
const mailer = createRotatingMailer(cache, 'mail', { host: config.smtp.host, port: config.smtp.port, secure: false, ignoreTLS: true, pool: true, maxConnections: 2 });

const pause = config.loadPauseMs ?? { pg: 2, redis: 2, smtp: 10 };
const loops: Record<'pg' | 'redis' | 'smtp', LoadLoop> = {
  pg: startLoadLoop(() => pool.query('SELECT 1'), 2, pause.pg),
  redis: startLoadLoop((loop, i) => redis.set(`${config.instanceId}:${loop}`, String(i)), 2, pause.redis),
  smtp: startLoadLoop((loop, i) => mailer.sendMail({ from: 'app@example.test', to: 'ops@example.test', subject: `${config.instanceId} ${loop}-${i}`, text: 'hi' }), 1, pause.smtp),
};

// `refreshMs`: the cache's own measure, trigger (e.g. the invalidation's arrival) → new value in place.
cache.on('rotated', ({ name, versionId, trigger, latencyMs }) => print({ type: 'rotated', name, versionId, trigger, refreshMs: latencyMs, at: Date.now() }));

const versions = () => Object.fromEntries(Object.entries(cache.status().secrets).map(([name, s]) => [name, s.versionId]));
const counts = () => Object.fromEntries(Object.entries(loops).map(([kind, loop]) => [kind, { ok: loop.completed() - loop.failed(), failed: loop.failed() }]));
const timer = setInterval(
  () => print({ type: 'stats', versions: versions(), counts: counts(), authRecoveries: cache.status().counts.authRecoveries }),
  config.statsEveryMs,
);
print({ type: 'ready', versions: versions() });

async function shutdown(): Promise<void> {
  clearInterval(timer);
  const results = Object.fromEntries(await Promise.all(Object.entries(loops).map(async ([kind, loop]) => [kind, await loop.stop()] as const)));
  const summary = Object.fromEntries(
    Object.entries(results).map(([kind, r]) => [kind, { operations: r.operations, failed: r.failures.length, failures: r.failures.slice(0, 5), p99LatencyMs: Math.round(r.p99LatencyMs), maxLatencyMs: Math.round(r.maxLatencyMs) }]),
  );
  print({ type: 'summary', versions: versions(), status: cache.status(), results: summary });
  await Promise.allSettled([pool.end(), redis.quit(), mailer.close(), cache.stop()]);
  process.exit(0);
}

// A failed shutdown must end the process loudly, not as an unhandled rejection of a signal listener.
process.once('SIGTERM', () => {
  shutdown().catch((error: unknown) => {
    process.stderr.write(`shutdown failed: ${error instanceof Error ? error.name : 'unknown error'}\n`);
    process.exit(1);
  });
});
