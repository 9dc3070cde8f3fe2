import { createHash } from 'node:crypto';
import { LifeboatError } from '../errors';
import { canonicalBytes } from './canonical-json';
import { SET_KINDS, type SetKind } from '../../../shared/domain/kinds';
import {
  array,
  count,
  Invalid,
  JSON_LIMITS,
  nullableString,
  object,
  oneOf,
  parseBoundedJson,
  record,
  regex,
  string,
  stringList,
  type Obj,
} from './check';
import { isSafeRelativePath, SET_ID, SYSTEM_NAME } from './names';

export { SET_KINDS, type SetKind };

/** Manifest format identifier. Later versions must still read `lifeboat-set/1`. */
export const SET_FORMAT_V1 = 'lifeboat-set/1';
export const ENCODINGS = ['zstd', 'age'] as const;

const HEX64 = regex(/^[0-9a-f]{64}$/, 'a lowercase hex SHA-256');
const ISO = regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/, 'a UTC ISO 8601 time');
const SAFE_PATH = { test: isSafeRelativePath, what: 'a plain relative path (no .., no absolute path)' };
const KEY_ID = regex(/^[0-9a-f]{16}$/, 'a 16-hex key id');
const TIERS = ['critical', 'important', 'standard'] as const;

export interface Artifact {
  /** Relative to the set folder. */
  path: string;
  /** What it holds: pg-dump, pg-dump-dir, base-tar, wal-tar, files-tar, file-index, backup-manifest. */
  role: string;
  /** Size and SHA-256 of the bytes as stored on the medium. */
  bytes: number;
  sha256: string;
  /** Encodings applied to the plaintext, in order (decode in reverse). */
  encodings: Array<(typeof ENCODINGS)[number]>;
  /** Size and SHA-256 of the plaintext (what pg_restore or tar reads). */
  plain_bytes: number;
  plain_sha256: string;
  /** Key ids of the age recipients it is encrypted to (empty when not encrypted). */
  recipients: string[];
}

export interface Manifest {
  format: typeof SET_FORMAT_V1;
  set_id: string;
  system: string;
  kind: SetKind;
  tier: (typeof TIERS)[number] | null;
  created_at: string;
  started_at: string;
  finished_at: string;
  parent: string | null;
  lifeboat_version: string;
  host: string;
  /** Kind-specific facts: PostgreSQL version, database, LSNs, paths, tool versions... */
  source: Record<string, unknown>;
  artifacts: Artifact[];
  warnings: string[];
}

const ARTIFACT_KEYS = [
  'path',
  'role',
  'bytes',
  'sha256',
  'encodings',
  'plain_bytes',
  'plain_sha256',
  'recipients',
] as const;
const MANIFEST_KEYS = [
  'format',
  'set_id',
  'system',
  'kind',
  'tier',
  'created_at',
  'started_at',
  'finished_at',
  'parent',
  'lifeboat_version',
  'host',
  'source',
  'artifacts',
  'warnings',
] as const;

function checkArtifact(v: unknown, at: string): void {
  const a = object(v, at, ARTIFACT_KEYS);
  string(a, 'path', at, SAFE_PATH);
  const role = string(a, 'role', at);
  if (role.length < 1 || role.length > 40) throw new Invalid(`${at}.role`, 'expected 1 to 40 characters');
  count(a, 'bytes', at);
  string(a, 'sha256', at, HEX64);
  const encodings = array(a, 'encodings', at);
  encodings.forEach((_, i) => oneOf(encodings as unknown as Obj, String(i), `${at}.encodings`, ENCODINGS));
  count(a, 'plain_bytes', at);
  string(a, 'plain_sha256', at, HEX64);
  stringList(a, 'recipients', at, KEY_ID);
}

/** Throws Invalid naming the first field that is not as format v1 says. */
function checkManifest(v: unknown): Manifest {
  const m = object(v, '', MANIFEST_KEYS);
  if (m.format !== SET_FORMAT_V1) throw new Invalid('format', `expected "${SET_FORMAT_V1}"`);
  string(m, 'set_id', '', regex(SET_ID, 'a set id like 20261121T020000Z-pg-logical'));
  string(m, 'system', '', regex(SYSTEM_NAME, 'a system name'));
  oneOf(m, 'kind', '', SET_KINDS);
  if (m.tier !== null) oneOf(m, 'tier', '', TIERS);
  for (const k of ['created_at', 'started_at', 'finished_at']) string(m, k, '', ISO);
  nullableString(m, 'parent', '', regex(SET_ID, 'a set id'));
  string(m, 'lifeboat_version', '');
  string(m, 'host', '');
  record(m, 'source', '');
  const artifacts = array(m, 'artifacts', '');
  if (artifacts.length === 0) throw new Invalid('artifacts', 'expected at least one artifact');
  artifacts.forEach((a, i) => checkArtifact(a, `artifacts.${i}`));
  stringList(m, 'warnings', '');
  return m as unknown as Manifest;
}

/**
 * Parse manifest bytes. Reports the first problem with its field; refuses a newer format
 * with FORMAT_UNSUPPORTED so an old Lifeboat never misreads a future set. Bounded in size and
 * depth (JSON_LIMITS): a hostile manifest is FORMAT_INVALID for its set, never a crash.
 */
export function parseManifest(bytes: Buffer): Manifest {
  const json = parseBoundedJson(bytes, 'manifest.json', {
    maxBytes: JSON_LIMITS.manifestBytes,
    maxDepth: JSON_LIMITS.maxDepth,
  });
  const format = (json as { format?: unknown } | null)?.format;
  if (typeof format === 'string' && format.startsWith('lifeboat-set/') && format !== SET_FORMAT_V1) {
    throw new LifeboatError(
      'FORMAT_UNSUPPORTED',
      `This set uses format ${format}; this Lifeboat reads ${SET_FORMAT_V1}.`,
      {
        hint: 'Use a newer Lifeboat to read it.',
      },
    );
  }
  let manifest: Manifest;
  try {
    manifest = checkManifest(json);
  } catch (e) {
    if (!(e instanceof Invalid)) throw e;
    const unsafe = e.message.endsWith(SAFE_PATH.what);
    throw new LifeboatError(
      unsafe ? 'UNSAFE_PATH' : 'FORMAT_INVALID',
      `manifest.json is invalid at ${e.at || '(root)'}: ${e.message}`,
    );
  }
  const seen = new Set<string>();
  for (const a of manifest.artifacts) {
    if (seen.has(a.path))
      throw new LifeboatError('FORMAT_INVALID', `manifest.json lists the artifact ${a.path} twice.`);
    seen.add(a.path);
  }
  return manifest;
}

/** The canonical bytes of a manifest, checked against format v1 first (a bug must not write a set no reader accepts). */
export function manifestBytes(m: Manifest): Buffer {
  try {
    checkManifest(m);
  } catch (e) {
    if (e instanceof Invalid)
      throw new LifeboatError('INTERNAL', `Refusing to write an invalid manifest (${e.at}: ${e.message}).`);
    throw e;
  }
  return canonicalBytes(m);
}

/** `sha256sum -c` compatible lines for the artifacts: the same hashes as the manifest. */
export function sha256sums(m: Manifest): string {
  return m.artifacts.map((a) => `${a.sha256}  ${a.path}\n`).join('');
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}
