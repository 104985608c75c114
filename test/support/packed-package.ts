import { cp, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from './run-command.js';
import { createTempDir, type TempDir } from './temp-dir.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A consumer project with the packed package installed as a user would install it. */
export interface ConsumerProject {
  readonly dir: string;
  /** The tarball `npm pack` wrote (what `npm install rotation-relay` will download once published). */
  readonly tarball: string;
  /** Runs a command of the consumer's node_modules/.bin (tsc, rotation-relay) in the consumer. */
  bin(name: string, args: readonly string[], options?: { env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<string>;
  remove(): Promise<void>;
}

/**
 * Packs the repository the way `npm pack` does and installs the tarball into a new consumer
 * project with exactly the README's install commands: `npm install <tarball>` and, for
 * TypeScript, `npm install -D typescript @types/node`. Nothing of this repository's
 * node_modules is visible to the consumer, so a type the package ships that needs one of our
 * devDependencies fails here as it would for a user.
 *
 * Why a staging folder: `npm pack` in the checkout runs `prepare`, which rebuilds `dist/` in
 * place while other test files may be running; the package is built into the stage instead
 * (same sources, same tsconfig.build.json) and packed from there with the same `files` list.
 */
export async function installPackedPackage(consumerPackageJson: Record<string, unknown> = {}): Promise<ConsumerProject> {
  const temp: TempDir = await createTempDir('rotation-relay-consumer-');
  try {
    const stage = join(temp.path, 'stage');
    for (const entry of ['package.json', 'README.md', 'LICENSE', 'infra', 'docs']) await cp(join(ROOT, entry), join(stage, entry), { recursive: true });
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    await runCommand(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(stage, 'dist')], { cwd: ROOT, timeoutMs: 120_000 });
    await runCommand('npm', ['pack', '--ignore-scripts', '--pack-destination', temp.path], { cwd: stage, timeoutMs: 60_000 });
    const tarball = (await readdir(temp.path)).find((name) => name.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack wrote no tarball into ${temp.path}`);

    const dir = join(temp.path, 'consumer');
    await mkdir(dir);
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module', ...consumerPackageJson }, null, 2));
    // The npm cache that `npm ci` filled serves these; the registry answers what it lacks.
    const npm = (args: string[]): Promise<string> => runCommand('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir, timeoutMs: 180_000 });
    await npm(['install', join(temp.path, tarball)]);
    await npm(['install', '-D', 'typescript@5', '@types/node@24']);
    return {
      dir,
      tarball: join(temp.path, tarball),
      bin: (name, args, options = {}) =>
        runCommand(join(dir, 'node_modules/.bin', name), args, { cwd: dir, env: options.env ?? { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' }, timeoutMs: options.timeoutMs ?? 60_000 }),
      remove: () => temp.remove(),
    };
  } catch (error) {
    await temp.remove();
    throw error;
  }
}
