import { z } from 'zod';
import { KeychainStatusSchema } from './app';

export const CREDENTIAL_KINDS = ['pg', 's3', 'age', 'signing'] as const;

/** A keychain entry as the renderer sees it: the reference and what it is, never the secret. */
export const CredentialRefSchema = z.object({
  account: z.string(),
  kind: z.enum(CREDENTIAL_KINDS),
  /** For pg: the target URL (no password) saved with it. */
  url: z.string().nullable(),
  label: z.string(),
});

export const CredentialsViewSchema = z.object({
  keychain: KeychainStatusSchema,
  credentials: z.array(CredentialRefSchema),
});

export const TierObjectivesViewSchema = z.object({ rtoMinutes: z.number().positive(), rpoMinutes: z.number().positive() });

export const SettingsViewSchema = z.object({
  operatorName: z.string(),
  pgBinDir: z.string(),
  detectedPg: z.object({ path: z.string().nullable(), version: z.string().nullable() }),
  tiers: z.object({ critical: TierObjectivesViewSchema, important: TierObjectivesViewSchema, standard: TierObjectivesViewSchema }),
  dataDir: z.string(),
  trustedKeys: z.array(z.object({ keyId: z.string(), label: z.string(), addedAt: z.string() })),
});
export type SettingsView = z.infer<typeof SettingsViewSchema>;

export const VerificationRowSchema = z.object({
  setKey: z.string(),
  mediumId: z.string(),
  level: z.string(),
  verdict: z.string(),
  at: z.string(),
  detail: z.string().nullable(),
});
