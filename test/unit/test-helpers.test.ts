import { describe, expect, it } from 'vitest';
import { nextSecond, type WallClock } from '../helpers/clock';

/** A clock the test moves: sleeping advances it by exactly the time asked. */
function fakeClock(start: number): WallClock & { slept: number[] } {
  let t = start;
  const slept: number[] = [];
  return {
    slept,
    now: () => t,
    sleep: async (ms) => {
      slept.push(ms);
      t += ms;
    },
  };
}

describe('test helpers check themselves: nextSecond (test/helpers/clock.ts)', () => {
  it('waits only to the next second (plus a margin), never a fixed 1.1 s', async () => {
    const late = fakeClock(1_700_000_000_990);
    expect(await nextSecond(late)).toBe(1_700_000_001_015);
    expect(late.slept.reduce((a, b) => a + b, 0)).toBe(25);
    const early = fakeClock(1_700_000_000_000);
    expect(await nextSecond(early)).toBe(1_700_000_001_015);
    expect(early.slept.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1015);
  }, 5000);

  it('on the real clock, the time it returns is in a later second than when it was called', async () => {
    const before = Date.now();
    const after = await nextSecond();
    expect(Math.floor(after / 1000)).toBeGreaterThan(Math.floor(before / 1000));
    expect(after - before).toBeLessThan(1100);
  }, 5000);
});
