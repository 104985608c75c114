import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_AWS_CALL_BOUND_MS } from '../../../src/ops/cli/aws-clients.js';
import { REDIS_READY_TIMEOUT_MS } from '../../../src/ops/cli/commands/fleet-common.js';
import { parseEventBody, toInspectLine } from '../../../src/relay/events/index.js';
import { createInvalidation, publishInvalidation } from '../../../src/protocol/index.js';
import { startBlackholeDouble, type BlackholeDouble } from '../../support/blackhole-double.js';
import { startAwsProxyDouble, type AwsProxyDouble } from '../../support/aws-proxy-double.js';
import { freePort } from '../../support/free-port.js';
import { registerSecretValue } from '../../support/leak-guard.js';
import { MotoSecrets, type TestSecret } from '../../support/moto-secrets.js';
import { startMoto, type MotoHandle } from '../../support/moto-server.js';
import { installPackedPackage, type BinRun, type ConsumerProject } from '../../support/packed-package.js';
import { startRedis, type RedisHandle } from '../../support/redis-server.js';
import { startRedisTls, type RedisTlsHandle } from '../../support/redis-tls.js';

/**
 * Issue 14, item 4: every CLI error is one line naming the variable, file or endpoint and the
 * cause, with the documented exit code, within the documented time. Run against the CLI as users
 * get it: packed, installed into a consumer project, started through node_modules/.bin with its
 * output on pipes.
 */
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
/** Starting the built CLI (about half a second) and a loaded 2-core machine, on top of a documented bound. */
const SLACK_MS = 5_000;
/** What a configuration error may take: it is found before any connection. */
const AT_ONCE_MS = 0;
const SECRET_PREFIX = 'table-aws';
const PIPE_PREFIX = 'table-pipe';
const PIPE_SECRETS = 300;

interface Case {
  /** Each case is one line of the table; the servers it needs are started once, in beforeAll. */
  args: () => string[];
  env: () => Record<string, string>;
  code: 1 | 2;
  /** The documented bound the command must give up within. */
  boundMs: number;
  /** What the one line must name: the variable, file or endpoint, and the cause. */
  names: () => RegExp[];
  /** `listen` reports each distinct reason while it retries as a JSON line (its documented progress). */
  progress?: RegExp;
  /** The endpoint never answers: it must have accepted the command's connection. */
  blackholed?: true;
}

describe('every CLI error is one line: the built CLI, table-driven (issue 14)', () => {
  let consumer: ConsumerProject;
  let redis: RedisHandle;
  let authRedis: RedisHandle;
  let tls: RedisTlsHandle;
  let moto: MotoHandle;
  let denied: AwsProxyDouble;
  let blackhole: BlackholeDouble;
  let closed: number;
  let secret: TestSecret;
  let bodyFile: string;
  const signingKey = randomBytes(36).toString('base64');
  const authPassword = `auth-${randomBytes(12).toString('hex')}`;
  const wrongPassword = `wrong-${randomBytes(12).toString('hex')}`;
  const aclPassword = `acl-${randomBytes(12).toString('hex')}`;
  const secretValues = [signingKey, authPassword, wrongPassword, aclPassword];
  for (const value of secretValues) registerSecretValue(value, 'a credential of the CLI error table');

  /** The same Node as this test run, first on the PATH the bin's `#!/usr/bin/env node` searches. */
  const base = (): Record<string, string> => ({ PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, HOME: process.env.HOME ?? '/tmp' });
  const aws = (endpoint: string): Record<string, string> => ({ AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_ENDPOINT_URL: endpoint });
  const signed = { ROTATION_RELAY_SIGNING_KEYS: signingKey };
  const port = (url: string) => new URL(url).port;
  const refusedRedis = () => new RegExp(`redis://127\\.0\\.0\\.1:${closed}\\b`);
  const refusedCause = () => new RegExp(`ECONNREFUSED 127\\.0\\.0\\.1:${closed}\\b`);
  const noAnswer = () => [new RegExp(`Secrets Manager at ${blackhole.endpoint.replace(/\./g, '\\.')}: no answer within 5000 ms`), /TimeoutError/];
  const workerEnv = (): Record<string, string> => ({
    ...aws(moto.endpoint),
    ROTATION_RELAY_QUEUE_URL: `http://127.0.0.1:${closed}/123456789012/relay`,
    ROTATION_RELAY_REDIS_URL: redis.url,
    ROTATION_RELAY_HEALTH_PORT: '0',
    ROTATION_RELAY_HEALTH_HOST: '127.0.0.1',
  });

  beforeAll(async () => {
    [consumer, redis, authRedis, tls, moto, blackhole, closed] = await Promise.all([
      installPackedPackage(),
      startRedis(),
      startRedis({ password: authPassword }),
      startRedisTls(),
      startMoto(),
      startBlackholeDouble(),
      freePort(),
    ]);
    // Every request answered as IAM answers a missing grant (the upstream is never asked).
    denied = await startAwsProxyDouble(moto.endpoint);
    denied.setFault(() => ({ status: 400, errorType: 'AccessDeniedException' }));
    const secrets = new MotoSecrets(moto);
    secret = await secrets.create(`table/db-${randomBytes(3).toString('hex')}`);
    secrets.client.destroy();

    const admin = new Redis(redis.url);
    try {
      // A user that may connect but read none of rotation-relay's keys.
      await admin.call('ACL', 'SETUSER', 'limited', 'on', `>${aclPassword}`, 'resetkeys', '~other:*', '&*', '+@all');
      // One broadcast under its own prefix, so `status --aws` has a secret to ask AWS about.
      const fields = { secretArn: secret.arn, secretName: secret.name, versionId: secret.versionId, reason: 'table', eventId: 'table-1', eventTime: new Date().toISOString() };
      await publishInvalidation(admin, SECRET_PREFIX, createInvalidation(fields), { force: true });
      // Enough broadcasts that `status --json` prints more than a pipe's 64 KiB.
      for (let i = 0; i < PIPE_SECRETS; i += 1) {
        const arn = `arn:aws:secretsmanager:us-east-1:123456789012:secret:pipe/s${String(i).padStart(3, '0')}-AbCdEf`;
        await publishInvalidation(admin, PIPE_PREFIX, createInvalidation({ secretArn: arn, secretName: `pipe/s${i}`, versionId: randomUUIDish(i), reason: 'r'.repeat(200), eventId: `pipe-${i}`, eventTime: new Date().toISOString() }), { force: true });
      }
    } finally {
      admin.disconnect();
    }

    // An event body with a 70,000-character field, as the reporter piped it.
    const sample = JSON.parse(readFileSync(join(ROOT, 'infra/samples/secret-label-updated.json'), 'utf8')) as { detail: Record<string, string> };
    sample.detail.name = 'n'.repeat(70_000);
    bodyFile = join(consumer.dir, 'long-field.json');
    await writeFile(bodyFile, JSON.stringify(sample));
  }, 300_000);

  afterAll(async () => {
    await Promise.allSettled([consumer?.remove(), redis?.stop(), authRedis?.stop(), tls?.stop(), moto?.stop(), denied?.stop(), blackhole?.stop()]);
  });

  const table: Array<[string, Case]> = [
    // Bad configuration: exit 2, before any connection.
    ['status, ROTATION_RELAY_REDIS_URL port 99999', { args: () => ['status'], env: () => ({ ROTATION_RELAY_REDIS_URL: 'redis://127.0.0.1:99999' }), code: 2, boundMs: AT_ONCE_MS, names: () => [/configuration: ROTATION_RELAY_REDIS_URL:/, /its port must be from 1 to 65535/] }],
    ['status, ROTATION_RELAY_REDIS_TLS_CA_FILE missing', { args: () => ['status'], env: () => ({ ROTATION_RELAY_REDIS_URL: tls.url, ROTATION_RELAY_REDIS_TLS_CA_FILE: '/nonexistent/ca.pem' }), code: 2, boundMs: AT_ONCE_MS, names: () => [/configuration: ROTATION_RELAY_REDIS_TLS_CA_FILE:/, /cannot read \/nonexistent\/ca\.pem: ENOENT/] }],
    ['status, ROTATION_RELAY_REDIS_URL empty', { args: () => ['status'], env: () => ({ ROTATION_RELAY_REDIS_URL: '' }), code: 2, boundMs: AT_ONCE_MS, names: () => [/configuration: ROTATION_RELAY_REDIS_URL:/, /set but empty/] }],
    ['worker without signing keys', { args: () => ['worker'], env: () => workerEnv(), code: 2, boundMs: AT_ONCE_MS, names: () => [/configuration: ROTATION_RELAY_SIGNING_KEYS:/, /it is not set, and signing is required/] }],
    ['drill, ROTATION_RELAY_QUEUE_URL empty', { args: () => ['drill', secret.name], env: () => ({ ...aws(moto.endpoint), ROTATION_RELAY_REDIS_URL: redis.url, ROTATION_RELAY_QUEUE_URL: '' }), code: 2, boundMs: AT_ONCE_MS, names: () => [/configuration: ROTATION_RELAY_QUEUE_URL:/, /set but empty/] }],
    // Redis refused: exit 1 within each command's documented wait.
    ['status, Redis refused', { args: () => ['status'], env: () => ({ ROTATION_RELAY_REDIS_URL: `redis://127.0.0.1:${closed}` }), code: 1, boundMs: REDIS_READY_TIMEOUT_MS, names: () => [refusedRedis(), refusedCause()] }],
    ['publish, Redis refused', { args: () => ['publish', secret.name], env: () => ({ ...aws(moto.endpoint), ...signed, ROTATION_RELAY_REDIS_URL: `redis://127.0.0.1:${closed}` }), code: 1, boundMs: REDIS_READY_TIMEOUT_MS, names: () => [refusedRedis(), refusedCause()] }],
    ['wait-converged --timeout 3s, Redis refused', { args: () => ['wait-converged', secret.name, '--version', 'v-1', '--timeout', '3s'], env: () => ({ ROTATION_RELAY_REDIS_URL: `redis://127.0.0.1:${closed}` }), code: 1, boundMs: 3_000, names: () => [refusedRedis(), refusedCause()] }],
    ['drill, Redis refused', { args: () => ['drill', secret.name], env: () => ({ ...aws(moto.endpoint), ROTATION_RELAY_REDIS_URL: `redis://127.0.0.1:${closed}` }), code: 1, boundMs: REDIS_READY_TIMEOUT_MS, names: () => [refusedRedis(), refusedCause()] }],
    ['listen --count 1 --timeout 2s, Redis refused', { args: () => ['listen', '--count', '1', '--timeout', '2s'], env: () => ({ ...signed, ROTATION_RELAY_REDIS_URL: `redis://127.0.0.1:${closed}` }), code: 1, boundMs: 2_000, names: () => [refusedRedis(), refusedCause()], progress: /^\{"error":/ }],
    // Redis refuses the client: wrong password, missing permission, untrusted certificate.
    ['status, WRONGPASS', { args: () => ['status'], env: () => ({ ROTATION_RELAY_REDIS_URL: `redis://:${wrongPassword}@127.0.0.1:${authRedis.port}` }), code: 1, boundMs: REDIS_READY_TIMEOUT_MS, names: () => [new RegExp(`redis://127\\.0\\.0\\.1:${authRedis.port}\\b`), /WRONGPASS invalid username-password pair/] }],
    ['status, NOPERM', { args: () => ['status'], env: () => ({ ROTATION_RELAY_REDIS_URL: `redis://limited:${aclPassword}@127.0.0.1:${port(redis.url)}` }), code: 1, boundMs: REDIS_READY_TIMEOUT_MS, names: () => [new RegExp(`Redis at redis://127\\.0\\.0\\.1:${port(redis.url)}: `), /NOPERM/, /\{rotation-relay\}:versions/] }],
    ['status, untrusted certificate', { args: () => ['status'], env: () => ({ ROTATION_RELAY_REDIS_URL: tls.url }), code: 1, boundMs: REDIS_READY_TIMEOUT_MS, names: () => [new RegExp(`rediss://127\\.0\\.0\\.1:${tls.port}\\b`), /SELF_SIGNED|UNABLE_TO_VERIFY|CERT/] }],
    // AWS refused or refusing.
    ['publish, Secrets Manager refused', { args: () => ['publish', secret.name], env: () => ({ ...aws(`http://127.0.0.1:${closed}`), ...signed, ROTATION_RELAY_REDIS_URL: redis.url }), code: 1, boundMs: CLI_AWS_CALL_BOUND_MS, names: () => [/DescribeSecret for secret \S+ failed/, /AWS_ENDPOINT_URL/, refusedCause()] }],
    ['publish, AccessDeniedException', { args: () => ['publish', secret.name], env: () => ({ ...aws(denied.endpoint), ...signed, ROTATION_RELAY_REDIS_URL: redis.url }), code: 1, boundMs: CLI_AWS_CALL_BOUND_MS, names: () => [new RegExp(`not allowed to call DescribeSecret on secret ${secret.name}`), /grant secretsmanager:DescribeSecret/, /AccessDeniedException \(HTTP 400\)/] }],
    ['worker, SQS refused', { args: () => ['worker'], env: () => ({ ...workerEnv(), ...signed, AWS_ENDPOINT_URL_SQS: `http://127.0.0.1:${closed}` }), code: 1, boundMs: CLI_AWS_CALL_BOUND_MS, names: () => [new RegExp(`cannot read queue http://127\\.0\\.0\\.1:${closed}/123456789012/relay`), refusedCause(), /ROTATION_RELAY_QUEUE_URL/] }],
    // AWS accepts the connection and never answers: each command gives up within one bounded AWS call.
    ['publish, Secrets Manager never answers', { args: () => ['publish', secret.name], env: () => ({ ...aws(blackhole.endpoint), ...signed, ROTATION_RELAY_REDIS_URL: redis.url }), code: 1, boundMs: CLI_AWS_CALL_BOUND_MS, names: noAnswer, blackholed: true }],
    ['status --aws, Secrets Manager never answers', { args: () => ['status', '--aws'], env: () => ({ ...aws(blackhole.endpoint), ROTATION_RELAY_REDIS_URL: redis.url, ROTATION_RELAY_KEY_PREFIX: SECRET_PREFIX }), code: 1, boundMs: CLI_AWS_CALL_BOUND_MS, names: noAnswer, blackholed: true }],
    ['wait-converged, Secrets Manager never answers', { args: () => ['wait-converged', secret.name], env: () => ({ ...aws(blackhole.endpoint), ROTATION_RELAY_REDIS_URL: redis.url }), code: 1, boundMs: CLI_AWS_CALL_BOUND_MS, names: noAnswer, blackholed: true }],
    ['drill, Secrets Manager never answers', { args: () => ['drill', secret.name], env: () => ({ ...aws(blackhole.endpoint), ROTATION_RELAY_REDIS_URL: redis.url }), code: 1, boundMs: CLI_AWS_CALL_BOUND_MS, names: noAnswer, blackholed: true }],
    ['listen --timeout 2s, the Redis password secret never answers', { args: () => ['listen', '--timeout', '2s'], env: () => ({ ...aws(blackhole.endpoint), ...signed, ROTATION_RELAY_REDIS_URL: redis.url, ROTATION_RELAY_REDIS_PASSWORD_SECRET_ID: secret.name }), code: 1, boundMs: 2_000, names: () => [/ROTATION_RELAY_REDIS_PASSWORD_SECRET_ID/, new RegExp(`for redis://127\\.0\\.0\\.1:${port(redis.url)} did not answer within the deadline`)], blackholed: true }],
  ];

  const measured: string[] = [];
  afterAll(() => {
    process.stdout.write(`[cli] error table (case → exit, documented bound, measured):\n${measured.sort().join('\n')}\n`);
  });

  it.concurrent.each(table)('%s', async (label, c) => {
    // Act
    const run = await consumer.run('rotation-relay', c.args(), { env: { ...base(), ...c.env() }, timeoutMs: c.boundMs + 30_000 });

    // Assess
    const all = `${run.stdout}${run.stderr}`;
    const lines = run.stderr.split('\n').filter((line) => line !== '' && !(c.progress?.test(line) ?? false));
    measured.push(`${label}: exit ${String(run.code)}, bound ${c.boundMs} ms, ${run.ms} ms\n    ${lines.join(' | ')}`);
    expect(run.code, all).toBe(c.code);
    expect(lines, all).toHaveLength(1);
    const [line = ''] = lines;
    expect(line).toMatch(new RegExp(`^rotation-relay ${c.args()[0] ?? ''}: `));
    for (const pattern of c.names()) expect(line).toMatch(pattern);
    expect(run.ms, line).toBeLessThan(c.boundMs + SLACK_MS);
    expect(all).not.toMatch(/NodeVersionSupportWarning/);
    for (const value of secretValues) expect(all.includes(value), `${label}: a credential in the output`).toBe(false);
    if (c.blackholed) expect(blackhole.accepted()).toBeGreaterThan(0);
  }, 60_000);

  it.each([
    ['inspect-event on a body with a 70,000-character field', () => ['inspect-event', bodyFile], 2, (out: BinRun) => {
      // The exact line inspect-event makes of that body in-process, every byte of it through the pipe.
      expect(out.stdout).toBe(`${toInspectLine(parseEventBody(readFileSync(bodyFile, 'utf8')))}\n`);
    }],
    [`status --json over ${PIPE_SECRETS} broadcasts (more than 64 KiB)`, () => ['status', '--json'], 0, (out: BinRun) => {
      expect(Buffer.byteLength(out.stdout)).toBeGreaterThan(65_536);
      expect(out.stdout.endsWith('}\n')).toBe(true);
      expect((JSON.parse(out.stdout) as { secrets: unknown[] }).secrets).toHaveLength(PIPE_SECRETS);
    }],
  ] as const)('piped output is complete: %s', async (_label, args, code, check) => {
    // Act
    const run = await consumer.run('rotation-relay', args(), { env: { ...base(), ROTATION_RELAY_REDIS_URL: redis.url, ROTATION_RELAY_KEY_PREFIX: PIPE_PREFIX } });

    // Assess
    expect(run.code, run.stderr).toBe(code);
    check(run);
    expect(run.stderr).toBe('');
  });
});

/** A version id that is valid and distinct per index (the protocol takes any id up to 64 characters). */
function randomUUIDish(i: number): string {
  return `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
}
