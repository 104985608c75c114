import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { registerCleanup } from './cleanup-registry.js';
import { waitUntil } from './wait-until.js';

/** How a daemon ended. `error` is set when it could not be spawned at all. */
export interface DaemonExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

/** A long-running child process (a service under test) in its own process group. */
export interface Daemon {
  readonly name: string;
  readonly pid: number;
  /** Resolves once the process has exited (never rejects). */
  readonly exited: Promise<DaemonExit>;
  hasExited(): boolean;
  /** The last `maxBytes` of the process's stdout+stderr log file, for error messages. */
  logTail(maxBytes?: number): string;
  /**
   * Waits until `probe` says the service is ready. Fails fast, quoting the log, if the process
   * exits first; fails after `timeoutMs` otherwise.
   */
  waitReady(probe: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void>;
  /** Sends `signal` (default SIGTERM) to the group, SIGKILLs it after `graceMs`, awaits exit. */
  stop(opts?: { signal?: NodeJS.Signals; graceMs?: number }): Promise<void>;
}

export interface SpawnDaemonOptions {
  /** Short label used in errors, e.g. `redis-server :6390`. */
  name: string;
  command: string;
  args: readonly string[];
  /** stdout and stderr are appended to this file (no pipes, see below). */
  logFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Spawns a service process for a test.
 *
 * Why this shape:
 * - `detached` puts it in its own process group, so stopping it also stops anything it forked
 *   (e.g. the pyenv shim → python chain behind `moto_server`).
 * - Output goes to a log file and the child is `unref()`ed: a forgotten service never keeps a
 *   vitest worker alive; instead the cleanup registry SIGKILLs the group when the worker exits.
 * - Readiness is polled with {@link waitUntil}, never guessed with a sleep.
 */
export function spawnDaemon(opts: SpawnDaemonOptions): Daemon {
  const logFd = openSync(opts.logFile, 'a');
  let exitInfo: DaemonExit | undefined;
  const child = ((): ChildProcess => {
    try {
      return spawn(opts.command, opts.args, {
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        detached: true,
        stdio: ['ignore', logFd, logFd],
      });
    } finally {
      closeSync(logFd); // the child has its own copy
    }
  })();
  child.unref();

  const exited = new Promise<DaemonExit>((resolve) => {
    child.once('exit', (code, signal) => resolve((exitInfo = { code, signal })));
    child.once('error', (error) => resolve((exitInfo = { code: null, signal: null, error })));
  });
  const pid = child.pid ?? -1;
  const killGroup = (signal: NodeJS.Signals): void => {
    if (pid <= 0) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // ESRCH: the whole group is already gone.
    }
  };
  const unregister = registerCleanup(`kill ${opts.name}`, () => killGroup('SIGKILL'));
  void exited.then(() => {
    killGroup('SIGKILL'); // stragglers the leader left behind in its group
    unregister();
  });

  const logTail = (maxBytes = 4_000): string => {
    try {
      const text = readFileSync(opts.logFile, 'utf8');
      return text.length > maxBytes ? `…${text.slice(-maxBytes)}` : text;
    } catch {
      return '';
    }
  };

  return {
    name: opts.name,
    pid,
    exited,
    hasExited: () => exitInfo !== undefined,
    logTail,
    async waitReady(probe, timeoutMs) {
      const abort = new AbortController();
      void exited.then((exit) => {
        const how = exit.error
          ? `could not be spawned (${exit.error.message})`
          : `exited (code ${exit.code}, signal ${exit.signal}) before it was ready`;
        abort.abort(new Error(`${opts.name} ${how}. Log:\n${logTail()}`));
      });
      try {
        await waitUntil(probe, { timeoutMs, message: `${opts.name} to accept connections`, signal: abort.signal });
      } catch (err) {
        if (abort.signal.aborted) throw abort.signal.reason;
        killGroup('SIGKILL');
        await exited;
        throw new Error(`${(err as Error).message}. Log:\n${logTail()}`, { cause: err });
      } finally {
        abort.abort();
      }
    },
    async stop({ signal = 'SIGTERM', graceMs = 5_000 } = {}) {
      if (exitInfo) return;
      killGroup(signal);
      const timer = setTimeout(() => killGroup('SIGKILL'), graceMs);
      try {
        await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
