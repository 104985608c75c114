import { describe, expect, it } from 'vitest';
import { loadWorkerConfig } from '../../../src/config/index.js';
import { configErrorOf, MINIMAL_WORKER_ENV } from '../../support/worker-config.js';

const minimal = MINIMAL_WORKER_ENV;

describe('worker throughput and fast-publish settings', () => {
  it('defaults to four consumers and no fast publish', () => {
    expect(loadWorkerConfig(minimal)).toMatchObject({ consumers: 4, fastPublish: false, fastPublishMarginMs: 100 });
  });

  it('reads the settings when given', () => {
    const config = loadWorkerConfig({ ...minimal, ROTATION_RELAY_CONSUMERS: '8', ROTATION_RELAY_FAST_PUBLISH: 'true', ROTATION_RELAY_FAST_PUBLISH_MARGIN_MS: '1000' });

    expect(config).toMatchObject({ consumers: 8, fastPublish: true, fastPublishMarginMs: 1000 });
  });

  it.each(['0', '33', '2.5', 'many'])('refuses ROTATION_RELAY_CONSUMERS=%s naming the variable and the range', (value) => {
    const error = configErrorOf(() => loadWorkerConfig({ ...minimal, ROTATION_RELAY_CONSUMERS: value }));

    expect(error.variable).toBe('ROTATION_RELAY_CONSUMERS');
    expect(error.message).toBe('ROTATION_RELAY_CONSUMERS: expected a whole number from 1 to 32');
  });

  it('refuses a negative fast-publish margin', () => {
    const error = configErrorOf(() => loadWorkerConfig({ ...minimal, ROTATION_RELAY_FAST_PUBLISH_MARGIN_MS: '-1' }));

    expect(error.variable).toBe('ROTATION_RELAY_FAST_PUBLISH_MARGIN_MS');
  });
});
