import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRegisteredSecret, registeredSecretCount } from '../../support/leak-guard.js';
import { randomSecretValue } from '../../support/moto-secrets.js';
import { runCommand } from '../../support/run-command.js';
import { createTempDir, type TempDir } from '../../support/temp-dir.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const VITEST = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
const CONFIG = join(ROOT, 'test', 'support', 'leak-guard.vitest.config.ts');

/** Each leaky fixture, the channels the guard must name for it, and how it names the values. */
const LEAKY = {
  'stdout.fixture.ts': { sources: ['in process.stdout'], labels: ['fixture value STDOUT'] },
  'console.fixture.ts': { sources: ['in console.warn'], labels: ['fixture value CONSOLE'] },
  'pino.fixture.ts': { sources: ['in process.stdout'], labels: ['fixture value PINO'] },
  'captured-logger.fixture.ts': {
    sources: ['in captureLogger {"component":"fixture"}'],
    labels: ['fixture JSON secret CAPTURED (JSON-escaped)', 'fixture JSON secret CAPTURED (field password) (as registered)'],
  },
  'child-process.fixture.ts': { sources: ['in fixture child stderr'], labels: ['fixture value CHILD'] },
  'status.fixture.ts': { sources: ['in CredentialCache.status()'], labels: ['fixture value STATUS'] },
  'many-values.fixture.ts': { sources: ['in process.stderr'], labels: ['fixture bulk value 777 (as registered)'] },
  'error.fixture.ts': {
    sources: ['in RotationRelayError constructed', "in Error emitted as 'error' by EventEmitter"],
    labels: ['fixture value ERROR', 'fixture value EMITTED'],
  },
} as const;
const NAMES = ['STDOUT', 'CONSOLE', 'PINO', 'CAPTURED', 'CHILD', 'STATUS', 'ERROR', 'EMITTED', 'MANY', 'CLEAN'] as const;

interface JsonReport {
  testResults: Array<{ name: string; status: string; message: string }>;
}

/**
 * The secret-leak guard (test/support/leak-guard-setup.ts) proves itself: a real vitest process
 * runs fixtures that each leak a registered value through one channel (stdout, console, a
 * default pino logger, a captured logger, a child process, status(), a typed error, an emitted
 * error). Every one must fail naming the file, the channel and the test, never the value; a clean
 * fixture that uses a registered value without printing it must pass.
 */
describe('secret-leak guard', () => {
  let dir: TempDir;
  let report: JsonReport;
  const values = Object.fromEntries(NAMES.map((name) => [name, `leak-guard-${name.toLowerCase()}-${randomBytes(12).toString('hex')}`])) as Record<(typeof NAMES)[number], string>;

  beforeAll(async () => {
    dir = await createTempDir('rr-leak-guard-');
    const outputFile = join(dir.path, 'report.json');
    // The nested run must not think it is one of this run's workers.
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('VITEST') && key !== 'NODE_OPTIONS'));
    for (const name of NAMES) env[`LEAK_GUARD_FIXTURE_${name}`] = values[name];
    const run = runCommand(process.execPath, [VITEST, 'run', '--config', CONFIG, '--reporter=json', `--outputFile=${outputFile}`], { cwd: ROOT, env, timeoutMs: 90_000 });
    // Leaky fixtures fail the nested run (exit code 1); the report says which and why.
    await run.catch((error: unknown) => {
      if (!/exit code 1/.test(String((error as Error).message).split('\n')[0] ?? '')) throw error;
    });
    report = JSON.parse(await readFile(outputFile, 'utf8')) as JsonReport;
  }, 120_000);

  afterAll(async () => {
    await dir?.remove();
  });

  const resultOf = (file: string) => {
    const result = report.testResults.find((entry) => entry.name.endsWith(`/leak-guard-fixtures/${file}`));
    if (!result) throw new Error(`no result for ${file} in the nested run's report`);
    return result;
  };

  it.each(Object.entries(LEAKY))('fails %s, naming the channel but not the value', (file, { sources, labels }) => {
    const result = resultOf(file);

    expect(result.status).toBe('failed');
    expect(result.message).toContain('secret leak guard');
    expect(result.message).toContain(file);
    for (const source of sources) expect(result.message).toContain(source);
    expect(result.message).toMatch(/during "[^"]+"/);
    for (const label of labels) expect(result.message).toContain(label);
    for (const value of Object.values(values)) expect(result.message).not.toContain(value);
  });

  it('passes a file that uses a registered value without printing it (no false positive)', () => {
    expect(resultOf('clean.fixture.ts')).toMatchObject({ status: 'passed' });
  });

  it('is fed by the support code: MotoSecrets values are registered as they are made', () => {
    const before = registeredSecretCount();

    const value = randomSecretValue();

    expect(isRegisteredSecret(value)).toBe(true);
    expect(registeredSecretCount()).toBe(before + 1);
  });
});
