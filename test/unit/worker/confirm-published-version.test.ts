import { describe, expect, it } from 'vitest';
import type { CurrentVersion } from '../../../src/secrets/index.js';
import { confirmCurrentVersion } from '../../../src/relay/worker/confirm-current-version.js';

/**
 * A read that does not know the last published version yet (it predates that publish: another
 * replica's, or a fast publish of a later event) must be re-read, not broadcast as a step back.
 */
const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf';
const PUBLISHED = 'version-published';
const OLD = 'version-old';

function read(current: string, stages: Record<string, string[]>): CurrentVersion {
  return { arn: ARN, name: 'prod/db', versionId: current, stagesByVersion: stages };
}

function clock(start = 1_000) {
  let t = start;
  return { now: () => t, sleep: async (ms: number) => void (t += ms) };
}

describe('confirmCurrentVersion: reads that predate the last publish', () => {
  it('re-reads while the read lists the published version as AWSPENDING', async () => {
    const answers = [read(OLD, { [OLD]: ['AWSCURRENT'], [PUBLISHED]: ['AWSPENDING'] }), read(PUBLISHED, { [PUBLISHED]: ['AWSCURRENT'], [OLD]: ['AWSPREVIOUS'] })];
    const time = clock();

    const result = await confirmCurrentVersion({ describe: async () => answers.shift() as CurrentVersion, lastPublishedVersionId: PUBLISHED, windowMs: 1_000, intervalMs: 100, ...time });

    expect(result).toMatchObject({ current: { versionId: PUBLISHED }, reads: 2, gaveUp: false });
  });

  it('re-reads a read started before the publish that does not list the published version', async () => {
    const answers = [read(OLD, { [OLD]: ['AWSCURRENT'] }), read(PUBLISHED, { [PUBLISHED]: ['AWSCURRENT'] })];
    const time = clock();

    const result = await confirmCurrentVersion({
      describe: async () => answers.shift() as CurrentVersion,
      lastPublishedVersionId: PUBLISHED,
      lastPublishedAt: 1_050,
      windowMs: 1_000,
      intervalMs: 100,
      ...time,
    });

    expect(result).toMatchObject({ current: { versionId: PUBLISHED }, reads: 2 });
  });

  it('trusts a read started after the publish that does not list the published version (it lost its labels)', async () => {
    const time = clock();

    const result = await confirmCurrentVersion({
      describe: async () => read(OLD, { [OLD]: ['AWSCURRENT'] }),
      lastPublishedVersionId: PUBLISHED,
      lastPublishedAt: 500,
      windowMs: 1_000,
      intervalMs: 100,
      ...time,
    });

    expect(result).toEqual({ current: read(OLD, { [OLD]: ['AWSCURRENT'] }), reads: 1, gaveUp: false });
  });

  it('trusts a read that shows the published version superseded (a roll-back)', async () => {
    const rolledBack = read(OLD, { [OLD]: ['AWSCURRENT'], [PUBLISHED]: ['AWSPREVIOUS'] });

    const result = await confirmCurrentVersion({ describe: async () => rolledBack, lastPublishedVersionId: PUBLISHED, lastPublishedAt: 5_000, windowMs: 1_000, intervalMs: 100, ...clock() });

    expect(result).toEqual({ current: rolledBack, reads: 1, gaveUp: false });
  });

  it('gives up after the window and says why', async () => {
    const stale = read(OLD, { [OLD]: ['AWSCURRENT'], [PUBLISHED]: ['AWSPENDING'] });

    const result = await confirmCurrentVersion({ describe: async () => stale, lastPublishedVersionId: PUBLISHED, windowMs: 300, intervalMs: 100, ...clock() });

    expect(result).toEqual({ current: stale, reads: 4, gaveUp: true, staleBecause: 'published-version' });
  });
});
