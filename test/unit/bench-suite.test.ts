import { describe, expect, it } from 'vitest';
import { PART_SHARES_MIN, SUITE_BUDGET_MIN, budgetCheck, suiteSection } from '../../bench/suite.mjs';

// The benchmark suite's own clock (bench/run.mjs): the budget check and the section it writes.
describe('the benchmark suite budget', () => {
  it('gives every part a share, and the shares add up to the 25-minute budget', () => {
    expect(SUITE_BUDGET_MIN).toBe(25);
    const total = Object.values(PART_SHARES_MIN).reduce((a, b) => a + b, 0);
    expect(total).toBe(SUITE_BUDGET_MIN);
  });

  it('says plainly when the suite took longer than the budget, and which parts went over their share', () => {
    const parts = [
      { name: 'backup', minutes: 3.5 },
      { name: 'restore', minutes: 12 },
      { name: 'catalog', minutes: 5 },
    ];
    const check = budgetCheck(parts, 26.2, 25, { backup: 4, restore: 7, catalog: 4 });
    expect(check.over).toBe(true);
    // The largest overshoot first: restore (5 over), then catalog (1 over); backup is within its share.
    expect(check.overParts.map((p) => p.name)).toEqual(['restore', 'catalog']);
    expect(check.verdict).toContain('**Over budget**: the suite took 26.2 min, more than 25 min');
    expect(check.verdict).toContain('restore 12.0 min (its share 7 min), catalog 5.0 min (its share 4 min)');
    expect(check.verdict).not.toContain('backup');
  });

  it('is within budget at the budget, and still names a part over its share', () => {
    const check = budgetCheck(
      [
        { name: 'pitr', minutes: 8 },
        { name: 'verify', minutes: 1 },
      ],
      25,
      25,
      { pitr: 6, verify: 2 },
    );
    expect(check.over).toBe(false);
    expect(check.verdict).toBe(
      'Within budget: 25.0 min of 25; over their share all the same: pitr 8.0 min (its share 6 min).',
    );
  });

  it('names a part that has no share', () => {
    const check = budgetCheck([{ name: 'newbench', minutes: 1 }], 1, 25, { pitr: 6 });
    expect(check.over).toBe(false);
    expect(check.overParts).toEqual([]);
    expect(check.verdict).toContain('No share set for newbench');
  });

  it('writes the section with each part, its share, the verdict and the load average at start and end', () => {
    const md = suiteSection({
      parts: [
        { name: 'backup', minutes: 4.24 },
        { name: 'restore', minutes: 9.01 },
      ],
      totalMin: 13.3,
      startedAt: new Date('2026-12-02T19:00:00Z'),
      load: { start: [2.5, 1.25, 0.5], end: [12, 10.5, 8] },
      cpus: 2,
      budgetMin: 25,
      shares: { backup: 4, restore: 7 },
    });
    expect(md.startsWith('### The suite itself\n')).toBe(true);
    expect(md).toContain('`npm run bench` took **13.3 min** on this machine (goal: under 25 min). Within budget');
    expect(md).toContain('| backup | 4.2 | 4 |');
    expect(md).toContain('| restore | 9.0 | 7 |');
    expect(md).toContain('over their share all the same: restore 9.0 min (its share 7 min)');
    expect(md).toContain(
      'Load average (1, 5, 15 min) 2.50, 1.25, 0.50 at the start and 12.00, 10.50, 8.00 at the end, on 2 CPUs.',
    );
    expect(md).toContain('_Measured 2026-12-02T19:00Z._');
  });
});
