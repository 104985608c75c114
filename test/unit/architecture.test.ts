import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

/**
 * docs/architecture.md and the lint rule describe the same modules as src holds (issue 15): a
 * folder added to src without an index.ts, without a line in MAY_IMPORT (so lint would not hold
 * it to the rule) or without a line in the doc fails here.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SRC = join(ROOT, 'src');
/** Folders that group modules and hold no code of their own. */
const LAYER_FOLDERS = ['sdk', 'relay', 'ops'];

/** Every folder of src (relative, `/`-separated) that holds a .ts file directly. */
function codeFolders(dir = SRC): string[] {
  const found: string[] = [];
  const entries = readdirSync(dir);
  if (entries.some((name) => name.endsWith('.ts'))) found.push(relative(SRC, dir).split('\\').join('/'));
  for (const name of entries) if (statSync(join(dir, name)).isDirectory()) found.push(...codeFolders(join(dir, name)));
  return found;
}

describe('the modules of src', () => {
  let mayImport: Record<string, string[]>;
  beforeAll(async () => {
    ({ MAY_IMPORT: mayImport } = (await import(pathToFileURL(join(ROOT, 'eslint.config.js')).href)) as { MAY_IMPORT: Record<string, string[]> });
  });

  it('puts no code at the top of src or in a layer folder', () => {
    expect(codeFolders().filter((folder) => folder === '' || LAYER_FOLDERS.includes(folder))).toEqual([]);
  });

  it('gives every folder that holds code an index.ts', () => {
    expect(codeFolders().filter((folder) => !existsSync(join(SRC, folder, 'index.ts')))).toEqual([]);
  });

  it('holds every module to the rule: each is a key of MAY_IMPORT (a folder inside a module, like ops/cli/commands, is part of it)', () => {
    const modules = Object.keys(mayImport);
    const moduleOf = (folder: string) => modules.find((module) => folder === module || folder.startsWith(`${module}/`));
    expect(codeFolders().filter((folder) => moduleOf(folder) === undefined)).toEqual([]);
    expect(modules.filter((module) => !existsSync(join(SRC, module, 'index.ts')))).toEqual([]);
  });

  it('lets a module import only modules that exist, and never itself', () => {
    for (const [module, allowed] of Object.entries(mayImport)) {
      expect(allowed.filter((other) => !(other in mayImport) || other === module), module).toEqual([]);
    }
  });

  it('lists every module in docs/architecture.md', () => {
    const doc = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
    expect(Object.keys(mayImport).filter((module) => !doc.includes(`| \`${module}\` |`))).toEqual([]);
  });
});
