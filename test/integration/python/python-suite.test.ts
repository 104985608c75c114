import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInvalidation, serializeInvalidation, signInvalidation, verifyInvalidation } from '../../../src/protocol/index.js';
import { waitConverged } from '../../../src/sdk/fleet/wait-converged.js';
import { runCliProcess } from '../../support/cli-process.js';
import { DEBIAN_PYTHON, ensurePythonModules, pipInstallPackage, PYTHON_PACKAGE_DIR } from '../../support/python-env.js';
import type { TestSecret } from '../../support/moto-secrets.js';
import { RelayFixture } from '../../support/relay-fixture.js';
import { labelUpdatedEvent, moveCurrentEvent, rotationSucceededEvent } from '../../support/rotation-events.js';
import { RotationTargets, type RotationHooks, type SecretKind } from '../../support/rotation-targets.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

const body = async (req: IncomingMessage): Promise<unknown> => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
};

/**
 * Issue 18: the Python package (python/rotation_relay) against the same real services as the
 * TypeScript tests — PostgreSQL, redis-server (bus and cache), the SMTP server and moto_server —
 * with the real TypeScript worker publishing. pytest runs as a child process; it asks this file
 * for real rotations (RotationTargets, the events through SQS to the worker) over a loopback
 * HTTP control endpoint, because the SMTP server and the rotations live in this process.
 */
describe('the Python subscriber (pytest under /usr/bin/python3)', () => {
  let relay: RelayFixture;
  let targets: RotationTargets;
  let secrets: Record<SecretKind, TestSecret>;
  let control: Server;
  let bus: Redis;
  let work: string;
  let site: string;

  beforeAll(async () => {
    ensurePythonModules(['django', 'psycopg2', 'redis', 'django_redis', 'boto3', 'pytest', 'pip', 'setuptools']);
    work = mkdtempSync(join(tmpdir(), 'rr-python-'));
    // The suite tests the package as `pip install ./python` installs it, not the source folder:
    // the tests run from a copy, so the checkout's rotation_relay is not on their sys.path.
    site = pipInstallPackage(work);
    cpSync(join(PYTHON_PACKAGE_DIR, 'tests'), join(work, 'run', 'tests'), { recursive: true, filter: (path) => !path.includes('__pycache__') });
    [relay, targets] = await Promise.all([RelayFixture.start(), RotationTargets.start({ singleUserWindowMs: 300 })]);
    secrets = await targets.createSecrets(relay.secrets, 'py');
    relay.created.push(...Object.values(secrets));
    await relay.startWorker();
    bus = new Redis(relay.redis.url);
    // apt-get on a fresh machine: up to a few minutes on a slow mirror (ensurePythonModules bounds it at 10).
  }, 660_000);

  afterAll(async () => {
    control?.close();
    bus?.disconnect();
    await Promise.allSettled([relay?.stop(), targets?.stop()]);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const hooks = (instances: number): RotationHooks => ({
    async finished(secret, newVersion, oldVersion) {
      for (const event of [moveCurrentEvent(secret.arn, newVersion, oldVersion), rotationSucceededEvent(secret.arn), labelUpdatedEvent(secret.arn, newVersion)]) {
        await relay.send(event);
      }
    },
    // What a rotation Lambda would do before revoking: every live instance (the Django processes) holds it.
    async converged(kind, versionId) {
      await waitConverged({ redis: bus, secretArn: secrets[kind].arn, versionId, minInstances: instances, timeoutMs: 15_000, pollMs: 50 });
    },
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const input = (await body(req)) as { kind?: SecretKind; round?: number; instances?: number; args?: string[] };
    if (url.pathname === '/rotate' && input.kind) {
      const result = await targets.rotate(input.kind, input.round ?? 0, hooks(input.instances ?? 1));
      res.end(JSON.stringify(result));
      return;
    }
    if (url.pathname === '/cli' && input.args) {
      // The operator's shell: the bus, the signing keys and AWS (moto), for `publish --terminate-old`.
      const aws = { AWS_ENDPOINT_URL: relay.moto.endpoint, AWS_ACCESS_KEY_ID: relay.moto.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: relay.moto.credentials.secretAccessKey };
      const cli = runCliProcess(input.args, relay.env(aws));
      const code = await cli.exited;
      res.end(JSON.stringify({ code, stdout: cli.stdout().join('\n'), stderr: cli.stderr().join('\n') }));
      return;
    }
    res.statusCode = 404;
    res.end('{}');
  }

  it('passes pytest against real services, and what each side signs verifies on the other', async () => {
    control = createServer((req, res) => {
      handle(req, res).catch((error: unknown) => {
        // The body names the failure (NotConvergedError says which rule failed and who is stale);
        // pytest prints it, and so does this process, so a failed rotation is diagnosable.
        const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        console.error(`control ${req.url ?? ''}: ${detail}`);
        res.statusCode = 500;
        res.end(JSON.stringify({ error: detail }));
      });
    });
    await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
    const address = control.address();
    if (address === null || typeof address === 'string') throw new Error('control server: no port');

    // TypeScript signs (the worker's own functions), Python verifies: test_cross_language.py.
    const tsSigned = [
      createInvalidation({ secretArn: secrets.db.arn, secretName: secrets.db.name, versionId: secrets.db.versionId, reason: 'AWSCURRENT moved', eventId: 'evt-ts-1', eventTime: new Date().toISOString() }),
      createInvalidation({ secretArn: secrets.mail.arn, secretName: secrets.mail.name, reason: 'manual refresh — réussie ✓', eventId: 'manual-ts-2', eventTime: '2024-05-01T12:05:00+02:00' }),
    ].map((invalidation) => serializeInvalidation(signInvalidation(invalidation, relay.signingKeys)));
    const pySignedFile = join(work, 'python-signed.json');

    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      PYTHONPATH: site,
      PYTHONDONTWRITEBYTECODE: '1',
      AWS_REGION: relay.moto.region,
      AWS_DEFAULT_REGION: relay.moto.region,
      AWS_ENDPOINT_URL: relay.moto.endpoint,
      AWS_ACCESS_KEY_ID: relay.moto.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: relay.moto.credentials.secretAccessKey,
      ROTATION_RELAY_REDIS_URL: relay.redis.url,
      ROTATION_RELAY_SIGNING_KEYS: relay.signingKeys.join(','),
      RR_CONTROL_URL: `http://127.0.0.1:${address.port}`,
      RR_PG_HOST: targets.postgres.host,
      RR_PG_PORT: String(targets.postgres.port),
      RR_PG_SUPERUSER_PASSWORD: targets.postgres.superuser.password,
      RR_CACHE_REDIS_PORT: String(targets.redis.port),
      RR_SMTP_HOST: targets.smtp.host,
      RR_SMTP_PORT: String(targets.smtp.port),
      RR_SECRET_DB: secrets.db.arn,
      RR_SECRET_CACHE: secrets.cache.arn,
      RR_SECRET_MAIL: secrets.mail.arn,
      RR_TS_SIGNED: JSON.stringify(tsSigned),
      RR_PY_SIGNED_OUT: pySignedFile,
      RR_PROTOCOL_DOC: join(ROOT, 'docs', 'protocol.md'),
    };
    const run = join(work, 'run');
    const imported = execFileSync(DEBIAN_PYTHON, ['-c', 'import rotation_relay, rotation_relay.django.postgresql.base; print(rotation_relay.__file__)'], { cwd: run, env, encoding: 'utf8' });
    expect(imported.trim(), 'pytest imports the installed package').toBe(join(site, 'rotation_relay', '__init__.py'));
    const started = Date.now();
    const child = spawn(DEBIAN_PYTHON, ['-m', 'pytest', 'tests', '-q', '-p', 'no:cacheprovider', '-x', '-s'], { cwd: run, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    console.log(`pytest (${Math.round((Date.now() - started) / 1000)} s):\n${output.split('\n').slice(-40).join('\n')}`);
    expect(code, output).toBe(0);

    // Python signs, TypeScript verifies (verifyInvalidation, as every Node subscriber does).
    const pySigned = JSON.parse(readFileSync(pySignedFile, 'utf8')) as string[];
    expect(pySigned.length).toBeGreaterThanOrEqual(3);
    for (const raw of pySigned) expect(verifyInvalidation(raw, { keys: relay.signingKeys }), raw).toMatchObject({ ok: true });
    for (const raw of pySigned) expect(verifyInvalidation(raw, { keys: ['k'.repeat(32)] })).toMatchObject({ ok: false });
    // No secret value in what the Python side printed.
    for (const secret of Object.values(secrets)) for (const value of secret.values) expect(output).not.toContain(JSON.parse(value).password);
    expect(relay.leakedValues()).toEqual([]);
  }, 240_000);
});
