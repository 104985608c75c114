import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { allSettings } from '../../../src/config/index.js';
import { renderConfigTable, replaceBetweenMarkers } from '../../../scripts/config-table.js';

describe('README configuration table', () => {
  it('is the table generated from src/config/settings.ts (run `npm run docs:config` when this fails)', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

    expect(replaceBetweenMarkers(readme, renderConfigTable())).toBe(readme);
  });

  it('documents every setting the code reads', () => {
    const table = renderConfigTable();

    for (const { setting } of allSettings()) expect(table).toContain(`\`${setting.name}\``);
  });
});
