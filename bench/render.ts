/**
 * `npx tsx bench/render.ts`: regenerates latest.md, propagation.svg, the README's Performance
 * table, SECURITY.md's bounds and docs/operations.md's sizing figures from the committed bench/results/latest.json, measuring nothing.
 * The targets are checked again from the same figures (their rules may have changed; the figures
 * cannot). For a change to a label or a table; a change to what is measured needs `npm run bench`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkTargets, type Latest } from './support/report.js';
import { writeResult } from './support/scenario.js';
import { writeDocuments } from './support/write-documents.js';

const RESULTS = fileURLToPath(new URL('results/', import.meta.url));
const latest = JSON.parse(readFileSync(`${RESULTS}latest.json`, 'utf8')) as Latest;
latest.targets = checkTargets(latest);
writeResult(`${RESULTS}latest.json`, latest);
writeDocuments(latest, RESULTS, { readme: true, say: (line) => process.stderr.write(`${line}\n`) });
process.stderr.write(`rendered bench/results/latest.md, propagation.svg, the README table, SECURITY.md's bounds and docs/operations.md's sizing figures from latest.json (${latest.date})\n`);
