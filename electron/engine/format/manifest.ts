import { createHash } from 'node:crypto';
import { z } from 'zod';
import { LifeboatError } from '../errors';
import { canonicalBytes } from './canonical-json';
import { SET_KINDS, type SetKind } from '../../../shared/domain/kinds';
import { isSafeRelativePath, SET_ID, SYSTEM_NAME } from './names';

export { SET_KINDS, type SetKind };

/** Manifest format identifier. Later versions must still read `lifeboat-set/1`. */
export const SET_FORMAT_V1 = 'lifeboat-set/1';
export const ENCODINGS = ['zstd', 'age'] as const;

const Hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex SHA-256');
const Iso = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/, 'a UTC ISO 8601 time');
const SafePath = z.string().refine(isSafeRelativePath, 'a plain relative path (no .., no absolute path)');

export const ArtifactSchema = z
  .object({
    /** Relative to the set folder. */
    path: SafePath,
    /** What it holds: pg-dump, pg-dump-dir, base-tar, wal-tar, files-tar, file-index, backup-manifest. */
    role: z.string().min(1).max(40),
    /** Size and SHA-256 of the bytes as stored on the medium. */
    bytes: z.number().int().nonnegative(),
    sha256: Hex64,
    /** Encodings applied to the plaintext, in order (decode in reverse). */
    encodings: z.array(z.enum(ENCODINGS)),
    /** Size and SHA-256 of the plaintext (what pg_restore or tar reads). */
    plain_bytes: z.number().int().nonnegative(),
    plain_sha256: Hex64,
    /** Key ids of the age recipients it is encrypted to (empty when not encrypted). */
    recipients: z.array(z.string().regex(/^[0-9a-f]{16}$/)),
  })
  .strict();
export type Artifact = z.infer<typeof ArtifactSchema>;

export const ManifestSchema = z
  .object({
    format: z.literal(SET_FORMAT_V1),
    set_id: z.string().regex(SET_ID, 'a set id like 20261121T020000Z-pg-logical'),
    system: z.string().regex(SYSTEM_NAME, 'a system name'),
    kind: z.enum(SET_KINDS),
    tier: z.enum(['critical', 'important', 'standard']).nullable(),
    created_at: Iso,
    started_at: Iso,
    finished_at: Iso,
    parent: z.string().regex(SET_ID).nullable(),
    lifeboat_version: z.string(),
    host: z.string(),
    /** Kind-specific facts: PostgreSQL version, database, LSNs, paths, tool versions... */
    source: z.record(z.string(), z.unknown()),
    artifacts: z.array(ArtifactSchema).min(1),
    warnings: z.array(z.string()),
  })
  .strict();
export type Manifest = z.infer<typeof ManifestSchema>;

/**
 * Parse manifest bytes. Reports the first problem with its field; refuses a newer format
 * with FORMAT_UNSUPPORTED so an old Lifeboat never misreads a future set.
 */
export function parseManifest(bytes: Buffer): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new LifeboatError('FORMAT_INVALID', `manifest.json is not valid JSON (${(e as Error).message}).`);
  }
  const format = (json as { format?: unknown } | null)?.format;
  if (typeof format === 'string' && format.startsWith('lifeboat-set/') && format !== SET_FORMAT_V1) {
    throw new LifeboatError('FORMAT_UNSUPPORTED', `This set uses format ${format}; this Lifeboat reads ${SET_FORMAT_V1}.`, {
      hint: 'Use a newer Lifeboat to read it.',
    });
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const unsafe = issue.message.includes('relative path');
    throw new LifeboatError(unsafe ? 'UNSAFE_PATH' : 'FORMAT_INVALID', `manifest.json is invalid at ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const seen = new Set<string>();
  for (const a of parsed.data.artifacts) {
    if (seen.has(a.path)) throw new LifeboatError('FORMAT_INVALID', `manifest.json lists the artifact ${a.path} twice.`);
    seen.add(a.path);
  }
  return parsed.data;
}

export function manifestBytes(m: Manifest): Buffer {
  return canonicalBytes(ManifestSchema.parse(m));
}

/** `sha256sum -c` compatible lines for the artifacts: the same hashes as the manifest. */
export function sha256sums(m: Manifest): string {
  return m.artifacts.map((a) => `${a.sha256}  ${a.path}\n`).join('');
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}
