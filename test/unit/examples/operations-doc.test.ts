import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cliIoDouble } from '../../support/cli-io-double.js';
import { runCli } from '../../../src/ops/cli/run.js';
import { typecheckSnippet } from '../../support/doc-snippet.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const DOCS = ['docs/operations.md', 'docs/python-subscriber.md'] as const;
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchors(markdown: string): Set<string> {
  const slugs = new Set<string>();
  for (const [, heading] of markdown.matchAll(/^#{1,6} (.+)$/gm)) {
    slugs.add(
      (heading ?? '')
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, '')
        .replace(/ /g, '-'),
    );
  }
  return slugs;
}

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
  const text = read(doc);

  it('links only to files and headings that exist', () => {
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (!target || /^https?:/.test(target)) continue;
      const [path, anchor] = target.split('#');
      const file = path ? resolve(dirname(join(ROOT, doc)), path) : join(ROOT, doc);
      expect(existsSync(file), `${doc} links to ${target}`).toBe(true);
      if (anchor && file.endsWith('.md')) expect(anchors(readFileSync(file, 'utf8')), `${doc} links to ${target}`).toContain(anchor);
    }
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
    const doc = read('docs/operations.md');
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
