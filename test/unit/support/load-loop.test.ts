import { describe, expect, it } from 'vitest';
import { startLoadLoop } from '../../support/load-loop.js';

describe('startLoadLoop (test support)', () => {
  it('lets timers run while every operation fails at once (a closed client), so the test that stops it is not starved', async () => {
    // Prepare: operations that reject in a microtask until a timer has run; past CAP they wait a
    // real turn, so a loop that never yields ends up failing CAP times instead of hanging the file.
    const CAP = 100_000;
    let timerRan = false;
    let failedBeforeTimer = 0;
    setTimeout(() => (timerRan = true), 0);
    const load = startLoadLoop(async () => {
      // Once the timer ran, the client "works" and, like any real one, waits for I/O.
      if (timerRan) return new Promise((resolve) => setImmediate(resolve));
      failedBeforeTimer += 1;
      if (failedBeforeTimer > CAP) await new Promise((resolve) => setTimeout(resolve, 1));
      throw new Error('client is closed');
    }, 2);

    // Act
    await new Promise<void>((resolve) => {
      const check = (): void => (timerRan ? resolve() : void setTimeout(check, 1));
      check();
    });
    const result = await load.stop();

    // Assess: the timer ran while the operations were failing, not only once CAP of them forced a wait.
    expect(failedBeforeTimer).toBeLessThan(CAP);
    expect(result.failures.length).toBe(failedBeforeTimer);
    expect(result.operations).toBeGreaterThanOrEqual(failedBeforeTimer);
    expect(result.failures[0]).toMatchObject({ message: 'client is closed' });
  });
});
