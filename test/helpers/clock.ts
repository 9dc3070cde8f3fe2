/**
 * The wall clock, for set-ups whose events are stamped by something the test cannot hand a clock to
 * (PostgreSQL's commit timestamps, pgBackRest's backup labels, second-resolution ids and pickers).
 * Where a test needs two such stamps to fall in different seconds, it waits for the next second to
 * begin instead of a fixed 1.1 s: about half a second on average, never more than one. `now` and
 * `sleep` are injected so the helper checks itself against a fake clock (test/unit/test-helpers.test.ts).
 */
export interface WallClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: WallClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

/** A margin past the boundary, so a stamp taken right after is in the new second on every clock that reads it. */
const MARGIN_MS = 15;

/** Wait until the clock has entered the next whole second (plus a small margin); returns the time it reads then. */
export async function nextSecond(clock: WallClock = realClock): Promise<number> {
  const start = clock.now();
  const target = Math.floor(start / 1000) * 1000 + 1000 + MARGIN_MS;
  while (clock.now() < target) await clock.sleep(target - clock.now());
  const now = clock.now();
  if (Math.floor(now / 1000) <= Math.floor(start / 1000))
    throw new Error(`nextSecond: the clock read ${now} after ${start}, still the same second`);
  return now;
}
