// The suite's own clock (issue 22: `npm run bench` must finish in under 25 minutes on the 2-vCPU
// machine): each part's minutes beside its share of the budget, the budget check, and the section
// "The suite itself" of BENCHMARKS.md. Pure functions: run.mjs measures, these only judge and write.

/** The whole suite's budget, in minutes. */
export const SUITE_BUDGET_MIN = 25;

/**
 * Each part's share of the budget, in minutes (they add up to it), from the parts' times on a quiet
 * machine: a part over its share is named, so a suite over budget says which part grew.
 */
export const PART_SHARES_MIN = { backup: 4, catalog: 4, pitr: 6, restore: 7, verify: 2, walswitch: 2 };

const fmt = (minutes) => minutes.toFixed(1);

/**
 * The budget check of one run. `parts`: [{ name, minutes }] in the order they ran. Over when the
 * whole took more than the budget; the parts over their share are named either way (largest
 * overshoot first), and parts without a share are said to have none.
 */
export function budgetCheck(parts, totalMin, budgetMin = SUITE_BUDGET_MIN, shares = PART_SHARES_MIN) {
  const overParts = parts
    .filter((p) => shares[p.name] !== undefined && p.minutes > shares[p.name])
    .map((p) => ({ ...p, share: shares[p.name] }))
    .sort((a, b) => b.minutes - b.share - (a.minutes - a.share));
  const unshared = parts.filter((p) => shares[p.name] === undefined).map((p) => p.name);
  const over = totalMin > budgetMin;
  const named = overParts.map((p) => `${p.name} ${fmt(p.minutes)} min (its share ${p.share} min)`).join(', ');
  const verdict = [
    over
      ? `**Over budget**: the suite took ${fmt(totalMin)} min, more than ${budgetMin} min${named ? `; over their share: ${named}` : ''}.`
      : `Within budget: ${fmt(totalMin)} min of ${budgetMin}${named ? `; over their share all the same: ${named}` : ''}.`,
    ...(unshared.length ? [`No share set for ${unshared.join(', ')} (bench/suite.mjs PART_SHARES_MIN).`] : []),
  ].join(' ');
  return { over, overParts, verdict };
}

/** Load averages (1, 5, 15 min) as `a, b, c`. */
const loads = (l) => l.map((x) => x.toFixed(2)).join(', ');

/**
 * The section "The suite itself": the whole time against the budget, each part against its share,
 * the load average at the start and the end (on a shared machine the times say as much about the
 * others' load as about the suite).
 */
export function suiteSection({
  parts,
  totalMin,
  startedAt,
  load,
  cpus,
  budgetMin = SUITE_BUDGET_MIN,
  shares = PART_SHARES_MIN,
}) {
  const check = budgetCheck(parts, totalMin, budgetMin, shares);
  return [
    '### The suite itself',
    '',
    `\`npm run bench\` took **${fmt(totalMin)} min** on this machine (goal: under ${budgetMin} min). ${check.verdict}`,
    '',
    '| part | minutes | its share of the budget |',
    '| --- | --- | --- |',
    ...parts.map((p) => `| ${p.name} | ${fmt(p.minutes)} | ${shares[p.name] ?? '—'} |`),
    '',
    `Load average (1, 5, 15 min) ${loads(load.start)} at the start and ${loads(load.end)} at the end, on ${cpus} CPUs.`,
    '',
    `_Measured ${startedAt.toISOString().slice(0, 16)}Z._`,
    '',
  ].join('\n');
}
