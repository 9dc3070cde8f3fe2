import { z } from 'zod';
import { KeychainStatusSchema } from './app';
import { AZURE_CREDENTIAL_REF, AZURE_LOCATION, AZURE_LOCATION_WHAT } from './azure-location';
import { S3_CREDENTIAL_REF, S3_LOCATION, S3_LOCATION_WHAT } from './s3-location';

export const CREDENTIAL_KINDS = ['pg', 's3', 'azure', 'age', 'signing'] as const;

/** A keychain entry as the renderer sees it: the reference and what it is, never the secret. */
export const CredentialRefSchema = z.object({
  account: z.string(),
  kind: z.enum(CREDENTIAL_KINDS),
  /** For pg: the target URL (no password) saved with it. */
  url: z.string().nullable(),
  label: z.string(),
  /** For s3: the access key id kept with the secret key (an id, not a secret); for azure: the storage account name. */
  accessKeyId: z.string().nullable().default(null),
  /** For age and signing: the key id manifests name (16 hex); null when the stored secret does not parse. */
  keyId: z.string().nullable().default(null),
  /** For age: the recipient (age1…) to encrypt to; for signing: the public key (PEM) to pin. Never the secret. */
  publicKey: z.string().nullable().default(null),
  /** For signing: whether this catalog pins its public key. */
  pinned: z.boolean().nullable().default(null),
  /** Why the stored secret could not be read as its kind, when it cannot. */
  problem: z.string().nullable().default(null),
});

/** How an s3:// medium is reached: endpoint, region, and the keychain reference of its keys. */
export const S3MediumSettingsSchema = z.object({
  location: z.string().regex(S3_LOCATION, S3_LOCATION_WHAT),
  endpoint: z.string().max(2000).default(''),
  region: z.string().max(100).default(''),
  /** An s3:<name> keychain reference; empty means the standard AWS sources (env, profile). */
  credential: z.string().regex(S3_CREDENTIAL_REF).default(''),
});
export type S3MediumSettings = z.infer<typeof S3MediumSettingsSchema>;

/** How an azure:// medium is reached: the blob endpoint (empty: the account's public one) and the keychain reference. */
export const AzureMediumSettingsSchema = z.object({
  location: z.string().regex(AZURE_LOCATION, AZURE_LOCATION_WHAT),
  endpoint: z.string().max(2000).default(''),
  /** An azure:<name> keychain reference; empty means the AZURE_STORAGE_* variables. */
  credential: z.string().regex(AZURE_CREDENTIAL_REF).default(''),
});
export type AzureMediumSettings = z.infer<typeof AzureMediumSettingsSchema>;

export const CredentialsViewSchema = z.object({
  keychain: KeychainStatusSchema,
  credentials: z.array(CredentialRefSchema),
});

export const TierObjectivesViewSchema = z.object({
  rtoMinutes: z.number().positive(),
  rpoMinutes: z.number().positive(),
});

/** A validation query run after a test restore: one value read and compared (`> 0`, `= 42`, or an exact text). */
export const ValidationSchema = z.object({ sql: z.string().min(1).max(4000), expect: z.string().min(1).max(200) });

export const SettingsViewSchema = z.object({
  operatorName: z.string(),
  pgBinDir: z.string(),
  detectedPg: z.object({ path: z.string().nullable(), version: z.string().nullable() }),
  tiers: z.object({
    critical: TierObjectivesViewSchema,
    important: TierObjectivesViewSchema,
    standard: TierObjectivesViewSchema,
  }),
  dataDir: z.string(),
  trustedKeys: z.array(z.object({ keyId: z.string(), label: z.string(), addedAt: z.string() })),
  s3Media: z.array(S3MediumSettingsSchema),
  azureMedia: z.array(AzureMediumSettingsSchema).default([]),
  /** Per system: its tier and the validation queries run after a test restore (editable in Settings). */
  systems: z
    .record(
      z.string(),
      z.object({
        tier: z.enum(['critical', 'important', 'standard']).nullable(),
        validations: z.array(ValidationSchema),
      }),
    )
    .default({}),
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
