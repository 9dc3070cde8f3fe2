import type { Catalog } from '../catalog/catalog';
import { objectivesFor } from '../catalog/objectives';
import { setSystemAndTime } from '../catalog/runbook-store';
import type { Settings } from '../settings/settings';
import { ACTOR_ENGINE, type RunRecord } from './types';

export interface Achieved {
  rto_seconds: number | null;
  rpo_seconds: number | null;
  rpo_basis: string | null;
  /** The newest restored (or selected) set's time, the RPO's reference. */
  restored_point: string | null;
}

/** RTO from the incident to the run's end; RPO from the incident back to the newest restored point. */
export function achievedOf(run: RunRecord): Achieved {
  const end = run.finishedAt ? Date.parse(run.finishedAt) : null;
  const rto = end !== null ? Math.round((end - Date.parse(run.incidentAt)) / 1000) : null;
  let newest: string | null = null;
  for (const s of run.state.runbook.steps) {
    const out = run.state.steps[s.id]?.output;
    const created =
      (out?.set_created_at as string | undefined) ??
      (s.kind === 'action' && s.action === 'catalog.select-set' ? (out?.created_at as string | undefined) : undefined);
    if (created && (!newest || created > newest)) newest = created;
  }
  return {
    rto_seconds: rto,
    rpo_seconds: newest ? Math.max(0, Math.round((Date.parse(run.incidentAt) - Date.parse(newest)) / 1000)) : null,
    rpo_basis: newest ? `the restored set's time (${newest})` : null,
    restored_point: newest,
  };
}

/** The system a run is about: its `system` input, else the system of the set it was given. */
export function runSystem(catalog: Catalog, run: RunRecord): string | null {
  if (run.inputs.system) return run.inputs.system;
  const set = run.inputs.set;
  if (!set) return null;
  return setSystemAndTime(catalog, set)?.system ?? null;
}

export interface RunObjectives {
  rtoSeconds: number;
  rpoSeconds: number;
  /** Where they come from, said for the report: "tier critical of shop" or "the runbook (shop has no tier)". */
  from: string;
}

/** The objectives a run is judged by: the system's tier; the runbook's own values only when the system has none. */
export function runObjectives(catalog: Catalog, settings: Settings | null, run: RunRecord): RunObjectives {
  const rb = run.state.runbook.objectives;
  const system = runSystem(catalog, run);
  // The one set of objectives (catalog/objectives.ts), as Overview judges the system.
  const o =
    system && settings ? objectivesFor(catalog, settings, system, { rtoSeconds: rb.rto, rpoSeconds: rb.rpo }) : null;
  if (o && system && o.source === 'tier' && o.rtoSeconds !== null && o.rpoSeconds !== null) {
    return { rtoSeconds: o.rtoSeconds, rpoSeconds: o.rpoSeconds, from: `tier ${o.tier} of ${system}` };
  }
  return {
    rtoSeconds: rb.rto,
    rpoSeconds: rb.rpo,
    from: system ? `the runbook (${system} has no tier)` : 'the runbook',
  };
}

/** Seconds the run's restore steps took (restore.* actions that finished), or null when none ran. */
export function measuredRestoreSeconds(run: RunRecord): number | null {
  let total: number | null = null;
  for (const s of run.state.runbook.steps) {
    const st = run.state.steps[s.id];
    if (
      s.kind !== 'action' ||
      !s.action.startsWith('restore.') ||
      st?.status !== 'done' ||
      !st.startedAt ||
      !st.finishedAt
    )
      continue;
    total = (total ?? 0) + Math.max(0, (Date.parse(st.finishedAt) - Date.parse(st.startedAt)) / 1000);
  }
  return total === null ? null : Math.round(total * 10) / 10;
}

export interface RunException {
  step: string;
  title: string;
  by: string;
  approvedBy: string | null;
  reason: string;
}

/** Steps a person skipped (a `when`/`unless` that did not apply is no exception): any one ends the run with exceptions. */
export function runExceptions(run: RunRecord): RunException[] {
  return run.state.runbook.steps.flatMap((s) => {
    const st = run.state.steps[s.id];
    if (st?.status !== 'skipped' || st.by === ACTOR_ENGINE) return [];
    return [
      {
        step: s.id,
        title: s.title,
        by: st.by ?? '',
        approvedBy: st.skipApprovedBy ?? null,
        reason: st.skipReason ?? '',
      },
    ];
  });
}

export interface RunSummaryFigures {
  rtoSeconds: number;
  rpoSeconds: number;
  objectivesFrom: string;
  rtoAchievedSeconds: number | null;
  rpoAchievedSeconds: number | null;
  restoreSeconds: number | null;
  rtoOk: boolean | null;
  rpoOk: boolean | null;
  restoreOk: boolean | null;
  exceptions: RunException[];
  /** The restored (or selected) point the RPO is measured from. */
  restoredPoint: string | null;
}

/** Whether the run reached its last step (with or without skipped steps): the only runs whose RTO is judged. */
export function recovered(run: RunRecord): boolean {
  return run.status === 'succeeded' || run.status === 'completed-with-exceptions';
}

/** What the finished view and the report open with: objectives (from the tier) against what the run achieved. */
export function runSummary(catalog: Catalog, settings: Settings | null, run: RunRecord): RunSummaryFigures {
  const o = runObjectives(catalog, settings, run);
  const a = achievedOf(run);
  const restore = measuredRestoreSeconds(run);
  // A run given its set as an input (the short restores) measures the RPO from that set's time once a restore ran.
  let point = a.restored_point;
  let rpo = a.rpo_seconds;
  if (point === null && restore !== null && run.inputs.set) {
    const set = setSystemAndTime(catalog, run.inputs.set);
    if (set) {
      point = set.createdAt;
      rpo = Math.max(0, Math.round((Date.parse(run.incidentAt) - Date.parse(set.createdAt)) / 1000));
    }
  }
  return {
    rtoSeconds: o.rtoSeconds,
    rpoSeconds: o.rpoSeconds,
    objectivesFrom: o.from,
    rtoAchievedSeconds: a.rto_seconds,
    rpoAchievedSeconds: rpo,
    restoreSeconds: restore,
    // Only a run that reached its end recovered anything: a cancelled or failed run is not "within the RTO".
    rtoOk: a.rto_seconds === null || !recovered(run) ? null : a.rto_seconds <= o.rtoSeconds,
    rpoOk: rpo === null ? null : rpo <= o.rpoSeconds,
    restoreOk: restore === null ? null : restore <= o.rtoSeconds,
    exceptions: runExceptions(run),
    restoredPoint: point,
  };
}
