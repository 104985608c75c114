/**
 * Vitest setup file (registered in vitest.config.ts): the secret-leak guard of every test file.
 *
 * It captures, in the test file's process, everything the code under test can say:
 * - `process.stdout.write` / `process.stderr.write` (pino's default destination uses them once
 *   stdout is wrapped) and `fs.write` / `fs.writeSync` on fd 1 and 2 (a SonicBoom built earlier);
 * - every `console` method;
 * - every error: each `RotationRelayError` as it is constructed (thrown, logged or swallowed),
 *   every Error passed to an EventEmitter's `emit` (ioredis, the worker's `retry`, listeners),
 *   uncaught exceptions and unhandled rejections, and the errors of failed tests (assertion
 *   errors excepted: their diffs quote the test's own expectations);
 * - in integration test files, every `CredentialCache.status()` and `RelayWorker.status` result;
 * - captured pino loggers (log-capture.ts) and child processes (cli-process.ts) record their
 *   lines themselves.
 * Secret values are registered by MotoSecrets, the Redis/PostgreSQL launchers and RelayFixture.
 * After the file's own `afterAll` hooks (services stopped, last lines flushed) it scans the
 * capture and fails the file naming each place a value appeared, never the value.
 *
 * It cannot pass by being switched off unnoticed: the same hook fails the file when one of the
 * wrappers was replaced, and test/integration/reliability/leak-guard.test.ts runs leaky fixtures
 * through a real vitest process to prove each channel is caught.
 */
import fs from 'node:fs';
import { EventEmitter } from 'node:events';
import { format, inspect, promisify } from 'node:util';
import { afterAll, afterEach, beforeEach, expect } from 'vitest';
import { RotationRelayError } from '../../src/common/errors.js';
import { beginFile, describeLeaks, findLeaks, recordError, recordOutput, setCurrentTest } from './leak-guard.js';

const WRAPPED = Symbol.for('rotation-relay.leak-guard.wrapped');
type Wrapped = { [WRAPPED]?: true };

const testFile = expect.getState().testPath ?? '(unknown test file)';
beginFile();
const isIntegration = /[\\/]test[\\/]integration[\\/]/.test(testFile);

function mark<T extends object>(fn: T): T {
  (fn as Wrapped)[WRAPPED] = true;
  return fn;
}

function isWrapped(fn: unknown): boolean {
  return typeof fn === 'function' && (fn as Wrapped)[WRAPPED] === true;
}

function chunkText(chunk: unknown): string {
  if (typeof chunk === 'string') return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('utf8');
  return '';
}

// --- stdout / stderr -----------------------------------------------------------------------
for (const [name, stream] of [['process.stdout', process.stdout], ['process.stderr', process.stderr]] as const) {
  if (isWrapped(stream.write)) continue;
  const original = stream.write;
  stream.write = mark(function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
    recordOutput(name, chunkText(chunk));
    return (original as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof stream.write);
}

// --- fd 1 / fd 2 written through fs (a SonicBoom destination) ------------------------------
const fsWritable = fs as unknown as Record<'write' | 'writeSync', (...args: unknown[]) => unknown>;
for (const method of ['write', 'writeSync'] as const) {
  if (isWrapped(fsWritable[method])) continue;
  const original = fsWritable[method];
  const wrapped = mark(function (this: unknown, fd: unknown, data: unknown, ...rest: unknown[]): unknown {
    if (fd === 1 || fd === 2) recordOutput(`fs.${method}(fd ${String(fd)})`, chunkText(data));
    return original.call(this, fd, data, ...rest);
  });
  const custom = (original as unknown as Record<symbol, unknown>)[promisify.custom];
  if (custom !== undefined) (wrapped as unknown as Record<symbol, unknown>)[promisify.custom] = custom;
  fsWritable[method] = wrapped;
}

// --- console ---------------------------------------------------------------------------------
const CONSOLE_METHODS = ['log', 'info', 'warn', 'error', 'debug', 'trace', 'dir'] as const;
const consoleMethods = console as unknown as Record<(typeof CONSOLE_METHODS)[number], (...args: unknown[]) => void>;
for (const method of CONSOLE_METHODS) {
  if (isWrapped(consoleMethods[method])) continue;
  const original = consoleMethods[method];
  consoleMethods[method] = mark(function (this: unknown, ...args: unknown[]): void {
    recordOutput(`console.${method}`, method === 'dir' ? inspect(args[0], { depth: 6 }) : format(...args));
    original.apply(this, args);
  });
}

// --- errors ------------------------------------------------------------------------------
// RotationRelayError's constructor assigns `this.name`; an accessor on its prototype sees every
// instance being built, with its final message, whether it is later thrown, logged or dropped.
const nameDescriptor = Object.getOwnPropertyDescriptor(RotationRelayError.prototype, 'name');
if (!isWrapped(nameDescriptor?.set)) {
  Object.defineProperty(RotationRelayError.prototype, 'name', {
    configurable: true,
    enumerable: false,
    // Read only before the constructor assigns it (V8's stack header): Error's own answer.
    get: () => 'Error',
    set: mark(function (this: Error, value: string) {
      Object.defineProperty(this, 'name', { value, writable: true, enumerable: true, configurable: true });
      recordError('RotationRelayError constructed', this);
    }),
  });
}

const emitter = EventEmitter.prototype as unknown as { emit: (...args: unknown[]) => boolean };
if (!isWrapped(emitter.emit)) {
  const originalEmit = emitter.emit;
  emitter.emit = mark(function (this: object, event: unknown, ...args: unknown[]): boolean {
    const first = args[0];
    const second = args[1];
    if (first instanceof Error) recordError(`Error emitted as '${String(event)}' by ${this?.constructor?.name ?? 'an EventEmitter'}`, first);
    else if (second instanceof Error) recordError(`Error emitted as '${String(event)}' by ${this?.constructor?.name ?? 'an EventEmitter'}`, second);
    return originalEmit.call(this, event, ...args);
  });
}

process.on('uncaughtExceptionMonitor', (error) => recordError('uncaught exception', error));
process.on('unhandledRejection', (reason) => recordError('unhandled rejection', reason));

// --- status() of the SDK and the worker (integration files only: the imports are not free) --
if (isIntegration) {
  const { CredentialCache } = await import('../../src/sdk/cache/credential-cache.js');
  const { RelayWorker } = await import('../../src/relay/worker/relay-worker.js');
  const cacheProto = CredentialCache.prototype as unknown as { status: (...args: unknown[]) => unknown };
  if (!isWrapped(cacheProto.status)) {
    const originalStatus = cacheProto.status;
    cacheProto.status = mark(function (this: unknown, ...args: unknown[]): unknown {
      const result = originalStatus.apply(this, args);
      recordOutput('CredentialCache.status()', JSON.stringify(result));
      return result;
    });
  }
  const workerStatus = Object.getOwnPropertyDescriptor(RelayWorker.prototype, 'status');
  if (workerStatus?.get && !isWrapped(workerStatus.get)) {
    const originalGet = workerStatus.get;
    Object.defineProperty(RelayWorker.prototype, 'status', {
      ...workerStatus,
      get: mark(function (this: unknown): unknown {
        const result: unknown = originalGet.call(this);
        recordOutput('RelayWorker.status', JSON.stringify(result));
        return result;
      }),
    });
  }
}

// --- test names, failed tests, and the scan --------------------------------------------------
function fullName(task: { name: string; suite?: { name: string; suite?: unknown } | undefined }): string {
  const names = [task.name];
  for (let suite = task.suite; suite && suite.name; suite = suite.suite as typeof suite) names.unshift(suite.name);
  return names.join(' > ');
}

beforeEach((context) => {
  const name = fullName(context.task);
  setCurrentTest(name);
  context.onTestFailed(({ task }) => {
    for (const error of task.result?.errors ?? []) {
      if (error?.name === 'AssertionError') continue;
      recordError(`error that failed "${name}"`, Object.assign(new Error(String(error?.message ?? '')), { name: String(error?.name ?? 'Error') }));
    }
  });
});

afterEach((context) => {
  setCurrentTest(`after "${fullName(context.task)}"`);
});

afterAll(() => {
  setCurrentTest('(file tear-down)');
  const unwrapped = [
    ['process.stdout.write', process.stdout.write],
    ['process.stderr.write', process.stderr.write],
    ['fs.write', fsWritable.write],
    ['fs.writeSync', fsWritable.writeSync],
    ['EventEmitter.prototype.emit', emitter.emit],
    ...CONSOLE_METHODS.map((method) => [`console.${method}`, consoleMethods[method]] as const),
  ].filter(([, fn]) => !isWrapped(fn));
  if (unwrapped.length > 0) {
    throw new Error(`secret leak guard: ${unwrapped.map(([name]) => name).join(', ')} no longer captured in ${testFile}; something replaced the guard's wrapper`);
  }
  const leaks = findLeaks();
  if (leaks.length > 0) {
    throw new Error(`secret leak guard: ${leaks.length} registered secret value(s) appeared in the output of ${testFile}:\n${describeLeaks(leaks)}`);
  }
});
