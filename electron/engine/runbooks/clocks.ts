import type { RunRecord } from './runner';

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
    const created = (out?.set_created_at as string | undefined) ?? (s.kind === 'action' && s.action === 'catalog.select-set' ? (out?.created_at as string | undefined) : undefined);
    if (created && (!newest || created > newest)) newest = created;
  }
  return {
    rto_seconds: rto,
    rpo_seconds: newest ? Math.max(0, Math.round((Date.parse(run.incidentAt) - Date.parse(newest)) / 1000)) : null,
    rpo_basis: newest ? `the restored set's time (${newest})` : null,
    restored_point: newest,
  };
}

