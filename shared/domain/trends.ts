import { z } from 'zod';

/**
 * Trends per system and the ransomware indicator (electron/engine/catalog/trends.ts, docs/trends.md):
 * one point per Lifeboat set, oldest first. A value the set did not record is null (a gap).
 */
export const TrendPointSchema = z.object({
  key: z.string(),
  setId: z.string(),
  kind: z.string(),
  incremental: z.boolean(),
  createdAt: z.string(),
  storedBytes: z.number(),
  plainBytes: z.number().nullable(),
  durationMs: z.number().nullable(),
  ratio: z.number().nullable(),
  incompressibleShare: z.number().nullable(),
  filesTotal: z.number().nullable(),
  filesChanged: z.number().nullable(),
  suspicious: z.boolean().nullable(),
  reasons: z.array(z.string()),
});
export type TrendPoint = z.infer<typeof TrendPointSchema>;

export const SystemTrendSchema = z.object({
  system: z.string(),
  points: z.array(TrendPointSchema),
  /** When a set is suspicious: the last set before the first of the newest run of suspicious sets, and why. */
  cleanCandidate: z.object({ key: z.string().nullable(), firstSuspicious: z.string(), why: z.string() }).nullable(),
});
export type SystemTrend = z.infer<typeof SystemTrendSchema>;
