/**
 * A TypeScript entry point as its own process (through tsx) that talks JSON lines: commands in on
 * stdin, messages out on stdout. Messages are dispatched as they arrive (no polling), which keeps
 * the parent's bookkeeping off the measured path.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { registerCleanup } from '../../test/support/cleanup-registry.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The process behind a {@link JsonLineChild}. */
export interface ChildHandle {
  readonly child: ChildProcess;
  /** Resolves with the exit code (or the signal's name) once the process has ended. */
  readonly exited: Promise<number | string>;
  signal(signal: NodeJS.Signals): void;
}

export interface ChildMessage {
  type: string;
  [key: string]: unknown;
}

export class JsonLineChild extends EventEmitter<{ message: [ChildMessage]; stderr: [string] }> {
  readonly process: ChildHandle;

  /**
   * `node [nodeArgs] --import tsx script [args]` from the repository root; the environment is
   * `env` plus PATH and HOME (like the tests' `runTsProcess`, which takes no node flags).
   */
  constructor(
    script: string,
    env: Record<string, string>,
    readonly label: string,
    args: string[] = [],
    nodeArgs: string[] = [],
  ) {
    super();
    const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const unregister = registerCleanup(label, () => child.kill('SIGKILL'));
    const exited = new Promise<number | string>((resolve) => {
      child.on('close', (code, signal) => {
        unregister();
        resolve(code ?? signal ?? 'unknown');
      });
    });
    this.process = { child, exited, signal: (signal) => child.kill(signal) };
    this.setMaxListeners(0);
    let pending = '';
    this.process.child.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        try {
          this.emit('message', JSON.parse(line) as ChildMessage);
        } catch {
          // not one of ours (a stray log line)
        }
      }
    });
    let pendingErr = '';
    this.process.child.stderr?.on('data', (chunk: Buffer) => {
      pendingErr += chunk.toString('utf8');
      const lines = pendingErr.split('\n');
      pendingErr = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) this.emit('stderr', line);
    });
  }

  get pid(): number | undefined {
    return this.process.child.pid;
  }

  send(command: Record<string, unknown>): void {
    this.process.child.stdin?.write(`${JSON.stringify(command)}\n`);
  }

  /** The next message matching `predicate`; rejects on timeout or when the process exits first. */
  next(predicate: (message: ChildMessage) => boolean, what: string, timeoutMs = 60_000): Promise<ChildMessage> {
    return new Promise((resolve, reject) => {
      const stderr: string[] = [];
      const onStderr = (line: string): void => {
        stderr.push(line);
        if (stderr.length > 8) stderr.shift();
      };
      const onMessage = (message: ChildMessage): void => {
        if (!predicate(message)) return;
        cleanup();
        resolve(message);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.label}: timed out after ${timeoutMs} ms waiting for ${what} (stderr: ${stderr.join(' | ')})`));
      }, timeoutMs);
      const onExit = (code: number | string): void => {
        cleanup();
        reject(new Error(`${this.label} exited (${code}) while waiting for ${what} (stderr: ${stderr.join(' | ')})`));
      };
      let settled = false;
      void this.process.exited.then((code) => {
        if (!settled) onExit(code);
      });
      const cleanup = (): void => {
        settled = true;
        clearTimeout(timer);
        this.off('message', onMessage);
        this.off('stderr', onStderr);
      };
      this.on('message', onMessage);
      this.on('stderr', onStderr);
    });
  }

  async request(command: Record<string, unknown>, replyType: string, timeoutMs = 60_000): Promise<ChildMessage> {
    const reply = this.next((m) => m.type === replyType || m.type === 'error', `"${replyType}"`, timeoutMs);
    this.send(command);
    const message = await reply;
    if (message.type === 'error') throw new Error(`${this.label}: ${String(message.message)}`);
    return message;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    this.process.signal('SIGTERM');
    const timer = setTimeout(() => this.process.signal('SIGKILL'), graceMs);
    await this.process.exited;
    clearTimeout(timer);
  }
}
