import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { typecheckSnippet } from '../support/doc-snippet.js';

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
  it('type-checks, strict, against the public API as a user would import it', () => {
    expect(() => typecheckSnippet(snippetUnder('Use it in your app'))).not.toThrow();
  }, 60_000);
});

describe('README inspect-event example', () => {
  it('shows what the command really prints for the sample it names', async () => {
    const { parseEventBody, toInspectLine } = await import('../../src/relay/events/index.js');
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n');
    const at = readme.findIndex((line) => line.startsWith('$ npx rotation-relay inspect-event infra/samples/'));
    const file = readme[at]?.split(' ').at(-1) ?? '';
    const sample = readFileSync(join(ROOT, file), 'utf8');

    expect(readme[at + 1]).toBe(toInspectLine(parseEventBody(sample)));
  });
});
