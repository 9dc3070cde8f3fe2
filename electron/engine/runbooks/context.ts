import type { StepNeed } from '../../../shared/domain/runs';
import { formatDuration } from '../../../shared/format';
import type { Catalog } from '../catalog/catalog';
import type { Settings } from '../settings/settings';
import { measuredRestoreSeconds, runObjectives } from './clocks';
import type { Step } from './format';
import { render } from './template';
import type { RunRecord } from './types';

/** What a step's templates see of the run, and what the runner decides from them (conditions, people's needs). */

/** {{ objectives.* }}: the system's tier (the runbook's only when it has none), and the restore time measured so far. */
function objectivesContext(catalog: Catalog, settings: Settings, run: RunRecord): Record<string, string> {
  const o = runObjectives(catalog, settings, run);
  const restore = measuredRestoreSeconds(run);
  return {
    rto: formatDuration(o.rtoSeconds),
    rpo: formatDuration(o.rpoSeconds),
    from: o.from,
    restore_time: restore === null ? 'not measured (no restore ran)' : formatDuration(restore),
  };
}

/** The values a template may name: inputs, earlier steps' outputs, the run, the runbook and the objectives. */
export function runContext(catalog: Catalog, settings: Settings, run: RunRecord): Record<string, unknown> {
  return {
    inputs: run.inputs,
    steps: Object.fromEntries(
      Object.entries(run.state.steps).map(([id, s]) => [id, { output: s.output ?? undefined, status: s.status }]),
    ),
    run: {
      id: run.id,
      operator: run.operator,
      drill: run.drill,
      started_at: run.startedAt,
      incident_at: run.incidentAt,
      title: run.title,
      mode: run.drill ? 'DRILL' : 'LIVE',
      allow_unsigned: run.state.allowUnsigned === true,
    },
    runbook: { id: run.runbookId, title: run.title, level: run.state.runbook.level },
    objectives: objectivesContext(catalog, settings, run),
  };
}

/** A step's guidance with the values filled in (as written, when a value it names does not exist yet). */
export function guidanceWith(step: Step, ctx: () => Record<string, unknown>): string | null {
  if (!step.guidance) return null;
  try {
    return String(render(step.guidance, ctx(), `step ${step.id}`));
  } catch {
    return step.guidance;
  }
}

/** Why a step's `when`/`unless` says it does not apply, or null when it runs. */
export function conditionFalse(step: Step, ctx: Record<string, unknown>): string | null {
  const truthy = (template: string): boolean => {
    let v: unknown;
    try {
      v = render(template, ctx, `step ${step.id}`);
    } catch {
      v = undefined; // a step that did not run produced nothing: false
    }
    return v !== undefined && v !== null && v !== false && v !== 0 && v !== '' && v !== 'false' && v !== 'no';
  };
  const plain = (t: string): string => t.replace(/[{}]/g, '').trim();
  if (step.when !== undefined && !truthy(step.when)) return `does not apply: ${plain(step.when)} is not true`;
  if (step.unless !== undefined && truthy(step.unless)) return `does not apply: ${plain(step.unless)} is true`;
  return null;
}

/** What a person must give for a manual step, a confirm gate or a second-person gate. */
export function needOf(run: RunRecord, step: Step, ctx: Record<string, unknown>): StepNeed | null {
  if (step.kind === 'manual')
    return {
      type: 'manual',
      items: step.checklist,
      signoff: step.signoff ? { role: step.signoff.role, required: step.signoff.required } : null,
    };
  if (step.kind === 'gate' && step.gate === 'confirm') {
    const expect = String(render(step.expect, ctx, `step ${step.id}`));
    return { type: 'confirm', prompt: `Type "${expect}" to confirm: ${step.title}`, expect };
  }
  if (step.kind === 'gate' && step.gate === 'second-person')
    return { type: 'second-person', role: step.role ?? 'a second person', notName: run.operator };
  return null;
}
