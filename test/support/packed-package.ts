import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cp, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerCleanup } from './cleanup-registry.js';
import { recordOutput } from './leak-guard.js';
import { runCommand } from './run-command.js';
import { createTempDir, type TempDir } from './temp-dir.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** How a command of the consumer's node_modules/.bin ended, whatever its exit code. */
export interface BinRun {
  /** The exit code; null when it was killed (by `timeoutMs`, or a signal). */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Everything it wrote, as bytes decoded at the end (a pipe on both streams, as in a shell). */
  stdout: string;
  stderr: string;
  /** From spawn to exit, wall clock. */
  ms: number;
}

export interface BinOptions {
  /** The whole environment of the command. @defaultValue PATH and HOME only */
  env?: NodeJS.ProcessEnv;
  /** SIGKILL after this long. @defaultValue 60000 */
  timeoutMs?: number;
}

/** A consumer project with the packed package installed as a user would install it. */
export interface ConsumerProject {
  readonly dir: string;
  /** The tarball `npm pack` wrote (what `npm install rotation-relay` will download once published). */
  readonly tarball: string;
  /** Runs a command of the consumer's node_modules/.bin (tsc, rotation-relay) in the consumer. */
  bin(name: string, args: readonly string[], options?: BinOptions): Promise<string>;
  /**
   * Runs a command of the consumer's node_modules/.bin and resolves with how it ended, a non-zero
   * exit included (`bin` rejects on one): for tests of the exit codes and error lines themselves.
   */
  run(name: string, args: readonly string[], options?: BinOptions): Promise<BinRun>;
  remove(): Promise<void>;
}

/** A tarball of the repository, packed once and installed into as many consumers as a suite needs. */
export interface PackedPackage {
  /** The tarball `npm pack` wrote (what `npm install rotation-relay` will download once published). */
  readonly tarball: string;
  remove(): Promise<void>;
}

export interface InstallOptions {
  /**
   * npm packages installed next to the tarball, the way a user adds the optional peers of the
   * entry points they import (`npm install pg` and `-D @types/pg` for `rotation-relay/pg`), e.g.
   * `[repositoryVersion('pg'), repositoryVersion('@types/pg')]`. @defaultValue none
   */
  peers?: readonly string[];
  /**
   * A tarball from {@link packPackage}, shared by several consumers: packing builds the whole
   * package, which the consumers of one suite need only once. The caller removes it.
   * @defaultValue packs anew, and removes the tarball with the consumer
   */
  packed?: PackedPackage;
}

/**
 * Packs the repository the way `npm pack` does.
 *
 * Why a staging folder: `npm pack` in the checkout runs `prepare`, which rebuilds `dist/` in
 * place while other test files may be running; the package is built into the stage instead
 * (same sources, same tsconfig.build.json) and packed from there with the same `files` list.
 */
export async function packPackage(): Promise<PackedPackage> {
  const temp: TempDir = await createTempDir('rotation-relay-pack-');
  try {
    const stage = join(temp.path, 'stage');
    for (const entry of ['package.json', 'README.md', 'LICENSE', 'infra', 'docs']) await cp(join(ROOT, entry), join(stage, entry), { recursive: true });
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    await runCommand(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(stage, 'dist')], { cwd: ROOT, timeoutMs: 120_000 });
    await runCommand('npm', ['pack', '--ignore-scripts', '--pack-destination', temp.path], { cwd: stage, timeoutMs: 60_000 });
    const tarball = (await readdir(temp.path)).find((name) => name.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack wrote no tarball into ${temp.path}`);
    return { tarball: join(temp.path, tarball), remove: () => temp.remove() };
  } catch (error) {
    await temp.remove();
    throw error;
  }
}

/**
 * `name@version` of a package as this repository's node_modules holds it (the version its own
 * tests ran against), for {@link InstallOptions.peers}: the npm cache `npm ci` filled has it.
 */
export function repositoryVersion(name: string): string {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
  return `${name}@${version}`;
}

/**
 * Installs the packed package into a new consumer project with exactly the README's install
 * commands: `npm install <tarball>` (plus the peers the consumer's entry points need) and, for
 * TypeScript, `npm install -D typescript @types/node`. Nothing of this repository's
 * node_modules is visible to the consumer, so a type the package ships that needs one of our
 * devDependencies fails here as it would for a user, and so does a module an entry point loads
 * whose peer the consumer did not install.
 */
export async function installPackedPackage(consumerPackageJson: Record<string, unknown> = {}, options: InstallOptions = {}): Promise<ConsumerProject> {
  const temp: TempDir = await createTempDir('rotation-relay-consumer-');
  let ownPack: PackedPackage | undefined;
  try {
    const packed = options.packed ?? (ownPack = await packPackage());
    const dir = join(temp.path, 'consumer');
    await mkdir(dir);
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module', ...consumerPackageJson }, null, 2));
    // The npm cache that `npm ci` filled serves these; the registry answers what it lacks.
    const npm = (args: string[]): Promise<string> => runCommand('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir, timeoutMs: 180_000 });
    await npm(['install', packed.tarball, ...(options.peers ?? [])]);
    await npm(['install', '-D', 'typescript@5', '@types/node@24']);
    return {
      dir,
      tarball: packed.tarball,
      bin: (name, args, binOptions = {}) =>
        runCommand(join(dir, 'node_modules/.bin', name), args, { cwd: dir, env: binOptions.env ?? minimalEnv(), timeoutMs: binOptions.timeoutMs ?? 60_000 }),
      run: (name, args, binOptions = {}) => runBin(join(dir, 'node_modules/.bin', name), args, dir, binOptions),
      remove: async () => {
        await temp.remove();
        await ownPack?.remove();
      },
    };
  } catch (error) {
    await temp.remove();
    await ownPack?.remove();
    throw error;
  }
}

function minimalEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' };
}

/**
 * Spawns `file` with stdout and stderr on pipes (what a shell pipeline or a CI log gives it) and
 * collects both whole. What it wrote goes to the secret-leak guard, like cli-process.ts's output.
 */
function runBin(file: string, args: readonly string[], cwd: string, options: BinOptions): Promise<BinRun> {
  const label = `${file.split('/').at(-1) ?? file} ${args[0] ?? ''}`;
  const started = performance.now();
  return new Promise<BinRun>((resolve, reject) => {
    const child = spawn(file, args, { cwd, env: options.env ?? minimalEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const unregister = registerCleanup(label, () => child.kill('SIGKILL'));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    const chunks = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
    child.stdout.on('data', (chunk: Buffer) => chunks.stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => chunks.stderr.push(chunk));
    child.once('error', (error) => {
      clearTimeout(timer);
      unregister();
      reject(error);
    });
    // 'close', not 'exit': both pipes are read to their end.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      unregister();
      const stdout = Buffer.concat(chunks.stdout).toString('utf8');
      const stderr = Buffer.concat(chunks.stderr).toString('utf8');
      recordOutput(`${label} stdout`, stdout);
      recordOutput(`${label} stderr`, stderr);
      resolve({ code, signal, stdout, stderr, ms: Math.round(performance.now() - started) });
    });
  });
}
