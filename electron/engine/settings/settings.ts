import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { S3MediumSettingsSchema } from '../../../shared/domain/settings';
import { LifeboatError } from '../errors';

/** Objectives per tier, from the seeds: critical 1h/5m, important 4h/1h, standard 24h/4h. */
export const TierObjectivesSchema = z.object({
  rtoMinutes: z.number().positive(),
  rpoMinutes: z.number().positive(),
});

/**
 * A validation query run after a test restore: one value is read and compared. `expect` is a
 * comparison (`> 0`, `>= 1000`, `= 42`, `!= 0`) or an exact text.
 */
export const ValidationSchema = z.object({ sql: z.string().min(1), expect: z.string().min(1) });
export type Validation = z.infer<typeof ValidationSchema>;

export const SystemSettingsSchema = z.object({
  tier: z.enum(['critical', 'important', 'standard']).optional(),
  validations: z.array(ValidationSchema).default([]),
});

export const SettingsSchema = z.object({
  version: z.literal(1).default(1),
  operatorName: z.string().default(''),
  /** Directory holding pg_dump/pg_restore/...; empty means PATH and the usual install dirs. */
  pgBinDir: z.string().default(''),
  tiers: z
    .object({
      critical: TierObjectivesSchema,
      important: TierObjectivesSchema,
      standard: TierObjectivesSchema,
    })
    .default({
      critical: { rtoMinutes: 60, rpoMinutes: 5 },
      important: { rtoMinutes: 240, rpoMinutes: 60 },
      standard: { rtoMinutes: 1440, rpoMinutes: 240 },
    }),
  /** Per system: tier and validation queries for restore tests and drills. */
  systems: z.record(z.string(), SystemSettingsSchema).default({}),
  /** Saved PostgreSQL targets: the URL (never a password) of each `pg:<id>` keychain entry. */
  pgTargets: z.record(z.string(), z.object({ url: z.string(), label: z.string().default('') })).default({}),
  /** The access key id of each `s3:<id>` keychain entry (the entry holds the secret access key). */
  s3Keys: z.record(z.string(), z.object({ accessKeyId: z.string(), label: z.string().default('') })).default({}),
  /** How each s3:// medium is reached: endpoint, region, keychain reference. */
  s3Media: z.array(S3MediumSettingsSchema).default([]),
});
export type Settings = z.infer<typeof SettingsSchema>;

export function loadSettings(path: string): Settings {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return SettingsSchema.parse({});
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new LifeboatError('FORMAT_INVALID', `The settings file is not valid JSON: ${path}`, {
      hint: 'Fix or delete it; defaults are used when it is absent.',
    });
  }
  const parsed = SettingsSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new LifeboatError('FORMAT_INVALID', `The settings file is invalid at ${first?.path.join('.') || '(root)'}: ${first?.message ?? 'unknown'}`, {
      hint: `Fix or delete ${path}.`,
    });
  }
  return parsed.data;
}

/** Written atomically: a crash leaves the old file or the new one, never half of one. */
export function saveSettings(path: string, settings: Settings): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(SettingsSchema.parse(settings), null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}
