import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { registerCleanup } from './cleanup-registry.js';
import { recordOutput } from './leak-guard.js';
import { waitUntil } from './wait-until.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/ops/cli/main.ts', import.meta.url));

/** A `rotation-relay` command (or another entry point) running as its own process. */
export interface CliProcess {
  readonly child: ChildProcess;
  stdout(): string[];
  stderr(): string[];
  /** Resolves with the exit code (or the signal's name) once the process has ended. */
  readonly exited: Promise<number | string>;
  waitForLine(stream: 'stdout' | 'stderr', predicate: (line: string) => boolean, message: string, timeoutMs?: number): Promise<string>;
  signal(signal: NodeJS.Signals): void;
}

/**
 * Runs the CLI from source through tsx (no build step in the test loop). The environment is
 * exactly `env` plus PATH and HOME, so a test never inherits a developer's AWS settings.
 */
export function runCliProcess(args: string[], env: Record<string, string>, options: { detached?: boolean } = {}): CliProcess {
  return runTsProcess(MAIN, args, env, `rotation-relay ${args[0] ?? ''}`, options);
}

/**
 * Any TypeScript entry point of this repository as its own process (an app instance, say).
 * `detached` starts it in its own process group: a Ctrl-C in the terminal then reaches only the
 * program that started it, which can stop its children in order (the demo does).
 */
export function runTsProcess(
  script: string,
  args: string[],
  env: Record<string, string>,
  label = script,
  options: { detached?: boolean } = {},
): CliProcess {
  return runProcess(process.execPath, ['--import', 'tsx', script, ...args], env, label, options);
}

/**
 * Any program as its own process, run from the repository root (the demo's Django instance, say),
 * with exactly `env` plus PATH and HOME; its output is kept line by line and scanned by the leak guard.
 */
export function runProcess(
  command: string,
  args: string[],
  env: Record<string, string>,
  label: string,
  options: { detached?: boolean } = {},
): CliProcess {
  const child = spawn(command, args, {
    cwd: ROOT,
    detached: options.detached ?? false,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      ...env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const unregister = registerCleanup(label, () => child.kill('SIGKILL'));
  const lines = { stdout: [] as string[], stderr: [] as string[] };
  for (const stream of ['stdout', 'stderr'] as const) {
    let pending = '';
    child[stream].on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const line of parts) {
        if (line.length === 0) continue;
        lines[stream].push(line);
        recordOutput(`${label} ${stream}`, line); // scanned by the secret-leak guard
      }
    });
    child[stream].on('end', () => {
      if (!pending) return;
      lines[stream].push(pending);
      recordOutput(`${label} ${stream}`, pending);
    });
  }
  const exited = new Promise<number | string>((resolve) => {
    child.on('close', (code, signal) => {
      unregister();
      resolve(code ?? signal ?? 'unknown');
    });
  });
  return {
    child,
    stdout: () => [...lines.stdout],
    stderr: () => [...lines.stderr],
    exited,
    async waitForLine(stream, predicate, message, timeoutMs = 15_000) {
      await waitUntil(() => lines[stream].some(predicate), {
        message: `${message} (stderr so far: ${lines.stderr.slice(-5).join(' | ')})`,
        timeoutMs,
      });
      return lines[stream].find(predicate) as string;
    },
    signal: (signal) => child.kill(signal),
  };
}
