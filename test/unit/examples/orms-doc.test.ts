import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { typecheckSnippet } from '../../support/doc-snippet.js';

/**
 * docs/use-with-orms.md describes what exists: each ORM's example compiles against the public
 * entry points and the ORM's own types (strict, NodeNext), and its links resolve. The Prisma
 * example needs a client generated from a schema, which test/integration/orm/prisma.test.ts
 * generates and runs; here it is only required to be there.
 */
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const DOC = 'docs/use-with-orms.md';
const text = readFileSync(join(ROOT, DOC), 'utf8');
const blocks = [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map(([, code]) => code ?? '');
const isPrisma = (code: string): boolean => code.includes('PrismaClient');

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchors(markdown: string): Set<string> {
  const slugs = new Set<string>();
  for (const [, heading] of markdown.matchAll(/^#{1,6} (.+)$/gm)) {
    slugs.add((heading ?? '').toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-'));
  }
  return slugs;
}

describe(DOC, () => {
  it('has an example per ORM, the Prisma one included', () => {
    for (const orm of ['drizzle(', 'PostgresDialect', 'knex(', 'typeormPgDriver(', 'PrismaPg(', 'sequelizeCredentials(']) {
      expect(blocks.some((code) => code.includes(orm)), `an example using ${orm}`).toBe(true);
    }
    expect(blocks.filter(isPrisma)).toHaveLength(1);
  });

  it.each(blocks.filter((code) => !isPrisma(code)).map((code) => [/(drizzle|PostgresDialect|knex|typeorm|sequelize)/i.exec(code)?.[1] ?? 'shared setup', code]))(
    'the %s example type-checks',
    (_name, code) => {
      expect(() => typecheckSnippet(code)).not.toThrow();
    },
    60_000,
  );

  it('links only to files and headings that exist', () => {
    const links = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map(([, target]) => target ?? '').filter((target) => !/^https?:/.test(target));
    for (const target of links) {
      const [path, anchor] = target.split('#');
      const file = path ? resolve(dirname(join(ROOT, DOC)), path) : join(ROOT, DOC);
      expect(existsSync(file), `${DOC} links to ${target}`).toBe(true);
      if (anchor && file.endsWith('.md')) expect(anchors(readFileSync(file, 'utf8')), `${DOC} links to ${target}`).toContain(anchor);
    }
  });

  it('is where the README table points, by heading', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const slugs = anchors(text);
    for (const [, anchor] of readme.matchAll(/\(docs\/use-with-orms\.md#([^)]+)\)/g)) expect(slugs, `README links to use-with-orms.md#${anchor}`).toContain(anchor);
  });
});
