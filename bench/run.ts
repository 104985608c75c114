/**
 * The benchmark runner (`npm run bench`, `npm run bench -- --quick`).
 *
 * Runs each scenario file in its own process, one after the other (they share two cores and must
 * not disturb each other), passes their progress through, then merges their results into
 * bench/results/latest.json and generates bench/results/latest.md, bench/results/propagation.svg
 * the README's Performance table (only between its bench-table markers) and the measured bounds of
 * SECURITY.md's threat model (between its hostile-bounds markers). Figures are produced
 * here, never typed.
 *
 * Options: --quick (≤ 90 s, smaller fleets and bursts), --only name[,name] (scenarios to run),
 * --delay-ms N (the Secrets Manager double's delay, default 20), the API-cost inputs
 * --fleet N (100), --secrets N (3), --rotations-per-day N (6), and where results go:
 * --results-dir DIR (default bench/results/ for a full run, the git-ignored
 * bench/results/tmp/quick/ for --quick), --readme / --no-readme (write the README's table or
 * not; by default only a full run into bench/results/ does). So a quick run never touches a
 * committed file unless asked to (support/output-plan.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { registerCleanup } from '../test/support/cleanup-registry.js';
import { apiCost, checkTargets, type Latest } from './support/report.js';
import { writeDocuments } from './support/write-documents.js';
import { outputPlan } from './support/output-plan.js';
import { machine, writeResult } from './support/scenario.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    'delay-ms': { type: 'string', default: '20' },
    fleet: { type: 'string', default: '100' },
    secrets: { type: 'string', default: '3' },
    'rotations-per-day': { type: 'string', default: '6' },
    'results-dir': { type: 'string' },
    readme: { type: 'boolean', default: false },
    'no-readme': { type: 'boolean', default: false },
  },
});
const quick = values.quick === true;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const plan = (() => {
  try {
    return outputPlan({ quick, resultsDir: values['results-dir'], readme: values.readme === true, noReadme: values['no-readme'] === true });
  } catch (error) {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
})();
const OUT_DIR = plan.resultsDir;
const TMP = `${OUT_DIR}tmp/`;

interface Scenario {
  name: string;
  file: string;
  args: string[];
  /**
   * A scenario still running after this long is stopped and reported as failed: a guard against a
   * hang, at least twice what it takes on an idle machine, more for --quick, which runs in CI
   * beside other tests (scenarios bound their own loops too).
   */
  budgetSeconds: number;
}

const delayArgs = ['--delay-ms', String(values['delay-ms'])];
const SCENARIOS: Scenario[] = [
  { name: 'propagation', file: 'propagation.ts', args: delayArgs, budgetSeconds: quick ? 150 : 300 },
  { name: 'soak', file: 'soak.ts', args: [], budgetSeconds: quick ? 120 : 240 },
  { name: 'worker', file: 'worker.ts', args: delayArgs, budgetSeconds: quick ? 120 : 300 },
  { name: 'worker-publish-latency', file: 'worker-publish-latency.ts', args: [], budgetSeconds: quick ? 45 : 120 },
  // The opt-in fast publish (ROTATION_RELAY_FAST_PUBLISH): enqueue → PUBLISH without waiting for DescribeSecret.
  {
    name: 'fast-publish',
    file: 'worker-publish-latency.ts',
    args: [...delayArgs, '--fast-publish', 'true', '--events', quick ? '20' : '150'],
    budgetSeconds: quick ? 45 : 120,
  },
  // Floods on the channel against one instance (issue 13): reads, memory, a genuine rotation's switch.
  { name: 'hostile', file: 'hostile.ts', args: delayArgs, budgetSeconds: quick ? 120 : 240 },
  // One Redis, a simulated fleet (issue 16, item 4): 10,000 listen-only subscribers + presence for 10,000 instances.
  { name: 'scale', file: 'scale.ts', args: [], budgetSeconds: quick ? 60 : 240 },
];
/** What the whole run should take on an otherwise idle 2-core machine (10 minutes; 90 s for --quick). */
const TARGET_S = quick ? 90 : 600;
const only = values.only ? new Set(values.only.split(',')) : undefined;
const selected = SCENARIOS.filter((s) => !only || only.has(s.name));

const started = performance.now();
const loadAtStart = machine().loadAverage1m;
const elapsed = (): string => `${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s`;
const say = (message: string): void => {
  process.stderr.write(`[bench ${elapsed()}] ${message}\n`);
};

function runScenario(scenario: Scenario): Promise<{ ok: boolean; seconds: number; error?: string; firstAttempt?: { seconds: number; error: string } }> {
  const t0 = performance.now();
  const { budgetSeconds } = scenario;
  const out = `${TMP}${scenario.name}.json`;
  const args = ['--import', 'tsx', `${ROOT}bench/${scenario.file}`, ...(quick ? ['--quick'] : []), '--out', out, ...scenario.args];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const unregister = registerCleanup(`bench ${scenario.name}`, () => child.kill('SIGKILL'));
    const tail: string[] = [];
    const relay = (chunk: Buffer, stream: 'stdout' | 'stderr'): void => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > 40) tail.shift();
        // Progress lines go through as they come; other output only when the scenario fails.
        if (stream === 'stderr' && line.startsWith('[')) process.stderr.write(`[bench ${elapsed()}] ${line}\n`);
      }
    };
    child.stdout.on('data', (chunk: Buffer) => relay(chunk, 'stdout'));
    child.stderr.on('data', (chunk: Buffer) => relay(chunk, 'stderr'));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      say(`${scenario.name} exceeded its ${Math.round(budgetSeconds)} s budget; stopping it`);
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
    }, budgetSeconds * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      unregister();
      const seconds = (performance.now() - t0) / 1000;
      if (code === 0 && existsSync(out)) return resolve({ ok: true, seconds });
      const reason = timedOut ? `exceeded its ${Math.round(budgetSeconds)} s budget` : `exited with ${code ?? signal}`;
      process.stderr.write(`${tail.join('\n')}\n`);
      // The scenario's last words go into the report with the reason: the exception's own line
      // first (a stack's last frames alone say nothing), then the last lines.
      const words = tail.filter((line) => !line.startsWith('['));
      const thrown = words.find((line) => /^\s*(\w*Error\b|Uncaught|.* (exited|timed out) )/.test(line));
      const last = [...(thrown === undefined ? [] : [thrown]), ...words.slice(-3).filter((line) => line !== thrown)].join(' / ');
      resolve({ ok: false, seconds, error: last ? `${reason}: ${last.slice(0, 800)}` : reason });
    });
  });
}

/** Results of this run, read back from the scenario files (a scenario that failed leaves none). */
function read<T>(name: string, ok: boolean): T | undefined {
  if (!ok) return undefined;
  return JSON.parse(readFileSync(`${TMP}${name}.json`, 'utf8')) as T;
}

say(`${quick ? 'quick' : 'full'} run: ${selected.map((s) => s.name).join(', ')}`);
const outcomes: Latest['scenarios'] = {};
for (const scenario of selected) {
  say(`▶ ${scenario.name}`);
  let outcome = await runScenario(scenario);
  if (!outcome.ok) {
    // Once more: a scenario starts a dozen servers and processes on a shared machine (in CI beside
    // other tests), and one lost race should not cost the whole report. The first failure stays
    // in the results (`firstAttempt`) and in latest.md, so a retry is never silent.
    say(`✗ ${scenario.name} failed (${outcome.error ?? 'unknown'}); running it once more`);
    const firstAttempt = { seconds: outcome.seconds, error: outcome.error ?? 'failed' };
    outcome = { ...(await runScenario(scenario)), firstAttempt };
  }
  outcomes[scenario.name] = outcome;
  say(`${outcome?.ok ? '✓' : '✗'} ${scenario.name} in ${Math.round(outcome?.seconds ?? 0)} s${outcome?.error ? ` (${outcome.error})` : ''}`);
}

/* eslint-disable @typescript-eslint/no-explicit-any -- scenario files are JSON written by this folder's own code */
const propagation = read<any>('propagation', outcomes.propagation?.ok === true);
const soak = read<any>('soak', outcomes.soak?.ok === true);
const worker = read<any>('worker', outcomes.worker?.ok === true);
const publishLatency = read<any>('worker-publish-latency', outcomes['worker-publish-latency']?.ok === true);
const fastPublish = read<any>('fast-publish', outcomes['fast-publish']?.ok === true);
const hostile = read<any>('hostile', outcomes.hostile?.ok === true);
const scale = read<any>('scale', outcomes.scale?.ok === true);
/* eslint-enable @typescript-eslint/no-explicit-any */

const m = machine();
const latest: Latest = {
  machine: { cores: m.cores, cpuModel: m.cpuModel, platform: m.platform, loadAverage1mAtStart: loadAtStart, loadAverage1mAtEnd: m.loadAverage1m },
  node: m.node,
  date: new Date().toISOString(),
  quick,
  durationSec: Math.round((performance.now() - started) / 100) / 10,
  scenarios: outcomes,
};
if (propagation) {
  latest.double = propagation.double;
  latest.propagation = propagation.propagation;
  latest.refreshStartNextTurn = propagation.refreshStartNextTurn;
  latest.pollBaseline = propagation.pollBaseline;
  latest.getSecretValuePerChange = Math.max(...(latest.propagation ?? []).map((r) => r.getSecretValuePerChange));
}
if (soak) {
  latest.soak = soak.soak;
  latest.soakSetup = { instances: soak.instances, windowMs: soak.windowMs };
}
if (worker) {
  latest.worker = worker.worker;
  latest.workerRuntime = worker.runtime;
  latest.double ??= worker.double;
}
if (publishLatency) latest.workerPublishLatency = { events: publishLatency.events, publishLatencyMs: publishLatency.publishLatencyMs };
if (fastPublish) {
  latest.fastPublish = {
    events: fastPublish.events,
    published: fastPublish.published,
    fastPublished: fastPublish.fastPublished,
    delayMs: Number(values['delay-ms']),
    enqueueToPublishMs: fastPublish.enqueueToPublishMs,
    sqsFloorP50Ms: fastPublish.sqsFloorP50Ms,
    sqsFloorP99Ms: fastPublish.sqsFloorP99Ms,
    sqsFloor: fastPublish.sqsFloor,
  };
}
if (hostile) latest.hostile = hostile.hostile;
if (scale) latest.scale = scale.scale;
if (latest.getSecretValuePerChange !== undefined) {
  const ours = (latest.propagation ?? []).filter((r) => r.secretsManager === 'double');
  const largest = ours.reduce<(typeof ours)[number] | undefined>((a, r) => (!a || r.subscribers > a.subscribers ? r : a), undefined);
  latest.apiCost = apiCost(
    { fleet: Number(values.fleet), secrets: Number(values.secrets), rotationsPerDay: Number(values['rotations-per-day']) },
    latest.getSecretValuePerChange,
    largest?.endToEndP50Ms,
    latest.worker,
  );
}
latest.targets = checkTargets(latest);

writeResult(`${OUT_DIR}latest.json`, latest);
writeDocuments(latest, OUT_DIR, { readme: plan.writeReadme, say });

if (latest.durationSec > TARGET_S) {
  say(`the run took ${latest.durationSec} s, more than the ${TARGET_S} s it should take on an idle 2-core machine (1-minute load average now ${m.loadAverage1m})`);
}
const missed = latest.targets.filter((t) => t.met === false).map((t) => t.what);
const shown = relative(ROOT, OUT_DIR) || '.';
say(`wrote ${shown}/latest.json, latest.md${latest.propagation ? ', propagation.svg' : ''}${plan.writeReadme ? ', the README table and SECURITY.md\'s bounds' : ' (README and SECURITY.md left alone: --readme writes them)'} in ${latest.durationSec} s`);
if (missed.length > 0) say(`targets missed: ${missed.join('; ')}`);
const failed = Object.entries(outcomes).filter(([, o]) => !o.ok);
if (failed.length > 0) {
  say(`failed scenarios: ${failed.map(([name]) => name).join(', ')}`);
  process.exit(1);
}
process.exit(0);
