import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { registerCleanup } from './cleanup-registry.js';
import { runCommand } from './run-command.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const PRISMA_CLI = join(REPO, 'node_modules/prisma/build/index.js');

/** A generated Prisma client in a private, git-ignored folder, removed by `remove()` or at exit. */
export interface GeneratedPrismaClient {
  /** The generated `client.ts`, to `import()`. */
  readonly entry: string;
  /** What `prisma generate` printed. */
  readonly output: string;
  remove(): Promise<void>;
}

/**
 * Runs `prisma generate` on `schema` without the network, in `<repo>/.tmp/prisma-XXXXXX/`.
 *
 * Why each step:
 * - Under the repository (not $TMPDIR): the generated client imports `@prisma/client/runtime/*`,
 *   which Node resolves from the nearest node_modules. `.tmp/` is git-ignored and lint-ignored.
 * - The schema is copied next to the output, so its relative `output` stays in that folder.
 * - `PRISMA_SCHEMA_ENGINE_BINARY` names a stub: the CLI makes sure Prisma's schema-engine binary
 *   exists before `generate` (and downloads it from binaries.prisma.sh when it is missing, which
 *   fails offline: npm here runs no install scripts, so @prisma/engines' postinstall never fetched
 *   it), but the `prisma-client` generator does not run it (the schema is parsed by the wasm module
 *   bundled in the CLI). The stub fails loudly if anything ever does run it.
 * - No DATABASE_URL and telemetry off (CHECKPOINT_DISABLE): nothing leaves the machine.
 */
export async function generatePrismaClient(schema: string): Promise<GeneratedPrismaClient> {
  const dir = join(REPO, '.tmp', `prisma-${randomBytes(4).toString('hex')}`);
  await mkdir(dir, { recursive: true });
  const unregister = registerCleanup(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  const remove = async (): Promise<void> => {
    unregister();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const stub = join(dir, 'schema-engine-stub');
    await writeFile(stub, '#!/bin/sh\necho "the schema-engine stub of test/support/orm-prisma.ts was run: $*" >&2\nexit 1\n', { mode: 0o755 });
    const copy = join(dir, 'schema.prisma');
    await copyFile(schema, copy);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PRISMA_SCHEMA_ENGINE_BINARY: stub,
      CHECKPOINT_DISABLE: '1',
      PRISMA_HIDE_UPDATE_MESSAGE: '1',
    };
    const output = await runCommand(process.execPath, [PRISMA_CLI, 'generate', '--schema', copy], { cwd: dir, env, timeoutMs: 60_000 });
    return { entry: join(dir, 'client', 'client.ts'), output, remove };
  } catch (err) {
    await remove();
    throw err;
  }
}

/** `import()` of a generated client's entry file. */
export function importGenerated<T>(entry: string): Promise<T> {
  return import(pathToFileURL(entry).href) as Promise<T>;
}
