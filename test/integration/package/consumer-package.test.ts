import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installPackedPackage, packPackage, repositoryVersion, type ConsumerProject, type PackedPackage } from '../../support/packed-package.js';
import { runCommand } from '../../support/run-command.js';

/**
 * Issues 14 and 15: the package as a user gets it. Packed once, installed into empty consumer
 * projects with only the README's install commands, type-checked the way a user's strict
 * NodeNext project compiles it (library types included: no skipLibCheck), then run. One consumer
 * per entry point, with only that entry point's peers installed: an entry point that loaded
 * another client's library, or whose types needed another's @types, fails here.
 */
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** The ```ts block under the README's "Use it in your app" heading, unchanged. */
function readmeExample(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const match = /```ts\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf('## Use it in your app')));
  if (!match?.[1]) throw new Error('no ```ts block under "## Use it in your app" in README.md');
  return match[1];
}

const TSCONFIG = { compilerOptions: { strict: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', outDir: 'out', skipLibCheck: false } };
/** The peers of the entry points, at the versions this repository's tests ran against. */
const PEERS = {
  pg: [repositoryVersion('pg'), repositoryVersion('@types/pg')],
  // mysql2 ships its own types: nothing from @types.
  mysql2: [repositoryVersion('mysql2')],
  mailer: [repositoryVersion('nodemailer'), repositoryVersion('@types/nodemailer')],
  // node-redis ships its own types: nothing from @types.
  nodeRedis: [repositoryVersion('redis')],
  // A required peer: npm installs it with rotation-relay; an app that builds its own client names it too.
  ioredis: [repositoryVersion('ioredis')],
};
const PEER_PACKAGES = ['pg', '@types/pg', 'nodemailer', '@types/nodemailer', 'mysql2', 'redis'];

const CACHE = `createCredentialCache({ secrets: { db: { secretId: 'prod/app/db', json: true } }, redis: { url: 'redis://127.0.0.1:1', cluster: false, keyPrefix: 'rotation-relay' }, signingKeys: ['${'k'.repeat(32)}'] })`;
/** Which client libraries node can load from the consumer (its node_modules and every folder above). */
const RESOLVABLE = `['pg', 'nodemailer', 'mysql2', 'redis'].filter((name) => { try { import.meta.resolve(name); return true; } catch { return false; } })`;

/** Builds a cache, reads its status and stops it: no server is needed before start(). */
const SMOKE = `import { createCredentialCache } from 'rotation-relay';
import { createRotatingPgPool } from 'rotation-relay/pg';
import { createRotatingMysql2Pool } from 'rotation-relay/mysql2';
import { createRotatingRedis } from 'rotation-relay/redis';
import { createRotatingNodeRedis } from 'rotation-relay/node-redis';
import { createRotatingMailer } from 'rotation-relay/mailer';
import { waitConverged } from 'rotation-relay/fleet';
const cache = ${CACHE};
const status = cache.status();
console.log(JSON.stringify({ running: status.running, secrets: Object.keys(status.secrets), clients: [createRotatingPgPool, createRotatingMysql2Pool, createRotatingRedis, createRotatingNodeRedis, createRotatingMailer, waitConverged].map((f) => typeof f) }));
await cache.stop();
`;

/** Compiles `name`.ts alone (its own tsconfig, extending the strict one), runs it, parses the JSON line it prints. */
async function compileAndRun(consumer: ConsumerProject, name: string, code: string): Promise<unknown> {
  await writeFile(join(consumer.dir, `${name}.ts`), code);
  await writeFile(join(consumer.dir, `tsconfig.${name}.json`), JSON.stringify({ extends: './tsconfig.json', files: [`${name}.ts`] }));
  await consumer.bin('tsc', ['-p', `tsconfig.${name}.json`], { timeoutMs: 120_000 });
  return JSON.parse((await runCommand(process.execPath, [`out/${name}.js`], { cwd: consumer.dir })).trim());
}

/** The peer packages a consumer's node_modules holds. */
function installedPeers(consumer: ConsumerProject): string[] {
  return PEER_PACKAGES.filter((name) => existsSync(join(consumer.dir, 'node_modules', name)));
}

let packed: PackedPackage;

beforeAll(async () => {
  packed = await packPackage();
}, 180_000);

afterAll(async () => {
  await packed?.remove();
});

/** A describe block's consumer: installed before its tests, removed after them. */
function consumerWith(peers: readonly string[]): () => ConsumerProject {
  let consumer: ConsumerProject | undefined;
  beforeAll(async () => {
    consumer = await installPackedPackage({}, { packed, peers });
    await writeFile(join(consumer.dir, 'tsconfig.json'), JSON.stringify(TSCONFIG));
  }, 300_000);
  afterAll(async () => {
    await consumer?.remove();
  });
  return () => {
    if (!consumer) throw new Error('the consumer project was not installed');
    return consumer;
  };
}

describe('the packed package with every peer (npm pack, npm install, tsc strict NodeNext, node)', () => {
  const consumer = consumerWith([...PEERS.pg, ...PEERS.mysql2, ...PEERS.mailer, ...PEERS.nodeRedis]);

  it("type-checks the README's example against the installed package and its own dependencies' types", async () => {
    // Prepare
    await writeFile(join(consumer().dir, 'readme-example.ts'), `${readmeExample()}\nexport {};\n`);

    // Act
    const run = consumer()
      .bin('tsc', ['--noEmit', '-p', '.'], { timeoutMs: 120_000 })
      .then(
        () => ({ ok: true, output: '' }),
        (error: Error) => ({ ok: false, output: error.message }),
      );

    // Assess
    expect(await run).toEqual({ ok: true, output: '' });
  }, 180_000);

  it('compiles and runs a consumer file: every documented entry point is exported and a cache builds', async () => {
    // Prepare
    await writeFile(join(consumer().dir, 'readme-example.ts'), 'export {};\n');
    await writeFile(join(consumer().dir, 'smoke.ts'), SMOKE);

    // Act
    await consumer().bin('tsc', ['-p', '.'], { timeoutMs: 120_000 });
    const output = await runCommand(process.execPath, ['out/smoke.js'], { cwd: consumer().dir });

    // Assess
    expect(JSON.parse(output.trim())).toEqual({ running: false, secrets: ['db'], clients: ['function', 'function', 'function', 'function', 'function', 'function'] });
  }, 180_000);
});

describe('`rotation-relay` with no peer installed', () => {
  const consumer = consumerWith([]);

  it('type-checks and runs: a cache builds and its errors carry a typed code, with neither pg nor nodemailer anywhere to load', async () => {
    // Act
    const output = await compileAndRun(
      consumer(),
      'root',
      `import { CacheStoppedError, createCredentialCache, RotationRelayError, type RotationRelayErrorCode } from 'rotation-relay';
const cache = ${CACHE};
await cache.stop();
const error: unknown = await cache.start().then(() => undefined, (e: unknown) => e);
const code: RotationRelayErrorCode | undefined = error instanceof RotationRelayError ? error.code : undefined;
console.log(JSON.stringify({ running: cache.status().running, code, stopped: error instanceof CacheStoppedError, resolvable: ${RESOLVABLE} }));
`,
    );

    // Assess
    expect(installedPeers(consumer())).toEqual([]);
    expect(output).toEqual({ running: false, code: 'CACHE_STOPPED', stopped: true, resolvable: [] });
  }, 180_000);

  it("installs the CLI as a bin: `rotation-relay --help` answers, with no Node version warning from the AWS SDK", async () => {
    // Act
    const help = await consumer().bin('rotation-relay', ['--help']);
    const inspected = await consumer().bin('rotation-relay', ['inspect-event', join(consumer().dir, 'node_modules/rotation-relay/infra/samples/secret-label-updated.json')]);

    // Assess
    expect(help).toMatch(/^Usage: rotation-relay <command>/);
    expect(help).toMatch(/^ {2}worker {2,}run the relay/m);
    expect(JSON.parse(inspected)).toMatchObject({ action: 'invalidate', secretName: 'mySecret' });
    expect(`${help}${inspected}`).not.toMatch(/NodeVersionSupportWarning/);
  }, 60_000);
});

describe('`rotation-relay/pg` with pg and @types/pg only', () => {
  const consumer = consumerWith(PEERS.pg);

  it('type-checks and runs without nodemailer', async () => {
    // Act
    const output = await compileAndRun(
      consumer(),
      'pg',
      `import { createRotatingPgPool, isPgAuthError, type RotatingPgPoolOptions } from 'rotation-relay/pg';
const options: RotatingPgPoolOptions = { max: 2 };
console.log(JSON.stringify({ create: typeof createRotatingPgPool, authError: isPgAuthError({ code: '28P01' }), max: options.max, resolvable: ${RESOLVABLE} }));
`,
    );

    // Assess
    expect(installedPeers(consumer())).toEqual(['pg', '@types/pg']);
    expect(output).toEqual({ create: 'function', authError: true, max: 2, resolvable: ['pg'] });
  }, 180_000);
});

describe('`rotation-relay/mysql2` with mysql2 only', () => {
  const consumer = consumerWith(PEERS.mysql2);

  it('type-checks and runs without pg or nodemailer', async () => {
    // Act
    const output = await compileAndRun(
      consumer(),
      'mysql2',
      `import { createRotatingMysql2Pool, isMysqlAuthError, type RotatingMysql2PoolOptions } from 'rotation-relay/mysql2';
const options: RotatingMysql2PoolOptions = { connectionLimit: 2 };
console.log(JSON.stringify({ create: typeof createRotatingMysql2Pool, authError: isMysqlAuthError({ errno: 1045, code: 'ER_ACCESS_DENIED_ERROR' }), connectionLimit: options.connectionLimit, resolvable: ${RESOLVABLE} }));
`,
    );

    // Assess
    expect(installedPeers(consumer())).toEqual(['mysql2']);
    expect(output).toEqual({ create: 'function', authError: true, connectionLimit: 2, resolvable: ['mysql2'] });
  }, 180_000);
});

describe('`rotation-relay/redis` with ioredis only', () => {
  const consumer = consumerWith(PEERS.ioredis);

  it('type-checks and runs without pg or nodemailer', async () => {
    // Act
    const output = await compileAndRun(
      consumer(),
      'redis',
      `import { createRotatingRedis, isRedisAuthError, type RotatingRedisOptions } from 'rotation-relay/redis';
const options: RotatingRedisOptions = { host: 'cache.example', tls: {} };
console.log(JSON.stringify({ create: typeof createRotatingRedis, authError: isRedisAuthError(new Error('WRONGPASS invalid username-password pair')), host: options.host, resolvable: ${RESOLVABLE} }));
`,
    );

    // Assess
    expect(installedPeers(consumer())).toEqual([]);
    expect(output).toEqual({ create: 'function', authError: true, host: 'cache.example', resolvable: [] });
  }, 180_000);
});

describe('`rotation-relay/node-redis` with redis only', () => {
  const consumer = consumerWith(PEERS.nodeRedis);

  it('type-checks and runs without pg, mysql2 or nodemailer', async () => {
    // Act
    const output = await compileAndRun(
      consumer(),
      'node-redis',
      `import { createRotatingNodeRedis, createRotatingNodeRedisCluster, isRedisAuthError, nodeRedisRotationStatus, type RotatingNodeRedisClusterOptions, type RotatingNodeRedisOptions } from 'rotation-relay/node-redis';
const options: RotatingNodeRedisOptions = { url: 'rediss://cache.example:6380', authRecoveryTimeoutMs: 5_000 };
const cluster: RotatingNodeRedisClusterOptions = { rootNodes: [{ url: 'rediss://clustercfg.example:6379' }], defaults: { socket: { tls: true } } };
console.log(JSON.stringify({ create: [typeof createRotatingNodeRedis, typeof createRotatingNodeRedisCluster], authError: isRedisAuthError(new Error('WRONGPASS invalid username-password pair')), url: options.url, rootNodes: cluster.rootNodes.length, status: nodeRedisRotationStatus({}) ?? null, resolvable: ${RESOLVABLE} }));
`,
    );

    // Assess
    expect(installedPeers(consumer())).toEqual(['redis']);
    expect(output).toEqual({ create: ['function', 'function'], authError: true, url: 'rediss://cache.example:6380', rootNodes: 1, status: null, resolvable: ['redis'] });
  }, 180_000);
});

describe('`rotation-relay/mailer` with nodemailer and @types/nodemailer only', () => {
  const consumer = consumerWith(PEERS.mailer);

  it('type-checks and runs without pg', async () => {
    // Act
    const output = await compileAndRun(
      consumer(),
      'mailer',
      `import { createRotatingMailer, deriveSesSmtpPassword, isSmtpAuthError, type RotatingMailerTransportOptions } from 'rotation-relay/mailer';
const options: RotatingMailerTransportOptions = { host: 'email-smtp.us-east-1.amazonaws.com', port: 587 };
console.log(JSON.stringify({ create: typeof createRotatingMailer, authError: isSmtpAuthError({ responseCode: 535 }), port: options.port, ses: deriveSesSmtpPassword('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'us-east-1'), resolvable: ${RESOLVABLE} }));
`,
    );

    // Assess
    expect(installedPeers(consumer())).toEqual(['nodemailer', '@types/nodemailer']);
    expect(output).toEqual({ create: 'function', authError: true, port: 587, ses: 'BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9', resolvable: ['nodemailer'] });
  }, 180_000);
});

describe('`rotation-relay/fleet` with ioredis only', () => {
  const consumer = consumerWith(PEERS.ioredis);

  it('type-checks and runs: waitConverged rejects options it cannot use with the root’s FleetOptionsError', async () => {
    // Act
    const output = await compileAndRun(
      consumer(),
      'fleet',
      `import { Redis } from 'ioredis';
import { FleetOptionsError } from 'rotation-relay';
import { waitConverged, WAIT_CONVERGED_DEFAULTS } from 'rotation-relay/fleet';
const redis = new Redis({ lazyConnect: true });
const error: unknown = await waitConverged({ redis, keyPrefix: 'rotation-relay' }).then(() => undefined, (e: unknown) => e);
redis.disconnect();
console.log(JSON.stringify({ rejected: error instanceof FleetOptionsError, code: error instanceof FleetOptionsError ? error.code : undefined, timeoutMs: WAIT_CONVERGED_DEFAULTS.timeoutMs, resolvable: ${RESOLVABLE} }));
`,
    );

    // Assess
    expect(installedPeers(consumer())).toEqual([]);
    expect(output).toEqual({ rejected: true, code: 'FLEET_INVALID_OPTIONS', timeoutMs: 60_000, resolvable: [] });
  }, 180_000);
});
