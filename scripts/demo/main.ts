/**
 * `npm run demo` (and `rotation-relay demo` in a checkout): the whole loop live on this machine.
 * moto_server (Secrets Manager, EventBridge with the project's rule, SQS), a redis-server for the
 * invalidations, the real worker (`rotation-relay worker`, its own process), and app instances
 * (their own processes, test/support/app-instance) with rotating pg, Redis and SMTP clients under
 * load against a private PostgreSQL, redis-server and SMTP server; a driver rotates the secrets
 * the way rotation Lambdas do. See `--help` (the text lives in src/ops/cli/commands/demo.ts).
 */
import { parseArgs } from 'node:util';
import { demoHelp } from '../../src/ops/cli/commands/demo.js';
import { leaveSignalsToCaller, runPendingCleanups } from '../../test/support/cleanup-registry.js';
import { driveRotations } from './driver.js';
import { DemoModel, type CompletedRotation } from './model.js';
import { missingDjangoPrerequisites } from './django-instance.js';
import { formatMissing, missingPrerequisites } from './prerequisites.js';
import { endpointLines, frame, MODE_DESCRIPTIONS, rotationLine, statusCommand, summaryLine, type DemoSettings } from './render.js';
import { DemoStack } from './stack.js';

const USAGE = demoHelp.split('\n')[0] ?? '';

function usageError(message: string): never {
  process.stderr.write(`rotation-relay demo: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function wholeNumber(value: string | undefined, flag: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) usageError(`${flag} takes a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}`);
  return n;
}

function parseFlags() {
  try {
    return parseArgs({
      options: {
        rotations: { type: 'string' },
        'interval-ms': { type: 'string' },
        'window-ms': { type: 'string' },
        instances: { type: 'string' },
        django: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (error) {
    return usageError(error instanceof Error ? error.message : String(error));
  }
}

const values = parseFlags();
if (values.help) {
  process.stdout.write(`${demoHelp}\n`);
  process.exit(0);
}
const settings: DemoSettings = {
  rounds: values.rotations === undefined ? Infinity : wholeNumber(values.rotations, '--rotations', 0, 1),
  intervalMs: wholeNumber(values['interval-ms'], '--interval-ms', 2_000, 0, 3_600_000),
  windowMs: wholeNumber(values['window-ms'], '--window-ms', 1_000, 0, 60_000),
};
const instanceCount = wholeNumber(values.instances, '--instances', 3, 1, 8);

const django = values.django === true;
const missing = [...missingPrerequisites(), ...(django ? missingDjangoPrerequisites() : [])];
if (missing.length > 0) {
  process.stderr.write(`${formatMissing(missing)}\n`);
  process.exit(2);
}

// From here on Ctrl-C means "stop in order": app instances, then the worker, then the servers.
leaveSignalsToCaller();
const stopping = new AbortController();
let firstSignalAt: number | undefined;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    const now = Date.now();
    if (firstSignalAt === undefined) {
      firstSignalAt = now;
      stopping.abort(new Error(`stopped by ${signal}`));
    } else if (now - firstSignalAt > 1_000) {
      // The terminal and `npm run` may both deliver one Ctrl-C; a second one a second later means "now".
      process.stderr.write(`\nrotation-relay demo: ${signal} again: killing everything it started\n`);
      runPendingCleanups();
      process.exit(130);
    }
  });
}

const model = new DemoModel();
const tty = process.stdout.isTTY === true;
const recent: string[] = [];
let live = false;
let drawnLines = 0;
const write = (text: string) => process.stdout.write(text);
const say = (line: string) => {
  if (!live) write(`${line}\n`);
};

function draw(): void {
  if (!live) return;
  const columns = Math.max(40, (process.stdout.columns ?? 120) - 1);
  const rows = Math.max(10, (process.stdout.rows ?? 40) - 1);
  let lines = frame(model, stack.endpoints(), settings, recent);
  // Never taller than the screen: the cursor cannot move back above its top.
  if (lines.length > rows) lines = lines.slice(0, rows);
  const text = lines.map((line) => `${line.length > columns ? `${line.slice(0, columns - 1)}…` : line}\x1b[K\n`).join('');
  write(`${drawnLines > 0 ? `\x1b[${drawnLines}F` : ''}${text}\x1b[J`);
  drawnLines = lines.length;
}

function onRotation(rotation: CompletedRotation): void {
  const line = rotationLine(model, rotation, settings);
  recent.push(line);
  if (recent.length > 6) recent.shift();
  if (tty) draw();
  else write(`${line}\n`);
}

let failure: string | undefined;
const stack = new DemoStack({
  instances: instanceCount,
  django,
  windowMs: settings.windowMs,
  signal: stopping.signal,
  progress: say,
  onInstanceLine: (line) => model.onInstanceLine(line),
  onWorkerLine: (line) => model.onWorkerLine(line),
  onInstanceStarted: (id, pid) => model.addInstance(id, pid),
  onUnexpectedExit(name, how, stderrTail) {
    const problem = `${name} exited unexpectedly (${how})${stderrTail.length > 0 ? `: ${stderrTail.join(' | ').slice(0, 500)}` : ''}`;
    model.problems.push(problem);
    if (!tty) write(`! ${problem}\n`);
    failure ??= problem;
    stopping.abort(new Error(problem));
  },
});

if (tty) {
  process.on('exit', () => process.stdout.write('\x1b[?25h'));
  // A resized terminal re-wraps what was drawn: start again from a clean screen.
  process.stdout.on('resize', () => {
    if (!live) return;
    write('\x1b[2J\x1b[H');
    drawnLines = 0;
    draw();
  });
}
let timer: NodeJS.Timeout | undefined;
try {
  say(`rotation-relay demo: ${instanceCount} app instance${instanceCount === 1 ? '' : 's'}${django ? ' and a Django instance' : ''}, rotations ${Number.isFinite(settings.rounds) ? `× ${settings.rounds} of each secret` : 'until Ctrl-C'}`);
  await stack.start();
  model.worker.pid = stack.worker?.process.child.pid;
  for (const line of endpointLines(stack.endpoints(), model)) say(line);
  say(`db rotates ${MODE_DESCRIPTIONS['single-user']} (${settings.windowMs} ms window); cache alternates ${MODE_DESCRIPTIONS.overlap} and a hard switch; mail is a ${MODE_DESCRIPTIONS['hard-switch']}`);
  say(`every app instance holds the three secrets and sends pg queries, Redis SETs and mail all the time; ready.`);
  say(`the fleet as operators see it, from another terminal: ${statusCommand(stack.endpoints())}`);
  if (tty) {
    live = true;
    write('\x1b[?25l\n');
    draw();
    timer = setInterval(draw, 200);
  }
  await driveRotations(stack, model, {
    rounds: settings.rounds,
    intervalMs: settings.intervalMs,
    convergeTimeoutMs: 15_000,
    signal: stopping.signal,
    onRotation,
  });
} catch (error) {
  // An abort is a requested stop (Ctrl-C) or already recorded as a failure; anything else is one.
  if (!stopping.signal.aborted) failure ??= error instanceof Error ? error.message : String(error);
} finally {
  model.phase = 'stopping: app instances first, then the worker, then the servers…';
  if (live) draw();
  else say('stopping: app instances first, then the worker, then the servers…');
  await stack.stop();
  model.phase = 'stopped: every process it started has exited';
  if (timer) clearInterval(timer);
  if (live) {
    draw();
    live = false;
    write('\x1b[?25h');
  }
}

const totals = model.totals();
for (const detail of totals.failures.slice(0, 10)) write(`failed operation: ${detail}\n`);
if (failure) write(`demo failed: ${failure}\n`);
const ok = failure === undefined && totals.failed === 0;
write(`${summaryLine(model, ok)}\n`);
process.exit(ok ? 0 : 1);
