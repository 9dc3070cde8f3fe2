import type { Catalog } from '../../catalog/catalog';
import { preferredCopies, whereIs } from '../../catalog/queries';
import { trustedKeys } from '../../catalog/trust';
import { LifeboatError } from '../../errors';
import { parseManifest, sha256Hex, type Manifest } from '../../format/manifest';
import type { Medium } from '../../storage/medium';
import { judgeManifest, type TrustDecision } from '../../restore/gate';
import { openMedium, type MediumOpener } from '../../storage/open-medium';

export interface SetCopy {
  key: string;
  medium: Medium;
  mediumLabel: string | null;
  /** Relative to the medium root. */
  setPath: string;
  manifest: Manifest;
  manifestBytes: Buffer;
}

/**
 * A reachable copy of a set the catalog knows: each medium holding it is tried in turn (a drive
 * not plugged in is skipped). The manifest read must be the one the catalog recorded, or the
 * copy is refused: a set changed since the scan is not silently used.
 */
export async function openSetCopy(catalog: Catalog, keyOrId: string, open: MediumOpener = openMedium): Promise<SetCopy> {
  const found = whereIs(catalog, keyOrId);
  if (!found) throw new LifeboatError('NOT_FOUND', `The catalog knows no set ${keyOrId}.`, { hint: 'Scan the media first (lifeboat scan <medium>), then look it up with lifeboat sets.' });
  const recorded = catalog.stmt('SELECT manifest_sha256 AS sha, origin FROM sets WHERE key = ?').get(found.key) as { sha: string | null; origin: string } | undefined;
  // A foreign set has no manifest.json to read: say what it is, not "the set is gone".
  if (recorded && recorded.origin !== 'lifeboat') {
    throw new LifeboatError('FORMAT_UNSUPPORTED', `${found.key} is a ${recorded.origin} set (no Lifeboat manifest): Lifeboat restores only the sets it wrote.`, {
      hint: recorded.origin === 'seed-script'
        ? 'Restore it by hand into a new database: createdb <name>, then gunzip -c <file>.sql.gz | psql -d <name> as a plain role (lifeboat where <set> gives the file; docs/restore-by-hand.md on trust).'
        : 'Restore it with pgbackrest restore.',
    });
  }
  const tried: string[] = [];
  for (const row of preferredCopies(found.rows)) {
    let medium: Medium;
    try {
      medium = await open(row.location);
      await medium.readInfo();
    } catch {
      tried.push(`${row.label ?? row.mediumId} (${row.location}): not reachable`);
      continue;
    }
    let bytes: Buffer;
    try {
      bytes = await medium.readFile(`${row.setPath}/manifest.json`);
    } catch (e) {
      // A set folder that is a link is no missing set: say so.
      if (e instanceof LifeboatError && e.code === 'UNSAFE_PATH') throw e;
      tried.push(`${row.label ?? row.mediumId} (${row.location}): the set is gone`);
      continue;
    }
    if (recorded?.sha && sha256Hex(bytes) !== recorded.sha) {
      tried.push(`${row.label ?? row.mediumId} (${row.location}): the manifest changed since the last scan`);
      continue;
    }
    return { key: found.key, medium, mediumLabel: row.label, setPath: row.setPath, manifest: parseManifest(bytes), manifestBytes: bytes };
  }
  throw new LifeboatError('STORAGE_UNREACHABLE', `No usable copy of ${found.key} is reachable now.`, {
    hint: tried.length ? `Tried: ${tried.join('; ')}. Connect a medium holding it (or rescan it) and resume.` : 'No medium holds it any more.',
  });
}

export interface TrustedSetCopy extends SetCopy {
  /** How its manifest passed the trust rule; the caller journals it (an override above all). */
  trust: TrustDecision;
}

/**
 * A reachable copy whose manifest passed the trust rule (restore/gate.ts judgeManifest): signed
 * by a pinned key, or read anyway because the operator allowed unsigned sets for this step.
 * Every artifact a restore reads comes from such a copy, through openVerifiedArtifact.
 */
export async function openTrustedCopy(catalog: Catalog, keyOrId: string, o: { allowUnsigned?: boolean; open?: MediumOpener } = {}): Promise<TrustedSetCopy> {
  const copy = await openSetCopy(catalog, keyOrId, o.open);
  const trust = await judgeManifest(copy, { trusted: trustedKeys(catalog), allowUnsigned: o.allowUnsigned });
  return { ...copy, trust };
}
