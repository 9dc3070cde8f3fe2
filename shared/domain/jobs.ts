import { z } from 'zod';
import { ERROR_CODES } from '../errors';

export const WireErrorSchema = z.object({
  code: z.enum(ERROR_CODES),
  message: z.string(),
  hint: z.string().optional(),
});

export const JOB_STATUSES = ['running', 'succeeded', 'failed', 'cancelled'] as const;

/**
 * What a finished job found, beside whether it ran to its end: a verification that ran and found
 * failing sets `succeeded` as a job but its outcome is `findings`, shown in the failure style.
 * `error`: the job itself failed; `cancelled`: stopped by the operator. Null while running.
 */
export const JOB_OUTCOMES = ['passed', 'findings', 'error', 'cancelled'] as const;
export type JobOutcome = (typeof JOB_OUTCOMES)[number];

/** Progress counters of a job. Totals are null until known. */
export const JobCountersSchema = z.object({
  bytesDone: z.number().nonnegative(),
  bytesTotal: z.number().nonnegative().nullable(),
  itemsDone: z.number().nonnegative(),
  itemsTotal: z.number().nonnegative().nullable(),
});
export type JobCounters = z.infer<typeof JobCountersSchema>;

/**
 * What anyone (a reloaded window, the CLI, a test) can re-fetch about a job at any time.
 * Rates and ETA are derived by the job manager from the counters.
 */
export const JobSnapshotSchema = z.object({
  id: z.string(),
  kind: z.string(),
  title: z.string(),
  status: z.enum(JOB_STATUSES),
  step: z.string().nullable(),
  current: z.string().nullable(),
  counters: JobCountersSchema,
  bytesPerSecond: z.number().nonnegative().nullable(),
  etaSeconds: z.number().nonnegative().nullable(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  error: WireErrorSchema.nullable(),
  result: z.unknown().nullable(),
  /** Null while running (see JOB_OUTCOMES). */
  outcome: z.enum(JOB_OUTCOMES).nullable().default(null),
  /** One line for a list of jobs: "4 of 4 sets failed", "Cancelled by the operator.". Null while running. */
  headline: z.string().nullable().default(null),
});
export type JobSnapshot = z.infer<typeof JobSnapshotSchema>;

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const JOB_EVENT_TYPES = ['started', 'progress', 'step', 'log', 'finished'] as const;
export type JobEventType = (typeof JOB_EVENT_TYPES)[number];

/** One event channel carries every job's events; `seq` rises strictly across all jobs. */
export const JobEventSchema = z.object({
  seq: z.number().int().positive(),
  type: z.enum(JOB_EVENT_TYPES),
  jobId: z.string(),
  at: z.string(),
  snapshot: JobSnapshotSchema,
  log: z.object({ level: z.enum(LOG_LEVELS), message: z.string() }).optional(),
});
export type JobEvent = z.infer<typeof JobEventSchema>;
