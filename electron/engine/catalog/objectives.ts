import type { NextActionKind, Objectives, Recoverability } from '../../../shared/domain/recoverability';
import { formatDuration } from '../../../shared/format';
import { TIERS, type Settings, type Tier } from '../settings/settings';
import type { Catalog } from './catalog';
import { presentSql, supersededSql, verifiedSql } from './queries';

/** A drill older than this is due again (the seeds test recovery monthly). */
export const DRILL_DUE_SECONDS = 31 * 86_400;
/** How many of the newest sets the size and duration history holds. */
const HISTORY = 30;

const isTier = (t: unknown): t is Tier => typeof t === 'string' && (TIERS as readonly string[]).includes(t);

/** A system's tier: the operator's Settings name it; otherwise the tier its newest set was made with. */
export function tierOf(catalog: Catalog, settings: Settings, system: string): Tier | null {
  const configured = settings.systems[system]?.tier;
  if (configured) return configured;
  const row = catalog
    .stmt('SELECT tier FROM sets WHERE system = ? AND tier IS NOT NULL ORDER BY created_at DESC LIMIT 1')
    .get(system) as { tier: string } | undefined;
  return isTier(row?.tier) ? row.tier : null;
}

/**
 * The one set of objectives for a system, used by Overview, the CLI and the run reports alike: the tier's RPO and
 * RTO (Settings → tiers); the runbook's values only when the system has no tier; otherwise none.
 */
export function objectivesFor(
  catalog: Catalog,
  settings: Settings,
  system: string,
  runbookFallback?: { rpoSeconds: number; rtoSeconds: number },
): Objectives {
  const tier = tierOf(catalog, settings, system);
  if (tier) {
    const t = settings.tiers[tier];
    return { rpoSeconds: t.rpoMinutes * 60, rtoSeconds: t.rtoMinutes * 60, source: 'tier', tier };
  }
  if (runbookFallback) return { ...runbookFallback, source: 'runbook', tier: null };
  return { rpoSeconds: null, rtoSeconds: null, source: 'none', tier: null };
}

interface RunRow {
  id: string;
  title: string;
  drill: number;
  status: string;
  started_at: string;
  finished_at: string | null;
  inputs_json: string;
  state_json: string;
}

export interface RunFacts {
  id: string;
  title: string;
  drill: boolean;
  status: string;
  startedAt: string;
  finishedAt: string | null;
  system: string | null;
  /** The restore step's measured time (a `restore_ms` in a step's output), and when that step finished. */
  restore: { seconds: number; at: string; setKey: string | null } | null;
}

/** The system a run is about: its `system` input, else the system of a set one of its steps chose or restored. */
function runFacts(r: RunRow): RunFacts {
  let inputs: Record<string, unknown> = {};
  let steps: Record<string, { output?: Record<string, unknown> | null; finishedAt?: string | null }> = {};
  try {
    inputs = JSON.parse(r.inputs_json) as Record<string, unknown>;
    steps = (JSON.parse(r.state_json) as { steps?: typeof steps }).steps ?? {};
  } catch {
    // A run whose state cannot be read says nothing about a system; it is still listed by the run screens.
  }
  let system = typeof inputs.system === 'string' ? inputs.system : null;
  let restore: RunFacts['restore'] = null;
  for (const s of Object.values(steps)) {
    const out = s.output ?? null;
    if (!out) continue;
    const setKey = typeof out.set === 'string' ? out.set : typeof out.key === 'string' ? out.key : null;
    if (!system && setKey && setKey.includes('/')) system = setKey.slice(0, setKey.lastIndexOf('/'));
    if (typeof out.restore_ms === 'number' && Number.isFinite(out.restore_ms)) {
      const at = s.finishedAt ?? r.finished_at ?? r.started_at;
      if (!restore || at > restore.at) restore = { seconds: out.restore_ms / 1000, at, setKey };
    }
  }
  return {
    id: r.id,
    title: r.title,
    drill: r.drill === 1,
    status: r.status,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    system,
    restore,
  };
}

/** "restored in 1.2 s (measured RTO)" in a restore-level verdict's detail (verify.ts writes it). */
function restoreSecondsOf(detail: string | null, durationMs: number): number {
  const m = /restored in ([\d.]+) s/.exec(detail ?? '');
  return m ? Number(m[1]) : durationMs / 1000;
}

const ageSeconds = (iso: string, now: Date): number =>
  Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));

/**
 * Per system (every system with sets, and every system named in Settings): is it recoverable? The newest verified
 * set's age against the RPO, the last measured restore against the RTO, the last drill, and the ONE next action.
 */
export function recoverability(catalog: Catalog, settings: Settings, now = new Date()): Recoverability[] {
  const names = new Set<string>(
    (catalog.stmt('SELECT DISTINCT system FROM sets').all() as Array<{ system: string }>).map((r) => r.system),
  );
  for (const s of Object.keys(settings.systems)) names.add(s);
  // Runs are few (people start them): read once, grouped by system.
  const runs = (catalog.stmt('SELECT * FROM runs ORDER BY started_at DESC').all() as RunRow[]).map(runFacts);
  return [...names].sort().map((system) => recoverabilityOf(catalog, settings, system, runs, now));
}

/** One system's answer (see recoverability). */
export function recoverabilityOf(
  catalog: Catalog,
  settings: Settings,
  system: string,
  allRuns: RunFacts[] | null = null,
  now = new Date(),
): Recoverability {
  const runs = (
    allRuns ?? (catalog.stmt('SELECT * FROM runs ORDER BY started_at DESC').all() as RunRow[]).map(runFacts)
  ).filter((r) => r.system === system);
  const objectives = objectivesFor(catalog, settings, system);
  const count = (catalog.stmt('SELECT count(*) AS n FROM sets WHERE system = ?').get(system) as { n: number }).n;
  const newest = catalog
    .stmt(
      'SELECT key, kind, created_at AS createdAt, bytes FROM sets WHERE system = ? ORDER BY created_at DESC, key LIMIT 1',
    )
    .get(system) as { key: string; kind: string; createdAt: string; bytes: number } | undefined;
  const verifiedRow = catalog
    .stmt(
      `SELECT s.key, s.created_at AS createdAt,
              (SELECT v.level FROM verifications v WHERE v.set_key = s.key AND v.artifact_path IS NULL AND v.verdict = 'ok'
                 AND NOT ${supersededSql('v')} ORDER BY v.started_at DESC LIMIT 1) AS level,
              (SELECT max(v.started_at) FROM verifications v WHERE v.set_key = s.key AND v.artifact_path IS NULL
                 AND v.verdict = 'ok') AS verifiedAt
       FROM sets s WHERE s.system = ? AND ${presentSql('s.key')} AND ${verifiedSql('s.key')} ORDER BY s.created_at DESC LIMIT 1`,
    )
    .get(system) as { key: string; createdAt: string; level: string | null; verifiedAt: string } | undefined;
  const newestVerifiedSet = verifiedRow
    ? {
        key: verifiedRow.key,
        createdAt: verifiedRow.createdAt,
        level: verifiedRow.level ?? 'integrity',
        verifiedAt: verifiedRow.verifiedAt,
      }
    : null;

  // RPO: the newest verified set's age (the newest set's when none is verified), among the sets some medium still holds.
  const newestPresent = catalog
    .stmt(
      `SELECT key, created_at AS createdAt FROM sets s WHERE s.system = ? AND ${presentSql('s.key')} ORDER BY s.created_at DESC, s.key LIMIT 1`,
    )
    .get(system) as { key: string; createdAt: string } | undefined;
  const rpoObjective = objectives.rpoSeconds;
  const ref = newestVerifiedSet ?? newestPresent ?? null;
  const age = ref ? ageSeconds(ref.createdAt, now) : null;
  let rpo: Recoverability['rpo'];
  if (!newestPresent && count > 0)
    // Every set was missing at its medium's last scan: none of them recovers anything.
    rpo = {
      state: 'no-sets',
      ageSeconds: null,
      text: `All ${count} backup set${count === 1 ? ' is' : 's are'} missing from the media that held them: reconnect and scan the media.`,
    };
  else if (!newest) rpo = { state: 'no-sets', ageSeconds: null, text: 'No backup set is known.' };
  else if (!newestVerifiedSet) {
    rpo = {
      state: 'unverified',
      ageSeconds: age,
      text: `No verified set: the newest set is ${formatDuration(age!)} old and unchecked.`,
    };
  } else if (rpoObjective === null) {
    rpo = {
      state: 'no-objective',
      ageSeconds: age,
      text: `Newest verified set is ${formatDuration(age!)} old (no tier set).`,
    };
  } else if (age! > rpoObjective) {
    rpo = {
      state: 'late',
      ageSeconds: age,
      text: `Newest verified set is ${formatDuration(age!)} old, over the ${formatDuration(rpoObjective)} RPO.`,
    };
  } else {
    rpo = {
      state: 'ok',
      ageSeconds: age,
      text: `Newest verified set is ${formatDuration(age!)} old, within the ${formatDuration(rpoObjective)} RPO.`,
    };
  }

  // RTO: the newest measured restore, from a run's restore step or a restore-level verification.
  const fromVerification = catalog
    .stmt(
      `SELECT v.set_key AS setKey, v.started_at AS at, v.duration_ms AS durationMs, v.detail FROM verifications v JOIN sets s ON s.key = v.set_key
       WHERE s.system = ? AND v.artifact_path IS NULL AND v.level = 'restore' AND v.verdict = 'ok' ORDER BY v.started_at DESC LIMIT 1`,
    )
    .get(system) as { setKey: string; at: string; durationMs: number; detail: string | null } | undefined;
  const fromRun = runs.filter((r) => r.restore).sort((a, b) => (b.restore!.at > a.restore!.at ? 1 : -1))[0] ?? null;
  let measured: Recoverability['rto']['measured'] = null;
  if (fromRun && (!fromVerification || fromRun.restore!.at >= fromVerification.at)) {
    measured = {
      seconds: fromRun.restore!.seconds,
      at: fromRun.restore!.at,
      source: 'run',
      runId: fromRun.id,
      drill: fromRun.drill,
      setKey: fromRun.restore!.setKey,
    };
  } else if (fromVerification) {
    const seconds = restoreSecondsOf(fromVerification.detail, fromVerification.durationMs);
    measured = {
      seconds,
      at: fromVerification.at,
      source: 'verification',
      runId: null,
      drill: false,
      setKey: fromVerification.setKey,
    };
  }
  const rtoObjective = objectives.rtoSeconds;
  const how = measured ? (measured.source === 'run' ? (measured.drill ? 'drill' : 'run') : 'restore test') : '';
  let rto: Recoverability['rto'];
  if (!measured)
    rto = {
      state: 'unmeasured',
      measured,
      text: 'No restore measured yet: run a drill or a restore-level verification.',
    };
  else if (rtoObjective === null)
    rto = {
      state: 'no-objective',
      measured,
      text: `Last ${how} restored in ${formatDuration(measured.seconds)} (no tier set).`,
    };
  else if (measured.seconds > rtoObjective) {
    rto = {
      state: 'over',
      measured,
      text: `Last ${how} restored in ${formatDuration(measured.seconds)}, over the ${formatDuration(rtoObjective)} RTO.`,
    };
  } else {
    rto = {
      state: 'ok',
      measured,
      text: `Last ${how} restored in ${formatDuration(measured.seconds)}, within the ${formatDuration(rtoObjective)} RTO.`,
    };
  }

  const drill = runs.find((r) => r.drill) ?? null;
  const lastDrill = drill
    ? {
        runId: drill.id,
        title: drill.title,
        status: drill.status,
        at: drill.startedAt,
        finishedAt: drill.finishedAt,
        restoreSeconds: drill.restore?.seconds ?? null,
      }
    : null;

  const next = nextAction(catalog, {
    system,
    newest: newest ?? null,
    newestVerifiedSet,
    rpo,
    rto,
    lastDrill,
    rpoObjective,
    now,
  });

  const history = (
    catalog
      .stmt(
        `SELECT created_at AS createdAt, finished_at AS finishedAt, bytes FROM sets WHERE system = ? ORDER BY created_at DESC LIMIT ${HISTORY}`,
      )
      .all(system) as Array<{ createdAt: string; finishedAt: string | null; bytes: number }>
  )
    .reverse()
    .map((h) => ({
      createdAt: h.createdAt,
      bytes: h.bytes,
      durationSeconds: h.finishedAt ? Math.max(0, (Date.parse(h.finishedAt) - Date.parse(h.createdAt)) / 1000) : null,
    }));

  return {
    system,
    objectives,
    sets: count,
    newestSet: newest ?? null,
    newestVerifiedSet,
    rpo,
    rto,
    lastDrill,
    next,
    history,
  };
}

interface NextInput {
  system: string;
  newest: { key: string; createdAt: string } | null;
  newestVerifiedSet: { key: string; createdAt: string } | null;
  rpo: Recoverability['rpo'];
  rto: Recoverability['rto'];
  lastDrill: Recoverability['lastDrill'];
  rpoObjective: number | null;
  now: Date;
}

/** The ONE thing to do next, worst gap first: no sets, a key, a medium, backups, verification, drills. */
function nextAction(catalog: Catalog, x: NextInput): Recoverability['next'] {
  const act = (
    action: NextActionKind,
    text: string,
    more: Partial<Recoverability['next']> = {},
  ): Recoverability['next'] => ({
    action,
    text,
    setKey: null,
    mediumId: null,
    mediumLabel: null,
    ...more,
  });
  if (!x.newest)
    return act('scan-medium', `No set of ${x.system} is known: scan the medium that holds its backups, or back it up.`);
  // The newest set flagged by the ransomware indicator (catalog/trends.ts): a suspected attack comes before
  // verifying or drilling that set.
  const flagged = catalog.stmt('SELECT suspicious FROM set_indicator WHERE set_key = ?').pluck().get(x.newest.key) as
    number | undefined;
  if (flagged === 1)
    return act(
      'check-suspicious',
      `The newest set is SUSPICIOUS (ransomware indicator): check ${x.system}. If it was attacked, restore the clean candidate (the set before the first suspicious one) with the ransomware runbook, or restore-files for files; if the change is expected, accept the set (docs/trends.md).`,
      { setKey: x.newest.key },
    );
  // The newest verdict standing on the newest set, any medium: a missing key is the operator's to find, not a bad backup.
  const standing = catalog
    .stmt(
      `SELECT v.verdict, v.medium_id AS mediumId FROM verifications v WHERE v.set_key = ? AND v.artifact_path IS NULL
         AND v.verdict != 'not-checked' AND NOT ${supersededSql('v')} ORDER BY v.started_at DESC LIMIT 1`,
    )
    .get(x.newest.key) as { verdict: string; mediumId: string } | undefined;
  if (standing?.verdict === 'undecryptable') {
    return act(
      'find-key',
      `The newest set cannot be decrypted with the keys given: find the age identity and verify it again.`,
      { setKey: x.newest.key },
    );
  }
  // Every copy of the newest set gone from where it was seen: scan the medium (it may be unplugged or moved).
  const copies = catalog
    .stmt(
      `SELECT p.medium_id AS mediumId, m.label, p.missing_since AS missingSince FROM presence p JOIN media m ON m.id = p.medium_id
       WHERE p.set_key = ? ORDER BY p.missing_since IS NOT NULL, p.last_seen DESC`,
    )
    .all(x.newest.key) as Array<{ mediumId: string; label: string | null; missingSince: string | null }>;
  if (copies.length > 0 && copies.every((c) => c.missingSince !== null)) {
    const c = copies[0]!;
    return act(
      'scan-medium',
      `The newest set was not found on ${c.label ?? 'its medium'} at the last scan: connect it and scan.`,
      {
        setKey: x.newest.key,
        mediumId: c.mediumId,
        mediumLabel: c.label,
      },
    );
  }
  const newestAge = ageSeconds(x.newest.createdAt, x.now);
  if (x.rpoObjective !== null && newestAge > x.rpoObjective) {
    return act(
      'back-up',
      `The newest set is ${formatDuration(newestAge)} old, over the ${formatDuration(x.rpoObjective)} RPO: back up now.`,
    );
  }
  if (!x.newestVerifiedSet || x.newestVerifiedSet.key !== x.newest.key) {
    return act('verify', 'The newest set is not verified: verify it.', { setKey: x.newest.key });
  }
  if (x.rto.state === 'unmeasured')
    return act('drill', 'No restore has been measured: run a drill to know the restore time.');
  if (x.rto.state === 'over')
    return act('drill', 'The last measured restore was over the RTO: run a drill after fixing what slowed it.');
  if (!x.lastDrill) return act('drill', 'No drill has been run for this system: run one.');
  if (x.lastDrill.status === 'failed') return act('drill', 'The last drill failed: fix the finding and run it again.');
  if (ageSeconds(x.lastDrill.at, x.now) > DRILL_DUE_SECONDS) {
    return act('drill', `The last drill is ${formatDuration(ageSeconds(x.lastDrill.at, x.now))} old: a drill is due.`);
  }
  return act('none', 'Nothing to do: within the objectives.');
}
