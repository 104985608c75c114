import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/ops/cli/run.js';
import { pointAtSources } from '../../support/doc-snippet.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** The first ```ts block after `marker` in `file`. */
function snippetAfter(file: string, marker: string): string {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const at = text.indexOf(marker);
  if (at < 0) throw new Error(`"${marker}" not found in ${file}`);
  const match = /```ts\n([\s\S]*?)```/.exec(text.slice(at));
  if (!match?.[1]) throw new Error(`no \`\`\`ts block after "${marker}" in ${file}`);
  return match[1];
}

/**
 * The fleet-convergence code in the README and in docs/fleet-convergence.md type-checks against
 * the public API, so the docs cannot drift from `waitConverged`'s options.
 */
describe('fleet convergence doc snippets', () => {
  // Under the repository (so imports resolve through its node_modules), in the ignored .tmp/.
  mkdirSync(join(ROOT, '.tmp'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, '.tmp', 'fleet-docs-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['README.md', '## Fleet convergence', "import type { Redis } from 'ioredis';\nimport type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';\ndeclare const redis: Redis;\ndeclare const secretsClient: SecretsManagerClient;\n"],
    ['docs/fleet-convergence.md', '## From code', 'declare const event: { SecretId: string };\n'],
  ])('%s (%s) type-checks, strict', (file, marker, preamble) => {
    // Prepare
    const code = pointAtSources(snippetAfter(file, marker));
    const path = join(dir, `${file.replace(/\W/g, '_')}.ts`);
    // Imports first (the snippet's own), then the declarations the snippet assumes.
    const lines = code.split('\n');
    const imports = lines.filter((line) => line.startsWith('import '));
    const body = lines.filter((line) => !line.startsWith('import '));
    writeFileSync(path, `${[...imports, preamble, ...body].join('\n')}\nexport {};\n`);

    // Act
    const run = () =>
      execFileSync(
        process.execPath,
        [join(ROOT, 'node_modules/typescript/bin/tsc'), '--noEmit', '--strict', '--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--skipLibCheck', '--types', 'node', path],
        { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' },
      );

    // Assess
    expect(run).not.toThrow();
  }, 60_000);
});

async function helpOf(command: string): Promise<string> {
  const out: string[] = [];
  const code = await runCli([command, '--help'], {
    out: (line) => out.push(line),
    err: (line) => out.push(line),
    readStdin: async () => '',
    env: {},
    untilSignal: () => new Promise<NodeJS.Signals>(() => undefined),
  });
  expect(code, `rotation-relay ${command} --help`).toBe(0);
  return out.join('\n');
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
function anchors(markdown: string): string[] {
  return [...markdown.matchAll(/^#+ (.+)$/gm)].map(([, title]) =>
    (title ?? '').trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-'),
  );
}

describe.each([
  ['docs/fleet-convergence.md', (text: string) => text],
  ['README.md', (text: string) => text.slice(text.indexOf('## Fleet convergence'))],
])('%s (fleet convergence)', (file, part) => {
  const text = part(readFileSync(join(ROOT, file), 'utf8'));

  it('shows only fleet commands and flags that exist', async () => {
    const uses = [...text.matchAll(/rotation-relay (status|wait-converged|drill|publish)((?: +(?:--[a-z-]+|[A-Za-z0-9_./<>…-]+|\[[^\]]*\]))*)/g)];
    expect(uses.length).toBeGreaterThan(0);
    for (const [use, command, rest] of uses) {
      const help = await helpOf(command ?? '');
      for (const flag of (rest ?? '').match(/--[a-z-]+/g) ?? []) expect(help, `"${use.trim()}" in ${file}`).toContain(flag);
    }
  });

  it('links only to files and headings that exist', () => {
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (!target || /^https?:/.test(target)) continue;
      const [path, anchor] = target.split('#');
      const linked = path ? resolve(dirname(join(ROOT, file)), path) : join(ROOT, file);
      expect(existsSync(linked), `${file} links to ${target}`).toBe(true);
      if (anchor && linked.endsWith('.md')) expect(anchors(readFileSync(linked, 'utf8')), `${file} links to ${target}`).toContain(anchor);
    }
  });
});

describe('the subscriber ACL and the exit codes of wait-converged, wherever they are documented', () => {
  const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
  const aclLines = (file: string) => read(file).split('\n').map((line) => line.trim()).filter((line) => line.startsWith('user subscriber on >PASSWORD '));

  it('gives one and the same subscriber ACL line in docs/protocol.md and SECURITY.md, with the presence grants', () => {
    // Act
    const protocol = aclLines('docs/protocol.md');
    const security = aclLines('SECURITY.md');

    // Assess
    expect(protocol).toHaveLength(1);
    expect(security).toEqual(protocol);
    for (const grant of ['~{rotation-relay}:instances', '~{rotation-relay}:instance:*', '+zadd', '+hset', '+pexpire', '+info', '+client|setname']) expect(protocol[0]).toContain(` ${grant}`);
  });

  it('documents exit 3 (unaccounted subscribers) in the help, the README and docs/fleet-convergence.md', async () => {
    // Act
    const help = await helpOf('wait-converged');

    // Assess
    expect(help).toMatch(/^ {2}3 {2}timed out while subscribers on the channel report no presence/m);
    expect(read('README.md')).toMatch(/`3`\s+only from `wait-converged`: subscribers on the channel that report no presence/);
    expect(read('docs/fleet-convergence.md')).toMatch(/`3` timed out while subscribers on the\s+channel report no presence/);
  });
});
