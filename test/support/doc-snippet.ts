import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * What the doc tests check in a page of docs/: that its TypeScript snippets compile against the
 * package as a user imports it, and that its links lead to files and headings that exist.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The source file behind each entry point of package.json's "exports" (`rotation-relay` →
 * src/entry/index.js, `rotation-relay/pg` → src/entry/pg.js, …), read from package.json itself so a
 * new entry point is mapped without touching this file. TypeScript maps the `.js` to the `.ts`.
 */
function entrySources(): Map<string, string> {
  const { name, exports } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; exports: Record<string, { import: string }> };
  const sources = new Map<string, string>();
  for (const [subpath, target] of Object.entries(exports)) {
    const specifier = subpath === '.' ? name : `${name}/${subpath.replace(/^\.\//, '')}`;
    sources.set(specifier, join(ROOT, target.import.replace(/^\.\/dist\//, 'src/')));
  }
  return sources;
}

/** `code` with every `from 'rotation-relay…'` pointed at the entry point's source file. */
export function pointAtSources(code: string): string {
  const sources = entrySources();
  return code.replace(/from '(rotation-relay(?:\/[a-z-]+)?)'/g, (whole, specifier: string) => {
    const source = sources.get(specifier);
    if (source === undefined) throw new Error(`${specifier} is not an entry point of package.json's "exports"`);
    return `from '${source}'`;
  });
}

/**
 * Type-checks a TypeScript snippet from the docs the way a user would compile it (strict,
 * NodeNext), with `from 'rotation-relay'` and its subpaths (`rotation-relay/pg`, …) pointed at
 * their sources under src/ instead of the built package (see {@link pointAtSources}).
 * Throws with tsc's output when it does not compile.
 */
export function typecheckSnippet(code: string): void {
  const dir = mkdtempSync(join(ROOT, '.tmp-snippet-'));
  try {
    const file = join(dir, 'snippet.ts');
    writeFileSync(file, `${pointAtSources(code)}\nexport {};\n`);
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const args = ['--noEmit', '--strict', '--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--skipLibCheck', '--types', 'node', file];
    execFileSync(process.execPath, [tsc, ...args], { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A file of the repository (`doc` is a path from its root), as text. */
export function readDoc(doc: string): string {
  return readFileSync(join(ROOT, doc), 'utf8');
}

/** The bodies of a Markdown text's fenced ```ts blocks, in order. */
export function tsBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map(([, code]) => code ?? '');
}

/** GitHub's heading anchors of a Markdown text: lower case, punctuation dropped, spaces to hyphens. */
export function markdownAnchors(markdown: string): Set<string> {
  const slugs = new Set<string>();
  for (const [, heading] of markdown.matchAll(/^#{1,6} (.+)$/gm)) {
    slugs.add((heading ?? '').toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-'));
  }
  return slugs;
}

/** The targets of the Markdown links in `doc` (a path from the repository root), web links left out. */
export function localLinks(doc: string): string[] {
  return [...readDoc(doc).matchAll(/\]\(([^)\s]+)\)/g)].map(([, target]) => target ?? '').filter((target) => !/^https?:/.test(target));
}

/**
 * The links of `doc` that lead nowhere: to a file that does not exist, or to a heading a Markdown
 * file does not have (`#anchor` alone is a heading of `doc` itself). Each entry says which and
 * why, so `expect(brokenLinks(doc)).toEqual([])` lists every broken link at once.
 */
export function brokenLinks(doc: string): string[] {
  const broken: string[] = [];
  for (const target of localLinks(doc)) {
    const [path, anchor] = target.split('#');
    const file = path ? resolve(dirname(join(ROOT, doc)), path) : join(ROOT, doc);
    if (!existsSync(file)) broken.push(`${doc} links to ${target}: no such file`);
    else if (anchor && file.endsWith('.md') && !markdownAnchors(readFileSync(file, 'utf8')).has(anchor)) broken.push(`${doc} links to ${target}: no such heading`);
  }
  return broken;
}
