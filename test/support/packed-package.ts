import { spawn } from 'node:child_process';
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
        runCommand(join(dir, 'node_modules/.bin', name), args, { cwd: dir, env: options.env ?? minimalEnv(), timeoutMs: options.timeoutMs ?? 60_000 }),
      run: (name, args, options = {}) => runBin(join(dir, 'node_modules/.bin', name), args, dir, options),
      remove: () => temp.remove(),
    };
  } catch (error) {
    await temp.remove();
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
