import type { Forecast, RunSummary, StepState } from '../../../shared/domain/runs';
import type { JobContext } from '../jobs/job-manager';
import type { Runbook } from './format';
import type { JournalHead } from './journal';

/**
 * The shapes of a run, shared by the runner and what reads runs (clocks, forecast, report, the service): here, so
 * none of them imports the runner for its types.
 */

export interface RunState {
  runbook: Runbook;
  runbookSha256: string;
  runbookSource: string;
  steps: Record<string, StepState>;
  journal: JournalHead;
  forecast: Forecast | null;
  /** Which process is driving the run now (a dead owner means the run was interrupted). */
  owner: { pid: number; host: string; since: string } | null;
  /** Drill resources: the scratch PostgreSQL and folders, removed when the run ends. */
  scratch: { base: string; pg: { dir: string; binDir: string; port: number } | null };
  /**
   * The operator allowed sets not signed by a pinned key for this run (`lifeboat run --allow-unsigned`, or the app's
   * confirmed choice): journaled as run.override at the start; runbooks pass it on as {{ run.allow_unsigned }}.
   */
  allowUnsigned?: boolean;
}

export interface RunRecord extends Omit<RunSummary, 'currentStep'> {
  inputs: Record<string, string>;
  state: RunState;
}

export interface StartOptions {
  drill: boolean;
  operator: string | null;
  /** Where the runbook came from (built-in id or file path), for the report. */
  source: string;
  now?: Date;
  /** Allow unsigned sets in this run's restores (an explicit, journaled override). */
  allowUnsigned?: boolean;
}

/** What `advance` uses of the job it runs in. */
export type RunJob = Pick<JobContext, 'signal' | 'progress' | 'log' | 'step'>;

/** One journal event to write with a state change: its type and data. */
export type JournalEntry = [type: string, data: Record<string, unknown>];

/** The actor the engine's own changes are journaled under. */
export const ACTOR_ENGINE = 'lifeboat';
