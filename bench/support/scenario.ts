/**
 * What every scenario file shares: its command line (`--quick`, `--out`), progress lines on
 * stderr (the runner passes them through while the scenario runs), and its result written as
 * JSON for the runner to merge. A scenario file runs on its own too: `tsx bench/<name>.ts --quick`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

export interface ScenarioArgs {
  quick: boolean;
  out: string;
  /** Every other `--name value` option, as given. */
  options: Record<string, string | undefined>;
}

/** Parses `--quick`, `--out FILE` and the scenario's own string options. */
export function scenarioArgs(name: string, own: string[] = []): ScenarioArgs {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string', default: `${RESULTS_DIR}tmp/${name}.json` },
      ...Object.fromEntries(own.map((option) => [option, { type: 'string' as const }])),
    },
    strict: true,
  });
  const { quick, out, ...rest } = values as Record<string, string | boolean | undefined>;
  return { quick: quick === true, out: String(out), options: rest as Record<string, string | undefined> };
}

/** `progress('3/8 rotations')` → `[name] 3/8 rotations` on stderr. */
export function progressFor(name: string): (message: string) => void {
  const started = performance.now();
  return (message) => {
    const seconds = ((performance.now() - started) / 1000).toFixed(1).padStart(5);
    process.stderr.write(`[${name} ${seconds}s] ${message}\n`);
  };
}

export function writeResult(path: string, result: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
}

/** Cores, CPU model, Node version: recorded with every result. */
export function machine(): { cores: number; cpuModel: string; node: string; platform: string; loadAverage1m: number } {
  const list = cpus();
  return {
    cores: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    // Anything else running on the machine shares its cores with the benchmark: say how busy it was.
    loadAverage1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
