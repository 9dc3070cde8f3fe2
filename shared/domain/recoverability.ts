import { z } from 'zod';

/**
 * "Are we recoverable?" per system: one set of objectives (the tier's, from Settings, else the runbook's) judged
 * against the newest verified set (RPO) and the last measured restore (RTO). The engine computes it
 * (electron/engine/catalog/objectives.ts); Overview, the CLI and the run reports show the same numbers.
 */

export const OBJECTIVE_SOURCES = ['tier', 'runbook', 'none'] as const;

export const ObjectivesSchema = z.object({
  rpoSeconds: z.number().nullable(),
  rtoSeconds: z.number().nullable(),
  /** Where the numbers come from: the system's tier (Settings, else its sets), the runbook's fallback, or nowhere. */
  source: z.enum(OBJECTIVE_SOURCES),
  tier: z.enum(['critical', 'important', 'standard']).nullable(),
});
export type Objectives = z.infer<typeof ObjectivesSchema>;

export const RPO_STATES = ['ok', 'late', 'unverified', 'no-sets', 'no-objective'] as const;
export const RTO_STATES = ['ok', 'over', 'unmeasured', 'no-objective'] as const;
export const NEXT_ACTIONS = [
  'none',
  'check-suspicious',
  'back-up',
  'verify',
  'drill',
  'find-key',
  'scan-medium',
] as const;
export type NextActionKind = (typeof NEXT_ACTIONS)[number];

export const MeasuredRestoreSchema = z.object({
  seconds: z.number(),
  at: z.string(),
  /** A drill's or a run's restore step, or a restore-level verification. */
  source: z.enum(['run', 'verification']),
  runId: z.string().nullable(),
  drill: z.boolean(),
  setKey: z.string().nullable(),
});

export const LastDrillSchema = z.object({
  runId: z.string(),
  title: z.string(),
  status: z.string(),
  at: z.string(),
  finishedAt: z.string().nullable(),
  /** The drill's measured restore, when its restore step ran. */
  restoreSeconds: z.number().nullable(),
});

export const RecoverabilitySchema = z.object({
  system: z.string(),
  objectives: ObjectivesSchema,
  sets: z.number(),
  newestSet: z.object({ key: z.string(), kind: z.string(), createdAt: z.string(), bytes: z.number() }).nullable(),
  newestVerifiedSet: z
    .object({ key: z.string(), createdAt: z.string(), level: z.string(), verifiedAt: z.string() })
    .nullable(),
  rpo: z.object({
    state: z.enum(RPO_STATES),
    /** Age of the newest verified set (of the newest set when none is verified). */
    ageSeconds: z.number().nullable(),
    text: z.string(),
  }),
  rto: z.object({ state: z.enum(RTO_STATES), measured: MeasuredRestoreSchema.nullable(), text: z.string() }),
  lastDrill: LastDrillSchema.nullable(),
  next: z.object({
    action: z.enum(NEXT_ACTIONS),
    text: z.string(),
    /** The set the action is about (verify, find the key), or the medium (scan). */
    setKey: z.string().nullable(),
    mediumId: z.string().nullable(),
    mediumLabel: z.string().nullable(),
  }),
  /** The newest sets, oldest first (for a size and duration chart). */
  history: z.array(z.object({ createdAt: z.string(), bytes: z.number(), durationSeconds: z.number().nullable() })),
});
export type Recoverability = z.infer<typeof RecoverabilitySchema>;
