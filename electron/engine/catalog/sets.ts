import type { FileEntry } from '../format/file-index';
import type { Manifest } from '../format/manifest';
import type { MediumInfo } from '../format/medium';
import { sha256Hex } from '../format/manifest';
import type { Medium, ObjectStat } from '../storage/medium';
import type { Catalog } from './catalog';
import { hashToColumn } from './hash-column';

/**
 * Named writes of sets into the catalog. Used when Lifeboat makes a set (so `sets`, `where`
 * and `find` know it at once) and by the scanner.
 */
export function recordMedium(catalog: Catalog, medium: Medium, info: MediumInfo | null, now = new Date()): string {
  const id = info?.id ?? `path:${medium.location}`;
  const ts = now.toISOString();
  catalog
    .stmt(
      `INSERT INTO media (id, kind, label, location, format_version, first_seen, last_seen)
       VALUES (@id, @kind, @label, @location, 1, @ts, @ts)
       ON CONFLICT(id) DO UPDATE SET label = excluded.label, location = excluded.location, last_seen = excluded.last_seen`,
    )
    .run({ id, kind: medium.kind, label: info?.label ?? null, location: medium.location, ts });
  return id;
}

/**
 * The catalog key of a set: `<system>/<set id>`. Set ids are unique on a medium, not across
 * media: two servers, or two backups to different media in the same second, can make different
 * sets of one system with the same id. A manifest whose plain key already names a different
 * manifest is a different set (unless it is the only copy, rewritten in place) and is keyed
 * `<system>/<set id>@<first 12 hex of its manifest's SHA-256>`: the same on every scan, and
 * never merged with the other one (which would show one set where there are two).
 */
function keyOf(catalog: Catalog, mediumId: string, setPath: string, manifest: Manifest, sha: string): string {
  const plain = `${manifest.system}/${manifest.set_id}`;
  const known = catalog.stmt('SELECT manifest_sha256 AS sha FROM sets WHERE key = ?').get(plain) as
    { sha: string | null } | undefined;
  if (!known || known.sha === null || known.sha === sha) return plain;
  const copies = catalog
    .stmt('SELECT medium_id AS medium, set_path AS path FROM presence WHERE set_key = ?')
    .all(plain) as Array<{ medium: string; path: string }>;
  if (copies.length === 1 && copies[0]!.medium === mediumId && copies[0]!.path === setPath) return plain;
  return `${plain}@${sha.slice(0, 12)}`;
}

/** The key of an incremental's parent: the set of that id on the same medium (there may be others of the same id elsewhere). */
function parentKeyOf(catalog: Catalog, mediumId: string, system: string, parent: string): string {
  const plain = `${system}/${parent}`;
  const here = catalog
    .stmt(
      'SELECT set_key AS key FROM presence WHERE medium_id = ? AND (set_key = ? OR (set_key > ? AND set_key < ?)) ORDER BY missing_since IS NOT NULL, set_key = ? DESC LIMIT 1',
    )
    .get(mediumId, plain, `${plain}@`, `${plain}A`, plain) as { key: string } | undefined;
  return here?.key ?? plain;
}

export function recordSet(
  catalog: Catalog,
  mediumId: string,
  setPath: string,
  manifest: Manifest,
  manifestBytes: Buffer | { sha256: string },
  stat: ObjectStat | null,
  signerKeyId: string | null,
  now = new Date(),
): string {
  // A scan hashes each manifest as it reads it, and keeps the hash rather than the bytes.
  const sha = Buffer.isBuffer(manifestBytes) ? sha256Hex(manifestBytes) : manifestBytes.sha256;
  const key = keyOf(catalog, mediumId, setPath, manifest, sha);
  const ts = now.toISOString();
  catalog.inTransaction(() => {
    catalog
      .stmt(
        `INSERT INTO sets (key, set_id, system, kind, origin, tier, created_at, finished_at, parent_key, bytes, artifact_count, signed, signer_key_id, encrypted, manifest_sha256, facts_json)
       VALUES (@key, @set_id, @system, @kind, 'lifeboat', @tier, @created_at, @finished_at, @parent_key, @bytes, @count, @signed, @signer, @encrypted, @sha, @json)
       ON CONFLICT(key) DO UPDATE SET manifest_sha256 = excluded.manifest_sha256, facts_json = excluded.facts_json, signed = excluded.signed, signer_key_id = excluded.signer_key_id`,
      )
      .run({
        key,
        set_id: manifest.set_id,
        system: manifest.system,
        kind: manifest.kind,
        tier: manifest.tier,
        created_at: manifest.created_at,
        finished_at: manifest.finished_at,
        parent_key: manifest.parent ? parentKeyOf(catalog, mediumId, manifest.system, manifest.parent) : null,
        bytes: manifest.artifacts.reduce((n, a) => n + a.bytes, 0),
        count: manifest.artifacts.length,
        signed: signerKeyId ? 1 : 0,
        signer: signerKeyId,
        encrypted: manifest.artifacts.some((a) => a.encodings.includes('age')) ? 1 : 0,
        sha,
        json: JSON.stringify({
          source: manifest.source,
          warnings: manifest.warnings,
          host: manifest.host,
          lifeboat_version: manifest.lifeboat_version,
          started_at: manifest.started_at,
        }),
      });
    catalog.stmt('DELETE FROM artifacts WHERE set_key = ?').run(key);
    // One prepared statement, run per artifact with its hashes as 32-byte blobs (hash-column.ts):
    // cheaper than one statement per set over a JSON list, which SQLite parsed again for each column.
    const insert = catalog.stmt(
      'INSERT INTO artifacts (set_key, path, role, bytes, sha256, plain_bytes, plain_sha256, encodings) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    for (const a of manifest.artifacts)
      insert.run(
        key,
        a.path,
        a.role,
        a.bytes,
        hashToColumn(a.sha256),
        a.plain_bytes,
        hashToColumn(a.plain_sha256),
        a.encodings.join(','),
      );
    catalog
      .stmt(
        `INSERT INTO presence (set_key, medium_id, set_path, first_seen, last_seen, missing_since, manifest_size, manifest_mtime, manifest_etag)
       VALUES (@key, @medium, @path, @ts, @ts, NULL, @size, @mtime, @etag)
       ON CONFLICT(set_key, medium_id) DO UPDATE SET last_seen = excluded.last_seen, missing_since = NULL, set_path = excluded.set_path,
         manifest_size = excluded.manifest_size, manifest_mtime = excluded.manifest_mtime, manifest_etag = excluded.manifest_etag`,
      )
      .run({
        key,
        medium: mediumId,
        path: setPath,
        ts,
        size: stat?.size ?? null,
        mtime: stat ? new Date(stat.mtimeMs).toISOString() : null,
        etag: stat?.etag ?? null,
      });
  });
  return key;
}

/** Whether the catalog knows a set of this system and id on any medium (a new set then takes another id). */
export function setIdKnown(catalog: Catalog, system: string, setId: string): boolean {
  return catalog.stmt('SELECT 1 AS known FROM sets WHERE key = ?').get(`${system}/${setId}`) !== undefined;
}

export function recordFileIndex(catalog: Catalog, setKey: string, entries: FileEntry[]): void {
  catalog.inTransaction(() => {
    catalog.stmt('DELETE FROM file_index WHERE set_key = ?').run(setKey);
    // OR IGNORE: two names that are not UTF-8 can share a display form (the index keeps their bytes).
    const insert = catalog.stmt(
      'INSERT OR IGNORE INTO file_index (set_key, path, type, size, mtime, mode, sha256) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    // The table's types predate hardlinks, FIFOs and devices: those are listed as files.
    for (const e of entries)
      insert.run(
        setKey,
        e.path,
        e.type === 'dir' || e.type === 'symlink' ? e.type : 'file',
        e.size,
        new Date(e.mtime_ms).toISOString(),
        e.mode,
        e.sha256,
      );
    const paths = entries.filter((e) => e.type !== 'dir' && !e.path.includes('\n')).map((e) => e.path);
    catalog
      .stmt(
        'INSERT INTO file_paths (set_key, paths) VALUES (?, ?) ON CONFLICT(set_key) DO UPDATE SET paths = excluded.paths',
      )
      .run(setKey, paths.join('\n'));
  });
}

/**
 * The manifests (their SHA-256) of the sets with a passing verification at any level, used by
 * retention to protect them: by manifest rather than by name, since two media can hold
 * different sets of the same name.
 */
export function verifiedManifests(catalog: Catalog): Set<string> {
  const rows = catalog.db
    .prepare(
      "SELECT DISTINCT s.manifest_sha256 FROM verifications v JOIN sets s ON s.key = v.set_key WHERE v.artifact_path IS NULL AND v.verdict = 'ok' AND s.manifest_sha256 IS NOT NULL",
    )
    .pluck()
    .all() as string[];
  return new Set(rows);
}
