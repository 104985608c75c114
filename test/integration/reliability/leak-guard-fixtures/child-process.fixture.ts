import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { runTsProcess } from '../../../support/cli-process.js';
import { fixtureSecret } from './fixture-values.js';

const PRINTER = fileURLToPath(new URL('./print-env.ts', import.meta.url));

it('a child process (as cli-process.ts runs the CLI) prints a registered value on stderr', async () => {
  const child = runTsProcess(PRINTER, [], { PRINT_ME: fixtureSecret('CHILD') }, 'fixture child');
  expect(await child.exited).toBe(0);
});
