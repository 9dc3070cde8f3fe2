import { LifeboatError } from '../errors';

export interface RetentionPolicy {
  keepLast: number;
  keepDaily: number;
  keepWeekly: number;
  keepMonthly: number;
}

export interface RetentionCandidate {
  system: string;
  kind: string;
  setId: string;
  path: string;
  createdAt: Date;
  parent: string | null;
  verified: boolean;
}

export interface RetentionDecision {
  set: RetentionCandidate;
  keep: boolean;
  /** Why it is kept ("last 3", "daily 2026-11-20", "parent of …"), or why it goes. */
  reasons: string[];
}

function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = new Date(Date.UTC(t.getUTCFullYear(), 0, 1));
  const week = Math.ceil(((t.getTime() - yearStart.getTime()) / 86_400_000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

const BUCKETS: Array<{ name: 'daily' | 'weekly' | 'monthly'; field: keyof RetentionPolicy; key: (d: Date) => string }> =
  [
    { name: 'daily', field: 'keepDaily', key: (d) => d.toISOString().slice(0, 10) },
    { name: 'weekly', field: 'keepWeekly', key: isoWeek },
    { name: 'monthly', field: 'keepMonthly', key: (d) => d.toISOString().slice(0, 7) },
  ];

/**
 * Grandfather-father-son retention, per system and kind: keep the last N sets, and the newest
 * set of each of the last N days, weeks and months that have sets (UTC). Never removes the
 * newest verified set of a system, nor any set a kept set depends on (an incremental's parent,
 * transitively).
 */
export function planRetention(sets: RetentionCandidate[], policy: RetentionPolicy): RetentionDecision[] {
  for (const [k, v] of Object.entries(policy)) {
    if (!Number.isInteger(v) || v < 0)
      throw new LifeboatError(
        'BAD_INPUT',
        `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} must be a whole number ≥ 0.`,
      );
  }
  if (policy.keepLast + policy.keepDaily + policy.keepWeekly + policy.keepMonthly === 0) {
    throw new LifeboatError('BAD_INPUT', 'This policy keeps nothing; refusing.', {
      hint: 'Give at least one of --keep-last, --keep-daily, --keep-weekly, --keep-monthly.',
    });
  }
  const reasons = new Map<RetentionCandidate, string[]>();
  const keep = (s: RetentionCandidate, why: string): void => {
    const r = reasons.get(s) ?? [];
    r.push(why);
    reasons.set(s, r);
  };
  const groups = new Map<string, RetentionCandidate[]>();
  for (const s of sets) {
    const g = groups.get(`${s.system}\0${s.kind}`) ?? [];
    g.push(s);
    groups.set(`${s.system}\0${s.kind}`, g);
  }
  for (const group of groups.values()) {
    group.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.setId.localeCompare(a.setId));
    group.slice(0, policy.keepLast).forEach((s, i) => keep(s, `last ${i + 1}`));
    for (const bucket of BUCKETS) {
      const limit = policy[bucket.field];
      const seen = new Set<string>();
      for (const s of group) {
        if (seen.size >= limit) break;
        const k = bucket.key(s.createdAt);
        if (seen.has(k)) continue;
        seen.add(k);
        keep(s, `${bucket.name} ${k}`);
      }
    }
  }
  // The newest verified set of each system survives whatever the policy says.
  const bySystem = new Map<string, RetentionCandidate>();
  for (const s of sets) {
    if (!s.verified) continue;
    const cur = bySystem.get(s.system);
    if (!cur || s.createdAt > cur.createdAt) bySystem.set(s.system, s);
  }
  for (const s of bySystem.values()) keep(s, 'newest verified set');
  // Keep what kept sets depend on.
  const byId = new Map(sets.map((s) => [`${s.system}/${s.setId}`, s]));
  const stack = [...reasons.keys()];
  while (stack.length > 0) {
    const child = stack.pop()!;
    if (!child.parent) continue;
    const parent = byId.get(`${child.system}/${child.parent}`);
    if (!parent) continue;
    const had = reasons.has(parent);
    keep(parent, `parent of ${child.setId}`);
    if (!had) stack.push(parent);
  }
  return sets
    .map((s) => ({ set: s, keep: reasons.has(s), reasons: reasons.get(s) ?? ['not selected by the policy'] }))
    .sort((a, b) => a.set.system.localeCompare(b.set.system) || b.set.createdAt.getTime() - a.set.createdAt.getTime());
}
