import type { SetResult, VerifyLevel } from '../../../shared/domain/verify';
import { isFact, VERIFY_LEVELS } from '../../../shared/domain/verify';
import type { Catalog } from './catalog';

/**
 * The verification ledger (the `verifications` table): what verification records, and what the
 * trust rule, a restore, set selection and `verify --only-new` read back from it.
 */
export interface Ledger {
  lastGood(setKey: string, mediumId: string, path: string): { sha256: string; at: string } | null;
  /** When the set was first verified successfully (integrity or above), on that medium or (no medium) on any: the trust rule's input. */
  firstGood(setKey: string, mediumId?: string): string | null;
}

export function ledgerOf(catalog: Catalog): Ledger {
  return {
    lastGood: (setKey, mediumId, path) =>
      (catalog
        .stmt(
          "SELECT sha256, started_at AS at FROM verifications WHERE set_key = ? AND medium_id = ? AND artifact_path = ? AND verdict = 'ok' AND sha256 IS NOT NULL ORDER BY started_at DESC LIMIT 1",
        )
        .get(setKey, mediumId, path) as { sha256: string; at: string } | undefined) ?? null,
    firstGood: (setKey, mediumId) =>
      (
        catalog
          .stmt(
            `SELECT min(started_at) AS at FROM verifications WHERE set_key = ? AND (? IS NULL OR medium_id = ?) AND artifact_path IS NULL AND verdict = 'ok'
             AND level IN ('integrity', 'authenticity', 'deep', 'restore')`,
          )
          .get(setKey, mediumId ?? null, mediumId ?? null) as { at: string | null } | undefined
      )?.at ?? null,
  };
}

/** The set-level verifications of a set on a medium, newest first. */
export function setVerifications(
  catalog: Catalog,
  setKey: string,
  mediumId: string,
): Array<{ level: VerifyLevel; at: string }> {
  return catalog
    .stmt(
      'SELECT level, started_at AS at FROM verifications WHERE set_key = ? AND medium_id = ? AND artifact_path IS NULL ORDER BY started_at DESC',
    )
    .all(setKey, mediumId) as Array<{ level: VerifyLevel; at: string }>;
}

/** The newest passing set-level verification of a set at or above a level, on any medium. */
export function passingVerification(
  catalog: Catalog,
  setKeyOrId: string,
  level: string,
): { level: string; at: string; medium: string } | null {
  const ranks = VERIFY_LEVELS.slice(VERIFY_LEVELS.indexOf(level as never));
  const row = catalog
    .stmt(
      `SELECT v.level, v.started_at AS at, v.medium_id AS medium FROM verifications v JOIN sets s ON s.key = v.set_key
       WHERE (s.key = ? OR s.set_id = ?) AND v.artifact_path IS NULL AND v.verdict = 'ok' AND v.level IN (${ranks.map(() => '?').join(',')})
       ORDER BY v.started_at DESC LIMIT 1`,
    )
    .get(setKeyOrId, setKeyOrId, ...ranks) as { level: string; at: string; medium: string } | undefined;
  return row ?? null;
}

/**
 * The ledger: one row per artifact and one for the set, per medium. A `not-checked` outcome is not a fact about the set and is
 * never recorded (not the set's row, not an artifact's), so no state, badge or later comparison can follow from it.
 */
export function recordVerification(catalog: Catalog, r: SetResult): void {
  if (!isFact(r.verdict)) return;
  const insert = catalog.stmt(
    'INSERT INTO verifications (set_key, medium_id, artifact_path, level, verdict, sha256, bytes, started_at, duration_ms, bytes_per_sec, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  catalog.inTransaction(() => {
    for (const a of r.artifacts.filter((x) => isFact(x.verdict)))
      insert.run(
        r.key,
        r.mediumId,
        a.path,
        r.level,
        a.verdict,
        a.sha256,
        a.bytes,
        r.startedAt,
        a.durationMs,
        a.durationMs > 0 && a.sha256 ? (a.bytes * 1000) / a.durationMs : null,
        a.detail,
      );
    insert.run(
      r.key,
      r.mediumId,
      null,
      r.level,
      r.verdict,
      null,
      r.bytes,
      r.startedAt,
      r.durationMs,
      r.durationMs > 0 ? (r.bytes * 1000) / r.durationMs : null,
      r.detail,
    );
  });
}
