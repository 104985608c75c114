import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The ```ts block under a README heading. */
function snippetUnder(heading: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(`## ${heading}`));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  if (!match?.[1]) throw new Error(`no \`\`\`ts block under "## ${heading}"`);
  return match[1];
}

describe('README "Use it in your app" example', () => {
  const dir = mkdtempSync(join(ROOT, '.tmp-readme-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('type-checks, strict, against the public API as a user would import it', () => {
    // The package name resolves to the built dist/ for users; here it is pointed at src/index.ts.
    const code = snippetUnder('Use it in your app').replaceAll("from 'rotation-relay'", `from '${join(ROOT, 'src/index.js')}'`);
    writeFileSync(join(dir, 'app.ts'), `${code}\nexport {};\n`);

    const run = () =>
      execFileSync(
        process.execPath,
        [join(ROOT, 'node_modules/typescript/bin/tsc'), '--noEmit', '--strict', '--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--skipLibCheck', '--types', 'node', join(dir, 'app.ts')],
        { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' },
      );

    expect(run).not.toThrow();
  }, 60_000);
});

describe('README inspect-event example', () => {
  it('shows what the command really prints for the sample it names', async () => {
    const { parseEventBody, toInspectLine } = await import('../../src/events/index.js');
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n');
    const at = readme.findIndex((line) => line.startsWith('$ npx rotation-relay inspect-event ../shared/events/'));
    const file = readme[at]?.split(' ').at(-1) ?? '';
    const sample = readFileSync(join(ROOT, file), 'utf8');

    expect(readme[at + 1]).toBe(toInspectLine(parseEventBody(sample)));
  });
});
