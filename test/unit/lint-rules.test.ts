import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/**
 * The type-aware lint rules of eslint.config.js are on and see types (issue 15, item 5): the
 * project's own config, run on code written to break each rule, in a file inside the project (the
 * project service only types files of tsconfig.json). The probe's name is git- and lint-ignored, so
 * one left behind by a killed run breaks nothing; `ignore: false` lints it here anyway.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Lints `code` as a file of `folder` (written there, git- and lint-ignored, removed after). */
async function ruleIds(code: string, folder = 'test/unit'): Promise<string[]> {
  const probe = join(ROOT, folder, `lint-probe-${process.pid}-${Math.random().toString(36).slice(2)}.ts`);
  await writeFile(probe, code);
  try {
    const [result] = await new ESLint({ cwd: ROOT, ignore: false }).lintFiles([probe]);
    return (result?.messages ?? []).map((message) => message.ruleId ?? message.message);
  } finally {
    await rm(probe, { force: true });
  }
}

describe('eslint.config.js', () => {
  it('rejects a promise nobody awaits or handles', async () => {
    const code = 'async function load(): Promise<number> {\n  return 1;\n}\nload();\nexport {};\n';
    expect(await ruleIds(code)).toEqual(['@typescript-eslint/no-floating-promises']);
  }, 60_000);

  it('rejects an async function where a void callback is expected (an event listener)', async () => {
    const code = "import { EventEmitter } from 'node:events';\nconst events = new EventEmitter();\nevents.on('x', async () => {\n  await Promise.resolve();\n});\nexport {};\n";
    expect(await ruleIds(code)).toEqual(['@typescript-eslint/no-misused-promises']);
  }, 60_000);

  it('accepts the same code when the promise is awaited, handled, or voided on purpose', async () => {
    const code =
      'async function load(): Promise<number> {\n  return 1;\n}\nawait load();\nload().catch(() => undefined);\n// fire and forget, on purpose\nvoid load();\nexport {};\n';
    expect(await ruleIds(code)).toEqual([]);
  }, 60_000);
});

describe('eslint.config.js: the dependency rule', () => {
  it.each([
    ['the SDK importing the worker', 'src/sdk/cache', "import { RelayWorker } from '../../relay/worker/index.js';\nexport const x = RelayWorker;\n"],
    ['the SDK importing the relay’s event parsing', 'src/sdk/fleet', "import { parseEventBody } from '../../relay/events/index.js';\nexport const x = parseEventBody;\n"],
    ['the relay importing the CLI', 'src/relay/worker', "import { EXIT } from '../../ops/cli/index.js';\nexport const x = EXIT;\n"],
    ['protocol importing secrets (side by side: neither imports the other)', 'src/protocol', "import { secretIdMatches } from '../secrets/index.js';\nexport const x = secretIdMatches;\n"],
    ['config importing redis', 'src/config', "import { connectRedis } from '../redis/index.js';\nexport const x = connectRedis;\n"],
    ['the cache importing a rotating client (clients stand on the cache, not the reverse)', 'src/sdk/cache', "import { createRotatingPgPool } from '../pg/index.js';\nexport const x = createRotatingPgPool;\n"],
    ['one rotating client importing another', 'src/sdk/mailer', "import { createRotatingRedis } from '../ioredis/index.js';\nexport const x = createRotatingRedis;\n"],
    ['the root entry point importing the worker', 'src/entry', "import { RelayWorker } from '../relay/worker/index.js';\nexport const x = RelayWorker;\n"],
  ])('rejects %s', async (_label, folder, code) => {
    expect(await ruleIds(code, folder)).toEqual(['no-restricted-imports']);
  }, 60_000);

  it.each([
    ['the relay importing a file of the SDK past its index', 'src/relay/worker', "import { CACHE_DEFAULTS } from '../../sdk/cache/options.js';\nexport const x = CACHE_DEFAULTS;\n"],
    ['a rotating client importing a file of the common core past its index', 'src/sdk/pg', "import { RotatingResource } from '../rotating/rotating-resource.js';\nexport const x = RotatingResource;\n"],
    ['the CLI importing a file of redis past its index', 'src/ops/cli', "import { connectRedis } from '../../redis/connect.js';\nexport const x = connectRedis;\n"],
  ])('rejects %s (another module only through its index.ts)', async (_label, folder, code) => {
    expect(await ruleIds(code, folder)).toEqual(['no-restricted-imports']);
  }, 60_000);

  it.each([
    ['the relay importing the SDK', 'src/relay/worker', "import { createCredentialCache } from '../../sdk/cache/index.js';\nexport const x = createCredentialCache;\n"],
    ['the SDK importing secrets and common errors', 'src/sdk/fleet', "import { secretIdMatches } from '../../secrets/index.js';\nimport { RotationRelayError } from '../../common/index.js';\nexport const x = [secretIdMatches, RotationRelayError];\n"],
    ['the CLI importing the worker', 'src/ops/cli', "import { RelayWorker } from '../../relay/worker/index.js';\nexport const x = RelayWorker;\n"],
    ['a rotating client importing the common core and its own files', 'src/sdk/pg', "import { RotatingResource } from '../rotating/index.js';\nimport { pgConnectionFromSecret } from './pg-credentials.js';\nexport const x = [RotatingResource, pgConnectionFromSecret];\n"],
    ['a module importing its package peer by name', 'src/sdk/ioredis', "import { Redis } from 'ioredis';\nexport const x = Redis;\n"],
  ])('accepts %s', async (_label, folder, code) => {
    expect(await ruleIds(code, folder)).toEqual([]);
  }, 60_000);
});
