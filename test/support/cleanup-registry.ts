/**
 * Last-resort cleanup of everything the test process started (child services, temp dirs).
 *
 * Why: a test that fails in `beforeAll`, forgets `afterAll`, or a worker that vitest terminates
 * (tinypool sends SIGTERM to fork workers) must not leave redis-server/moto_server/postgres
 * orphans on a CI machine. Each launcher registers a *synchronous* cleanup here and unregisters
 * it once it has stopped the service normally. Leftovers run, newest first, on process `exit`
 * and on SIGINT/SIGTERM/SIGHUP (after which the signal is re-raised so the default behaviour,
 * i.e. dying with that signal, is kept). A SIGKILLed test process cannot clean up; nothing can.
 */

type Cleanup = { readonly name: string; readonly run: () => void };

const pending = new Set<Cleanup>();
let installed = false;
let signalsHandledByCaller = false;
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Registers a synchronous cleanup (signals, `rmSync`, `spawnSync` only: it may run inside an
 * `exit` handler where the event loop is gone). Returns the function that unregisters it.
 */
export function registerCleanup(name: string, run: () => void): () => void {
  install();
  const entry: Cleanup = { name, run };
  pending.add(entry);
  return () => {
    pending.delete(entry);
  };
}

/**
 * For a long-running program (the demo) that handles SIGINT/SIGTERM/SIGHUP itself and stops what
 * it started in order (app processes before the servers they use): from now on the registry
 * leaves those signals alone and runs leftovers only on `exit`. Without this, a Ctrl-C would
 * SIGKILL the servers at once, under the feet of processes that are still shutting down.
 */
export function leaveSignalsToCaller(): void {
  signalsHandledByCaller = true;
}

/** Runs and forgets every pending cleanup, newest first. Errors are reported, not thrown. */
export function runPendingCleanups(): void {
  for (const entry of [...pending].reverse()) {
    pending.delete(entry);
    try {
      entry.run();
    } catch (err) {
      process.stderr.write(`test cleanup "${entry.name}" failed: ${String(err)}\n`);
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runPendingCleanups);
  for (const signal of SIGNALS) {
    const onSignal = (): void => {
      if (signalsHandledByCaller) return;
      runPendingCleanups();
      process.removeListener(signal, onSignal);
      // Someone else handles it (e.g. vitest when profiling): let them decide what happens.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}
