import { z } from 'zod';
import { WireErrorSchema } from './jobs';
import type { WireError } from '../errors';

/**
 * A run of a runbook: `paused` after an interruption, `waiting` for a person. A run that reached its end with a
 * step skipped by a person ends `completed-with-exceptions`, never `succeeded` (issue 21: a skip is not a pass).
 */
export const RUN_STATUSES = [
  'running',
  'waiting',
  'paused',
  'failed',
  'succeeded',
  'completed-with-exceptions',
  'cancelled',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
/** The statuses a run never leaves. */
export const RUN_ENDED: readonly RunStatus[] = ['succeeded', 'completed-with-exceptions', 'cancelled'];
export const runEnded = (s: RunStatus): boolean => RUN_ENDED.includes(s);

export const STEP_STATUSES = ['pending', 'running', 'waiting', 'done', 'skipped', 'failed'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

/** What a waiting step needs from a person. */
export type StepNeed =
  | { type: 'manual'; items: string[]; signoff: { role: string; required: boolean } | null }
  | { type: 'confirm'; prompt: string; expect: string }
  | { type: 'second-person'; role: string; notName: string }
  /** A message for people outside Lifeboat: shown, copied out and sent by a person, who confirms it was sent. */
  | { type: 'communicate'; audience: string; message: string };

/** A person's answer to a waiting step. */
export interface StepResponse {
  /** Indexes of the checklist items ticked. */
  ticks?: number[];
  /** The name signing off (manual sign-off, second person). */
  signoff?: string;
  /** Typed confirmation text. */
  confirmation?: string;
  /** A communicate step: how the message was sent (e-mail, phone, chat…); who sent it is `signoff`. */
  sentVia?: string;
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
  /** A skip by a person: the second person who approved it (live runs, sign-off steps). Absent in older runs. */
  skipApprovedBy?: string | null;
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

// ---- Schemas for the IPC contract (the renderer's runbook screens) ------------------------

export const RunSummarySchema = z.object({
  id: z.string(),
  runbookId: z.string(),
  title: z.string(),
  drill: z.boolean(),
  status: z.enum(RUN_STATUSES),
  operator: z.string(),
  incidentAt: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  currentStep: z.string().nullable(),
});

export const LibraryEntrySchema = z.object({
  id: z.string(),
  title: z.string(),
  level: z.number(),
  source: z.string(),
  builtin: z.boolean(),
  drill: z.enum(['allowed', 'only']),
  rtoSeconds: z.number(),
  rpoSeconds: z.number(),
  steps: z.number(),
  problem: z.string().nullable(),
  description: z.string(),
  inputs: z.array(
    z.object({
      id: z.string(),
      type: z.string(),
      label: z.string(),
      required: z.boolean(),
      default: z.string().optional(),
      help: z.string().optional(),
    }),
  ),
});
export type LibraryEntryView = z.infer<typeof LibraryEntrySchema>;

const NeedSchema = z.union([
  z.object({
    type: z.literal('manual'),
    items: z.array(z.string()),
    signoff: z.object({ role: z.string(), required: z.boolean() }).nullable(),
  }),
  z.object({ type: z.literal('confirm'), prompt: z.string(), expect: z.string() }),
  z.object({ type: z.literal('second-person'), role: z.string(), notName: z.string() }),
  z.object({ type: z.literal('communicate'), audience: z.string(), message: z.string() }),
]);

export const RunStepViewSchema = z.object({
  id: z.string(),
  title: z.string(),
  kind: z.enum(['manual', 'action', 'gate', 'communicate']),
  action: z.string().nullable(),
  guidance: z.string().nullable(),
  expectedSeconds: z.number().nullable(),
  status: z.enum(STEP_STATUSES),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  need: NeedSchema.nullable(),
  output: z.record(z.string(), z.unknown()).nullable(),
  signoff: z.string().nullable(),
  by: z.string().nullable(),
  error: WireErrorSchema.nullable(),
  condition: z.string().nullable(),
  skipReason: z.string().nullable(),
  skipApprovedBy: z.string().nullable(),
  /** Checklist items ticked so far (kept across reloads while the step waits). */
  ticks: z.array(z.number()),
  /** Manual steps: the checklist; a required sign-off's role (the walk-through shows them before the step waits). */
  checklist: z.array(z.string()),
  signoffRole: z.string().nullable(),
});
export type RunStepView = z.infer<typeof RunStepViewSchema>;

export const RunViewSchema = RunSummarySchema.extend({
  level: z.number(),
  rtoSeconds: z.number(),
  rpoSeconds: z.number(),
  inputs: z.record(z.string(), z.string()),
  steps: z.array(RunStepViewSchema),
  forecast: z
    .object({
      seconds: z.number().nullable(),
      rtoSeconds: z.number(),
      fits: z.boolean().nullable(),
      parts: z.array(z.object({ step: z.string(), seconds: z.number().nullable(), basis: z.string() })),
    })
    .nullable(),
  achieved: z.object({
    rto_seconds: z.number().nullable(),
    rpo_seconds: z.number().nullable(),
    rpo_basis: z.string().nullable(),
  }),
  /** The objectives the run is judged by and what it achieved (runbooks/clocks.ts runSummary): the report opens with it. */
  summary: z.object({
    rtoSeconds: z.number(),
    rpoSeconds: z.number(),
    /** 'tier critical (system shop)' or 'runbook' when the system has no tier. */
    objectivesFrom: z.string(),
    rtoAchievedSeconds: z.number().nullable(),
    rpoAchievedSeconds: z.number().nullable(),
    restoreSeconds: z.number().nullable(),
    rtoOk: z.boolean().nullable(),
    rpoOk: z.boolean().nullable(),
    restoreOk: z.boolean().nullable(),
    exceptions: z.array(
      z.object({
        step: z.string(),
        title: z.string(),
        by: z.string(),
        approvedBy: z.string().nullable(),
        reason: z.string(),
      }),
    ),
  }),
  allowUnsigned: z.boolean(),
  journal: z.object({ seq: z.number(), hash: z.string() }),
  /** True while an engine process drives the run (an action is running). */
  active: z.boolean(),
  /** The job of this engine advancing the run, if any (its progress and log are on the job events). */
  jobId: z.string().nullable(),
});
export type RunView = z.infer<typeof RunViewSchema>;
