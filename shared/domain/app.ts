import { z } from 'zod';

export const AppInfoSchema = z.object({
  name: z.literal('Lifeboat'),
  version: z.string(),
  dataDir: z.string(),
  catalogPath: z.string(),
  platform: z.string(),
  arch: z.string(),
  nodeVersion: z.string(),
  electronVersion: z.string().nullable(),
  /** Which front door serves this renderer: the packaged app or the test/dev web bridge. */
  frontDoor: z.enum(['app', 'bridge']),
});

export const KEYCHAIN_STATES = ['available', 'unavailable', 'locked'] as const;

export const KeychainStatusSchema = z.object({
  state: z.enum(KEYCHAIN_STATES),
  backend: z.string(),
  detail: z.string(),
  /** What to do when the keychain cannot be used. */
  hint: z.string().nullable(),
});
export type KeychainStatus = z.infer<typeof KeychainStatusSchema>;

export const CatalogCountsSchema = z.object({
  media: z.number().int().nonnegative(),
  systems: z.number().int().nonnegative(),
  sets: z.number().int().nonnegative(),
  verifications: z.number().int().nonnegative(),
  runs: z.number().int().nonnegative(),
});
export type CatalogCounts = z.infer<typeof CatalogCountsSchema>;

export const OverviewSchema = z.object({
  catalog: CatalogCountsSchema,
  catalogSchemaVersion: z.number().int().nonnegative(),
  keychain: KeychainStatusSchema,
});
export type Overview = z.infer<typeof OverviewSchema>;

export const ToolStatusSchema = z.object({
  name: z.string(),
  purpose: z.string(),
  path: z.string().nullable(),
  version: z.string().nullable(),
  /** The set kinds that need the tool (e.g. `redis sets`); null when every install needs it. */
  only: z.string().nullable(),
  problem: z.string().nullable(),
});
export type ToolStatus = z.infer<typeof ToolStatusSchema>;
