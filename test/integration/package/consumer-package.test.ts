import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installPackedPackage, type ConsumerProject } from '../../support/packed-package.js';
import { runCommand } from '../../support/run-command.js';

/**
 * Issue 14: the package as a user gets it. Packed, installed into an empty consumer project with
 * only the README's install commands, type-checked the way a user's strict NodeNext project
 * compiles it (library types included: no skipLibCheck), then run.
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

/** Builds a cache, reads its status and stops it: no server is needed before start(). */
const SMOKE = `import { createCredentialCache, createRotatingPgPool, createRotatingRedis, createRotatingMailer, waitConverged } from 'rotation-relay';
const cache = createCredentialCache({ secrets: { db: { secretId: 'prod/app/db', json: true } }, redis: { url: 'redis://127.0.0.1:1', cluster: false, keyPrefix: 'rotation-relay' }, signingKeys: ['${'k'.repeat(32)}'] });
const status = cache.status();
console.log(JSON.stringify({ running: status.running, secrets: Object.keys(status.secrets), clients: [createRotatingPgPool, createRotatingRedis, createRotatingMailer, waitConverged].map((f) => typeof f) }));
await cache.stop();
`;

describe('the packed package in a consumer project (npm pack, npm install, tsc strict NodeNext, node)', () => {
  let consumer: ConsumerProject;

  beforeAll(async () => {
    consumer = await installPackedPackage();
    await writeFile(join(consumer.dir, 'tsconfig.json'), JSON.stringify(TSCONFIG));
  }, 300_000);

  afterAll(async () => {
    await consumer?.remove();
  });

  it("type-checks the README's example against the installed package and its own dependencies' types", async () => {
    // Prepare
    await writeFile(join(consumer.dir, 'readme-example.ts'), `${readmeExample()}\nexport {};\n`);

    // Act
    const run = consumer.bin('tsc', ['--noEmit', '-p', '.'], { timeoutMs: 120_000 }).then(
      () => ({ ok: true, output: '' }),
      (error: Error) => ({ ok: false, output: error.message }),
    );

    // Assess
    expect(await run).toEqual({ ok: true, output: '' });
  }, 180_000);

  it('compiles and runs a consumer file: every documented entry point is exported and a cache builds', async () => {
    // Prepare
    await writeFile(join(consumer.dir, 'readme-example.ts'), 'export {};\n');
    await writeFile(join(consumer.dir, 'smoke.ts'), SMOKE);

    // Act
    await consumer.bin('tsc', ['-p', '.'], { timeoutMs: 120_000 });
    const output = await runCommand(process.execPath, ['out/smoke.js'], { cwd: consumer.dir });

    // Assess
    expect(JSON.parse(output.trim())).toEqual({ running: false, secrets: ['db'], clients: ['function', 'function', 'function', 'function'] });
  }, 180_000);

  it("installs the CLI as a bin: `rotation-relay --help` answers, with no Node version warning from the AWS SDK", async () => {
    // Act
    const help = await consumer.bin('rotation-relay', ['--help']);
    const inspected = await consumer.bin('rotation-relay', ['inspect-event', join(consumer.dir, 'node_modules/rotation-relay/infra/samples/secret-label-updated.json')]);

    // Assess
    expect(help).toMatch(/^Usage: rotation-relay <command>/);
    expect(help).toMatch(/^ {2}worker {2,}run the relay/m);
    expect(JSON.parse(inspected)).toMatchObject({ action: 'invalidate', secretName: 'mySecret' });
    expect(`${help}${inspected}`).not.toMatch(/NodeVersionSupportWarning/);
  }, 60_000);
});
