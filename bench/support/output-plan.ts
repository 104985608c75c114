import { resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RESULTS_DIR } from './scenario.js';

/**
 * Where `--quick` writes by default: under bench/results/tmp/, which git ignores. Quick figures
 * (smaller fleets, a busy CI machine) must never replace the committed full-run results.
 */
export const QUICK_RESULTS_DIR = fileURLToPath(new URL('../results/tmp/quick/', import.meta.url));

export interface OutputFlags {
  quick: boolean;
  /** `--results-dir DIR`, when given. */
  resultsDir?: string | undefined;
  /** `--readme`: write the README's Performance table whatever the other flags say. */
  readme: boolean;
  /** `--no-readme`: never write it. */
  noReadme: boolean;
}

export interface OutputPlan {
  /** Absolute, ending with the path separator. */
  resultsDir: string;
  writeReadme: boolean;
}

/**
 * Where a bench run writes, from its flags. Only a full run into the committed bench/results/
 * rewrites the README's table by default: the table quotes those files, so figures written
 * anywhere else (a quick run, another `--results-dir`) would leave it quoting files that do not
 * hold them. `--readme` asks for it anyway; `--no-readme` refuses it even for a full run.
 */
export function outputPlan(flags: OutputFlags, committedDir: string = RESULTS_DIR, quickDir: string = QUICK_RESULTS_DIR): OutputPlan {
  if (flags.readme && flags.noReadme) throw new Error('--readme and --no-readme contradict each other: give one of them');
  const asDir = (dir: string): string => resolve(dir) + sep;
  const resultsDir = asDir(flags.resultsDir ?? (flags.quick ? quickDir : committedDir));
  const intoCommitted = resultsDir === asDir(committedDir);
  const writeReadme = flags.readme || (!flags.noReadme && !flags.quick && intoCommitted);
  return { resultsDir, writeReadme };
}
