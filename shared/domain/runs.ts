import type { WireError } from '../errors';

/** A run of a runbook: `paused` after an interruption, `waiting` for a person. */
export const RUN_STATUSES = ['running', 'waiting', 'paused', 'failed', 'succeeded', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const STEP_STATUSES = ['pending', 'running', 'waiting', 'done', 'skipped', 'failed'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

/** What a waiting step needs from a person. */
export type StepNeed =
  | { type: 'manual'; items: string[]; signoff: { role: string; required: boolean } | null }
  | { type: 'confirm'; prompt: string; expect: string }
  | { type: 'second-person'; role: string; notName: string };

/** A person's answer to a waiting step. */
export interface StepResponse {
  /** Indexes of the checklist items ticked. */
  ticks?: number[];
  /** The name signing off (manual sign-off, second person). */
  signoff?: string;
  /** Typed confirmation text. */
  confirmation?: string;
  /** Set when the answer was given by `--yes` in a drill, so the journal says so. */
  auto?: boolean;
}

export interface StepState {
  status: StepStatus;
  startedAt: string | null;
  finishedAt: string | null;
  attempts: number;
  output: Record<string, unknown> | null;
  checkpoint: unknown;
  need: StepNeed | null;
  ticks: number[];
  signoff: string | null;
  confirmation: string | null;
  by: string | null;
  error: WireError | null;
  /** What state the target was left in when the step stopped early. */
  condition: string | null;
  skipReason: string | null;
}

export interface Forecast {
  /** Expected seconds from the run's start to its end, and how it was reached. */
  seconds: number | null;
  rtoSeconds: number;
  fits: boolean | null;
  parts: Array<{ step: string; seconds: number | null; basis: string }>;
}

export interface RunSummary {
  id: string;
  runbookId: string;
  title: string;
  drill: boolean;
  status: RunStatus;
  operator: string;
  incidentAt: string;
  startedAt: string;
  finishedAt: string | null;
  currentStep: string | null;
}
