import { describe, expect, it } from 'vitest';
import { planRetention, type RetentionCandidate, type RetentionPolicy } from '../../electron/engine/backup/retention';

/** 400 daily sets at 02:00 UTC ending on 2026-11-21, plus an extra one on the last day. */
function history(): RetentionCandidate[] {
  const out: RetentionCandidate[] = [];
  const end = Date.UTC(2026, 10, 21, 2, 0, 0);
  for (let i = 399; i >= 0; i--) {
    const d = new Date(end - i * 86_400_000);
    const id = `${d.toISOString().replace(/[-:]/g, '').slice(0, 15)}Z-pg-logical`;
    out.push({
      system: 'db',
      kind: 'pg-logical',
      setId: id,
      path: `sets/db/${id}`,
      createdAt: d,
      parent: null,
      verified: false,
    });
  }
  const late = new Date(end + 12 * 3_600_000);
  out.push({
    system: 'db',
    kind: 'pg-logical',
    setId: '20261121T140000Z-pg-logical',
    path: 'sets/db/20261121T140000Z-pg-logical',
    createdAt: late,
    parent: null,
    verified: false,
  });
  return out;
}

const kept = (policy: RetentionPolicy, sets = history()): string[] =>
  planRetention(sets, policy)
    .filter((d) => d.keep)
    .map((d) => d.set.setId.slice(0, 15));

describe('GFS retention over 400 daily sets', () => {
  it.each([
    {
      policy: { keepLast: 3, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 },
      count: 3,
      newest: '20261121T140000',
      oldest: '20261120T020000',
    },
    // 7 days: the newest of each day, so the 02:00 set of the last day is not one of them.
    {
      policy: { keepLast: 0, keepDaily: 7, keepWeekly: 0, keepMonthly: 0 },
      count: 7,
      newest: '20261121T140000',
      oldest: '20261115T020000',
    },
    // ISO weeks: 2026-11-16 is a Monday; the newest set of each week is its Sunday's (or the last day's).
    {
      policy: { keepLast: 0, keepDaily: 0, keepWeekly: 4, keepMonthly: 0 },
      count: 4,
      newest: '20261121T140000',
      oldest: '20261101T020000',
    },
    // Months: the newest set of each month is its last day's.
    {
      policy: { keepLast: 0, keepDaily: 0, keepWeekly: 0, keepMonthly: 12 },
      count: 12,
      newest: '20261121T140000',
      oldest: '20251231T020000',
    },
  ])('$policy keeps $count sets from $oldest to $newest', ({ policy, count, newest, oldest }) => {
    const k = kept(policy);
    expect(k).toHaveLength(count);
    expect(k[0]).toBe(newest);
    expect(k.at(-1)).toBe(oldest);
  });

  it('combines the rules and explains every decision', () => {
    const decisions = planRetention(history(), { keepLast: 2, keepDaily: 7, keepWeekly: 4, keepMonthly: 6 });
    const keep = decisions.filter((d) => d.keep);
    // last 2 (both of 11-21) + 6 more days (11-20..11-15) + 2 more Sundays (11-08, 11-01)
    // + 5 more month-ends (10-31, 09-30, 08-31, 07-31, 06-30); the rest overlap.
    expect(keep.length).toBe(2 + 6 + 2 + 5);
    expect(keep.map((d) => d.set.setId.slice(0, 8)).at(-1)).toBe('20260630');
    expect(decisions.find((d) => d.set.setId.startsWith('20261121T140000'))?.reasons).toEqual([
      'last 1',
      'daily 2026-11-21',
      'weekly 2026-W47',
      'monthly 2026-11',
    ]);
    expect(decisions.filter((d) => !d.keep).every((d) => d.reasons[0] === 'not selected by the policy')).toBe(true);
    expect(decisions).toHaveLength(401);
  });

  it('never removes the newest verified set', () => {
    const sets = history();
    const old = sets[10]!;
    old.verified = true;
    const d = planRetention(sets, { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }).find(
      (x) => x.set === old,
    )!;
    expect(d.keep).toBe(true);
    expect(d.reasons).toEqual(['newest verified set']);
  });

  it('never removes a parent a kept incremental depends on, transitively', () => {
    const base = (id: string, day: number, parent: string | null): RetentionCandidate => ({
      system: 'uploads',
      kind: 'files',
      setId: id,
      path: `sets/uploads/${id}`,
      createdAt: new Date(Date.UTC(2026, 0, day)),
      parent,
      verified: false,
    });
    const sets = [
      base('20260101T000000Z-files', 1, null),
      base('20260102T000000Z-files', 2, '20260101T000000Z-files'),
      base('20260103T000000Z-files', 3, '20260102T000000Z-files'),
      base('20260104T000000Z-files', 4, null),
    ];
    const d = planRetention(sets, { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 });
    expect(d.filter((x) => x.keep).map((x) => x.set.setId)).toEqual(['20260104T000000Z-files']);
    const d2 = planRetention(sets.slice(0, 3), { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 });
    expect(d2.every((x) => x.keep)).toBe(true);
    expect(d2.find((x) => x.set.setId.startsWith('20260101'))?.reasons).toEqual(['parent of 20260102T000000Z-files']);
  });

  it('applies per system and kind', () => {
    const sets = history();
    sets.push({
      system: 'app-config',
      kind: 'config',
      setId: '20200101T000000Z-config',
      path: 'x',
      createdAt: new Date('2020-01-01T00:00:00Z'),
      parent: null,
      verified: false,
    });
    const d = planRetention(sets, { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 });
    expect(
      d
        .filter((x) => x.keep)
        .map((x) => x.set.system)
        .sort(),
    ).toEqual(['app-config', 'db']);
  });

  it('refuses a policy that keeps nothing, and negative counts', () => {
    expect(() => planRetention(history(), { keepLast: 0, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 })).toThrow(
      /keeps nothing/,
    );
    expect(() => planRetention(history(), { keepLast: -1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 })).toThrow(
      /keep-last/,
    );
  });
});
