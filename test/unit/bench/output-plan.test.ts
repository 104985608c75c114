import { readFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { outputPlan, QUICK_RESULTS_DIR } from '../../../bench/support/output-plan.js';
import { RESULTS_DIR } from '../../../bench/support/scenario.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const dir = (path: string): string => (path.endsWith(sep) ? path : path + sep);

/** `npm run bench` flags → where results go and whether the README's table is rewritten. */
describe('bench outputPlan', () => {
  it('a full run writes the committed bench/results/ and the README table', () => {
    expect(outputPlan({ quick: false, readme: false, noReadme: false })).toEqual({ resultsDir: dir(RESULTS_DIR), writeReadme: true });
  });

  it('--quick writes a git-ignored folder and leaves the README alone', () => {
    expect(outputPlan({ quick: true, readme: false, noReadme: false })).toEqual({ resultsDir: dir(QUICK_RESULTS_DIR), writeReadme: false });
  });

  it('--quick --readme writes the README table when asked', () => {
    expect(outputPlan({ quick: true, readme: true, noReadme: false }).writeReadme).toBe(true);
  });

  it('a full run into another --results-dir leaves the README, which quotes bench/results/, alone', () => {
    expect(outputPlan({ quick: false, resultsDir: '/tmp/elsewhere', readme: false, noReadme: false })).toEqual({ resultsDir: `/tmp/elsewhere${sep}`, writeReadme: false });
  });

  it('--results-dir and --no-readme as CI passes them (test/integration/bench/quick-run.test.ts)', () => {
    expect(outputPlan({ quick: true, resultsDir: '/tmp/rr-bench-quick-x', readme: false, noReadme: true })).toEqual({ resultsDir: `/tmp/rr-bench-quick-x${sep}`, writeReadme: false });
  });

  it('--no-readme keeps a full run off the README', () => {
    expect(outputPlan({ quick: false, readme: false, noReadme: true }).writeReadme).toBe(false);
  });

  it('refuses --readme with --no-readme', () => {
    expect(() => outputPlan({ quick: false, readme: true, noReadme: true })).toThrow('--readme and --no-readme contradict each other');
  });

  it('the quick folder lies under one .gitignore lists', () => {
    const ignored = readFileSync(join(ROOT, '.gitignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line.endsWith('/') && !line.startsWith('#'));

    expect(ignored.some((entry) => dir(QUICK_RESULTS_DIR).startsWith(join(ROOT, entry)))).toBe(true);
  });
});
