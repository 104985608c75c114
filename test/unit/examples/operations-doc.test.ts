import { describe, expect, it } from 'vitest';
import { cliIoDouble } from '../../support/cli-io-double.js';
import { runCli } from '../../../src/ops/cli/run.js';
import { brokenLinks, localLinks, readDoc, typecheckSnippet } from '../../support/doc-snippet.js';

const DOCS = ['docs/operations.md', 'docs/python-subscriber.md'] as const;

async function helpOf(argv: string[]): Promise<string> {
  const io = cliIoDouble();
  expect(await runCli([...argv, '--help'], io), `rotation-relay ${argv.join(' ')} --help`).toBe(0);
  return [...io.outLines, ...io.errLines].join('\n');
}

/**
 * The operator and integration guides describe what exists: every `rotation-relay` command and
 * flag they show is one the CLI has, every link and anchor resolves, and the migration example
 * type-checks against the public API.
 */
describe.each(DOCS)('%s', (doc) => {
  const text = readDoc(doc);

  it('links only to files and headings that exist', () => {
    expect(localLinks(doc).length).toBeGreaterThan(0);
    expect(brokenLinks(doc)).toEqual([]);
  });

  it('shows only rotation-relay commands and flags that exist', async () => {
    // Code only: fenced blocks and inline code spans (prose says "rotation-relay" as a name).
    const code = [...text.matchAll(/```[a-z]*\n([\s\S]*?)```|`([^`\n]+)`/g)].map(([, block, span]) => block ?? span ?? '').join('\n');
    const uses = [...code.matchAll(/(?:^|[\s(])rotation-relay ((?:infra )?[a-z][a-z-]*)((?: +(?:--[a-z-]+|[A-Za-z0-9_./<>…-]+))*)/gm)];
    expect(uses.length).toBeGreaterThan(0);
    for (const [use, command, rest] of uses) {
      const help = await helpOf((command ?? '').split(' '));
      for (const flag of (rest ?? '').match(/--[a-z-]+/g) ?? []) expect(help, `"${use.trim()}" in ${doc}`).toContain(flag);
    }
  });
});

describe('docs/operations.md migration example', () => {

  it('type-checks, strict, against the public API as a user would import it', () => {
    const doc = readDoc('docs/operations.md');
    const section = doc.slice(doc.indexOf('## Migrating an app from a fixed poll'));
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block).toBeDefined();
    // The block is indented inside a list item.
    const code = (block ?? '')
      .split('\n')
      .map((line) => line.replace(/^ {3}/, ''))
      .join('\n');

    expect(() => typecheckSnippet(code)).not.toThrow();
  }, 60_000);
});
