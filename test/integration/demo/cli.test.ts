import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { demo, DEMO_ENTRY, findDemoEntry } from '../../../src/ops/cli/commands/demo.js';
import { cliIoDouble } from '../../support/cli-io-double.js';
import { runCli } from '../../../src/ops/cli/run.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** `rotation-relay demo`: runs the checkout's demo script, or says how to get one. */
describe('rotation-relay demo', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  const tempRoot = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'rr-demo-cli-'));
    dirs.push(dir);
    return dir;
  };

  it('--help says what the demo does, its options, and that it runs from a checkout', async () => {
    const io = cliIoDouble({ env: { PATH: process.env.PATH ?? '' } });

    const code = await runCli(['demo', '--help'], io);

    expect(code).toBe(0);
    const help = io.outLines.join('\n');
    expect(help).toMatch(/^Usage: rotation-relay demo \[--rotations N\]/);
    expect(help).toContain('--rotations N');
    expect(help).toContain('npm ci && npm run demo');
    expect(help).toContain('from an installed package it prints how to get a checkout and exits 2');
  });

  it('finds the demo script of this checkout', () => {
    expect(findDemoEntry()).toBe(join(ROOT, DEMO_ENTRY));
  });

  it('outside a checkout, prints how to run it and exits 2', async () => {
    const io = cliIoDouble({ env: { PATH: process.env.PATH ?? '' } });

    const code = await demo(['--rotations', '1'], io, tempRoot());

    expect(code).toBe(2);
    expect(io.errLines.join('\n')).toContain('npm ci && npm run demo');
  });

  it('in a checkout, runs its script through tsx with the arguments given and returns its exit code', async () => {
    const root = tempRoot();
    mkdirSync(join(root, 'scripts', 'demo'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
    const record = join(root, 'argv.json');
    writeFileSync(
      join(root, DEMO_ENTRY),
      `import { writeFileSync } from 'node:fs';\nconst args: string[] = process.argv.slice(2);\nwriteFileSync(${JSON.stringify(record)}, JSON.stringify(args));\nprocess.exit(3);\n`,
    );

    const code = await demo(['--rotations', '2', '--interval-ms', '10'], cliIoDouble({ env: { PATH: process.env.PATH ?? '' } }), root);

    expect(code).toBe(3);
    expect(JSON.parse(readFileSync(record, 'utf8'))).toEqual(['--rotations', '2', '--interval-ms', '10']);
  });
});
