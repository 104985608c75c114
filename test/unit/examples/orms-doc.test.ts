import { describe, expect, it } from 'vitest';
import { brokenLinks, localLinks, markdownAnchors, readDoc, tsBlocks, typecheckSnippet } from '../../support/doc-snippet.js';

/**
 * docs/use-with-orms.md describes what exists: each ORM's example compiles against the public
 * entry points and the ORM's own types (strict, NodeNext), and its links resolve. The Prisma
 * example needs a client generated from a schema, which test/integration/orm/prisma.test.ts
 * generates and runs; here it is only required to be there.
 */
const DOC = 'docs/use-with-orms.md';
const text = readDoc(DOC);
const blocks = tsBlocks(text);
const isPrisma = (code: string): boolean => code.includes('PrismaClient');

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
    expect(localLinks(DOC).length).toBeGreaterThan(0);
    expect(brokenLinks(DOC)).toEqual([]);
  });

  it('is where the README table points, by heading', () => {
    const readme = readDoc('README.md');
    const slugs = markdownAnchors(text);
    for (const [, anchor] of readme.matchAll(/\(docs\/use-with-orms\.md#([^)]+)\)/g)) expect(slugs, `README links to use-with-orms.md#${anchor}`).toContain(anchor);
  });
});
