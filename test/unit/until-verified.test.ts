import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { LifeboatError } from '../../electron/engine/errors';
import { untilVerified, type VerifiedArtifact } from '../../electron/engine/restore/gate';

describe('untilVerified', () => {
  it('a gate failure settles only once the consumer has settled (no writes left in flight when staging is removed)', async () => {
    const verified = Promise.reject(new LifeboatError('CHECKSUM_MISMATCH', 'corrupted'));
    verified.catch(() => undefined);
    const v = { stream: new PassThrough(), verified } as unknown as VerifiedArtifact;
    let consumerDone = false;
    // A consumer whose last writes finish after the gate failed (asynchronous tar extraction).
    const consuming = sleep(100).then(() => {
      consumerDone = true;
      throw new Error('premature close');
    });
    await expect(untilVerified(v, consuming)).rejects.toThrow('corrupted');
    expect(consumerDone).toBe(true);
  });
});
