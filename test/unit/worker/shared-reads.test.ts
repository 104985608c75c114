import { describe, expect, it } from 'vitest';
import { SharedReads } from '../../../src/relay/worker/shared-reads.js';

/** A read double whose calls stay pending until the test settles them. */
function reads() {
  const calls: Array<{ key: string; resolve: (value: string) => void; reject: (error: Error) => void }> = [];
  const shared = new SharedReads<string>(
    (key) =>
      new Promise<string>((resolve, reject) => {
        calls.push({ key, resolve, reject });
      }),
  );
  return { shared, calls };
}

describe('SharedReads', () => {
  it('shares one read among messages of the same receive', async () => {
    const { shared, calls } = reads();
    const receipt = shared.receive();

    const a = shared.get('secret-a', receipt);
    const b = shared.get('secret-a', receipt);
    calls[0]?.resolve('v1');

    expect(await Promise.all([a, b])).toEqual(['v1', 'v1']);
    expect(calls).toHaveLength(1);
    expect(shared.counts).toEqual({ started: 1, shared: 1 });
  });

  it('never gives a message a read that started before it was received', async () => {
    const { shared, calls } = reads();
    const first = shared.receive();
    const early = shared.get('secret-a', first);
    const second = shared.receive();

    const late = shared.get('secret-a', second);
    calls[0]?.resolve('before');
    calls[1]?.resolve('after');

    expect(await early).toBe('before');
    expect(await late).toBe('after');
    expect(calls).toHaveLength(2);
  });

  it('lets a message of an earlier receive join a read started later', async () => {
    const { shared, calls } = reads();
    const first = shared.receive();
    shared.receive();
    const later = shared.get('secret-a', shared.receive());

    const earlier = shared.get('secret-a', first);
    calls[0]?.resolve('v2');

    expect(await Promise.all([later, earlier])).toEqual(['v2', 'v2']);
    expect(calls).toHaveLength(1);
  });

  it('keeps secrets apart, and starts a fresh read without a receipt', async () => {
    const { shared, calls } = reads();
    const receipt = shared.receive();

    void shared.get('secret-a', receipt);
    void shared.get('secret-b', receipt);
    void shared.get('secret-a');

    expect(calls.map((c) => c.key)).toEqual(['secret-a', 'secret-b', 'secret-a']);
  });

  it('does not share a read once it settled, failed or not', async () => {
    const { shared, calls } = reads();
    const receipt = shared.receive();
    const failed = shared.get('secret-a', receipt);
    calls[0]?.reject(new Error('throttled'));
    await expect(failed).rejects.toThrow('throttled');

    const retried = shared.get('secret-a', receipt);
    calls[1]?.resolve('v1');

    expect(await retried).toBe('v1');
    expect(calls).toHaveLength(2);
  });
});
