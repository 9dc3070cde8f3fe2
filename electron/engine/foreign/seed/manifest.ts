import { JSON_LIMITS, jsonDepth } from '../../format/check';

const HEX64 = /^(?:sha256[:-])?([0-9a-f]{64})$/i;
const NAME_KEYS = ['file', 'path', 'name', 'filename', 'file_name', 'backup_file', 'backup', 'location'];
const HASH_KEY = /sha-?256|checksum|hash|digest/i;

export interface SeedManifestHashes {
  /** SHA-256 by file name (the last path component) and by the path as written. */
  byName: Map<string, string>;
  /** Whether the JSON could be read at all (a damaged manifest is said in the facts, never trusted). */
  readable: boolean;
}

/**
 * The SHA-256 hashes a seed script's `manifest_*.json` records, in the shapes such scripts write:
 * `{"files": [{"file": "…", "sha256": "…"}]}`, `{"checksums": {"<file>": "<hex>"}}`, `"sha256:<hex>"`
 * values. Anything else in it is ignored: the manifest only adds integrity data, never sets.
 */
export function seedManifestHashes(bytes: Buffer): SeedManifestHashes {
  const byName = new Map<string, string>();
  if (bytes.length > JSON_LIMITS.manifestBytes || jsonDepth(bytes, JSON_LIMITS.maxDepth) > JSON_LIMITS.maxDepth)
    return { byName, readable: false };
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { byName, readable: false };
  }
  const put = (name: string, hex: string): void => {
    byName.set(name, hex.toLowerCase());
    byName.set(name.split('/').pop()!, hex.toLowerCase());
  };
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (typeof v !== 'object' || v === null) return;
    const o = v as Record<string, unknown>;
    const nameKey = NAME_KEYS.find((k) => typeof o[k] === 'string');
    const hashKey = Object.keys(o).find((k) => HASH_KEY.test(k) && typeof o[k] === 'string' && HEX64.test(o[k]));
    if (nameKey && hashKey) put(o[nameKey] as string, HEX64.exec(o[hashKey] as string)![1]!);
    for (const [k, x] of Object.entries(o)) {
      // A map from file name to hash.
      if (typeof x === 'string' && k.includes('.') && HEX64.test(x)) put(k, HEX64.exec(x)![1]!);
      else walk(x);
    }
  };
  walk(doc);
  return { byName, readable: true };
}
