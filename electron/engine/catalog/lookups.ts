import type { Catalog } from './catalog';
import { hashFromColumn } from './hash-column';

/**
 * Small reads of the catalog that restores, verification, set selection, the console and the demo
 * need (one named function per question, so no SQL is written outside catalog/).
 */

/** A set's origin (`lifeboat`, `pgbackrest`, `restic`, `seed-script`…) by key or set id; null when unknown. */
export function setOrigin(catalog: Catalog, keyOrId: string): string | null {
  const row = catalog.stmt('SELECT origin FROM sets WHERE key = ? OR set_id = ? LIMIT 1').get(keyOrId, keyOrId) as
    { origin: string } | undefined;
  return row?.origin ?? null;
}

/** The SHA-256 of the manifest the scan recorded for a set (null for a foreign set, or none recorded). */
export function recordedManifestSha(catalog: Catalog, key: string): string | null {
  const row = catalog.stmt('SELECT manifest_sha256 AS sha FROM sets WHERE key = ?').get(key) as
    { sha: string | null } | undefined;
  return row?.sha ?? null;
}

/** A set's system, id, kind and facts (JSON text, as the scan stored them); undefined when unknown. */
export function setDescription(
  catalog: Catalog,
  key: string,
): { system: string; setId: string; kind: string; json: string | null } | undefined {
  return catalog.stmt('SELECT system, set_id AS setId, kind, facts_json AS json FROM sets WHERE key = ?').get(key) as
    { system: string; setId: string; kind: string; json: string | null } | undefined;
}

/** A foreign (not Lifeboat) set of a system by its set id. */
export function foreignSet(
  catalog: Catalog,
  system: string,
  setId: string,
): { key: string; origin: string; json: string | null } | undefined {
  return catalog
    .stmt("SELECT key, origin, facts_json AS json FROM sets WHERE system = ? AND set_id = ? AND origin != 'lifeboat'")
    .get(system, setId) as { key: string; origin: string; json: string | null } | undefined;
}

/** The artifacts the catalog recorded for a set, by path; `sha256` is the stored bytes' hash when known. */
export function setArtifacts(
  catalog: Catalog,
  key: string,
): Array<{ path: string; role: string; bytes: number; sha256: string | null }> {
  return catalog
    .stmt(`SELECT path, role, bytes, ${hashFromColumn('sha256')} FROM artifacts WHERE set_key = ? ORDER BY path`)
    .all(key) as Array<{
    path: string;
    role: string;
    bytes: number;
    sha256: string | null;
  }>;
}

/** The id of the medium at a location, when the catalog knows it. */
export function mediumIdAt(catalog: Catalog, location: string): string | null {
  const row = catalog.stmt('SELECT id FROM media WHERE location = ?').get(location) as { id: string } | undefined;
  return row?.id ?? null;
}

/** The sets present (not missing) on a medium, oldest first, with where each lies on it. */
export function setsOnMedium(
  catalog: Catalog,
  mediumId: string,
): Array<{ key: string; system: string; setId: string; origin: string; kind: string; setPath: string }> {
  return catalog
    .stmt(
      `SELECT s.key, s.system, s.set_id AS setId, s.origin, s.kind, p.set_path AS setPath FROM presence p JOIN sets s ON s.key = p.set_key
       WHERE p.medium_id = ? AND p.missing_since IS NULL ORDER BY s.created_at`,
    )
    .all(mediumId) as Array<{
    key: string;
    system: string;
    setId: string;
    origin: string;
    kind: string;
    setPath: string;
  }>;
}

/** How many sets the catalog ever saw on a medium (present or missing). */
export function setsSeenOn(catalog: Catalog, mediumId: string): number {
  return (catalog.stmt('SELECT count(*) AS n FROM presence WHERE medium_id = ?').get(mediumId) as { n: number }).n;
}

/** Forget a medium registered by its path that never held a set (a scan of a folder that is no medium). */
export function forgetEmptyPathMedium(catalog: Catalog, mediumId: string): void {
  catalog
    .stmt(
      "DELETE FROM media WHERE id = ? AND id LIKE 'path:%' AND NOT EXISTS (SELECT 1 FROM presence p WHERE p.medium_id = media.id)",
    )
    .run(mediumId);
}

/** Forget a medium row a scan just made (it found nothing there). */
export function forgetScannedMedium(catalog: Catalog, mediumId: string): void {
  catalog.stmt('DELETE FROM media WHERE id = ?').run(mediumId);
}

/** What a deep verification's chain cross-check asks of the file index of older sets. */
export interface FileIndexProbe {
  /** Whether the catalog indexed a set's files at all. */
  indexed(setKey: string): boolean;
  file(setKey: string, path: string): { type: string; size: number; sha256: string | null } | undefined;
}

export function fileIndexProbe(catalog: Catalog): FileIndexProbe {
  const lookup = catalog.stmt('SELECT type, size, sha256 FROM file_index WHERE set_key = ? AND path = ?');
  const indexed = catalog.stmt('SELECT 1 FROM file_index WHERE set_key = ? LIMIT 1');
  return {
    indexed: (setKey) => indexed.get(setKey) !== undefined,
    file: (setKey, path) =>
      lookup.get(setKey, path) as { type: string; size: number; sha256: string | null } | undefined,
  };
}

/** A set a selection may choose, with its best standing verification level (a later failure on that medium voids one). */
export interface SetCandidate {
  key: string;
  setId: string;
  kind: string;
  createdAt: string;
  bytes: number;
  signed: number;
  signer: string | null;
  origin: string;
  verifiedLevel: string | null;
  facts: string | null;
}

/** The sets of a system and kind present on some medium, newest first (catalog.select-set). */
export function setCandidates(catalog: Catalog, system: string, kind: string): SetCandidate[] {
  return catalog
    .stmt(
      `SELECT s.key, s.set_id AS setId, s.kind, s.created_at AS createdAt, s.bytes, s.signed, s.signer_key_id AS signer, s.origin, s.facts_json AS facts,
              (SELECT v.level FROM verifications v WHERE v.set_key = s.key AND v.artifact_path IS NULL AND v.verdict = 'ok'
                 AND NOT EXISTS (SELECT 1 FROM verifications w WHERE w.set_key = v.set_key AND w.medium_id = v.medium_id AND w.artifact_path IS NULL AND w.verdict != 'ok' AND w.started_at > v.started_at)
               ORDER BY CASE v.level WHEN 'restore' THEN 5 WHEN 'deep' THEN 4 WHEN 'authenticity' THEN 3 WHEN 'integrity' THEN 2 ELSE 1 END DESC LIMIT 1) AS verifiedLevel
       FROM sets s
       WHERE s.system = ? AND s.kind = ? AND EXISTS (SELECT 1 FROM presence p WHERE p.set_key = s.key AND p.missing_since IS NULL)
       ORDER BY s.created_at DESC`,
    )
    .all(system, kind) as SetCandidate[];
}

/** Every set with the number of media it is present on, oldest first (the demo's summary). */
export function setsWithCopies(catalog: Catalog): Array<{ key: string; kind: string; bytes: number; media: number }> {
  return catalog
    .stmt(
      'SELECT s.key, s.kind, s.bytes, (SELECT count(*) FROM presence p WHERE p.set_key = s.key AND p.missing_since IS NULL) AS media FROM sets s ORDER BY s.created_at',
    )
    .all() as Array<{ key: string; kind: string; bytes: number; media: number }>;
}

/** Every run, newest first, with its state as stored (JSON text): the journal check lists them. */
export function runHeads(
  catalog: Catalog,
): Array<{ id: string; title: string; drill: number; status: string; startedAt: string; state: string }> {
  return catalog
    .stmt(
      'SELECT id, title, drill, status, started_at AS startedAt, state_json AS state FROM runs ORDER BY started_at DESC',
    )
    .all() as Array<{ id: string; title: string; drill: number; status: string; startedAt: string; state: string }>;
}
