import type { RunSummary, StepState } from '../../../shared/domain/runs';
import type { Catalog } from '../catalog/catalog';
import { findRun, inRunTransaction, insertRun, listRuns, saveRun, type StoredRun } from '../catalog/runbook-store';
import { LifeboatError } from '../errors';
import { appendEvent } from './journal';
import type { JournalEntry, RunRecord, RunState } from './types';

/** Runs as the runner sees them, over the catalog's runbook store: each write is the state and its journal events. */

function toRecord(s: StoredRun<RunState>): RunRecord {
  return {
    ...s,
    operator: s.operator ?? 'operator',
    incidentAt: s.incidentAt ?? s.startedAt,
  };
}

export function loadRun(catalog: Catalog, runId: string): RunRecord {
  const stored = findRun<RunState>(catalog, runId);
  if (!stored)
    throw new LifeboatError('NOT_FOUND', `There is no run ${runId}.`, { hint: 'List runs with lifeboat runs.' });
  return toRecord(stored);
}

/** The first step not done or skipped (the one a person looks at), or null. */
export function currentStepId(run: Pick<RunRecord, 'state'>): string | null {
  const current = run.state.runbook.steps.find(
    (s) => !['done', 'skipped'].includes(run.state.steps[s.id]?.status ?? 'pending'),
  );
  return current?.id ?? null;
}

/** Every run, newest first, with the step it stands at. */
export function listRunSummaries(catalog: Catalog): RunSummary[] {
  return listRuns<RunState>(catalog).map((r) => ({
    id: r.id,
    runbookId: r.runbookId,
    title: r.title,
    drill: r.drill,
    status: r.status,
    operator: r.operator ?? '',
    incidentAt: r.incidentAt ?? r.startedAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    currentStep: r.finishedAt ? null : currentStepId(r),
  }));
}

/** Write the run and its journal events in one transaction. */
export function commitRun(catalog: Catalog, run: RunRecord, actor: string, events: readonly JournalEntry[]): void {
  inRunTransaction(catalog, () => {
    for (const [type, data] of events)
      run.state.journal = appendEvent(catalog, run.id, run.state.journal, actor, type, data);
    saveRun(catalog, run);
  });
}

/** Record a new run with its first journal events, in one transaction. */
export function createRun(catalog: Catalog, run: RunRecord, events: readonly JournalEntry[]): void {
  inRunTransaction(catalog, () => {
    insertRun(catalog, run);
    commitRun(catalog, run, run.operator, events);
  });
}

export function blankStep(): StepState {
  return {
    status: 'pending',
    startedAt: null,
    finishedAt: null,
    attempts: 0,
    output: null,
    checkpoint: null,
    need: null,
    ticks: [],
    signoff: null,
    confirmation: null,
    by: null,
    error: null,
    condition: null,
    skipReason: null,
    skipApprovedBy: null,
  };
}
