import type { Catalog } from '../catalog/catalog';
import { preferredCopies, whereIs } from '../catalog/queries';
import { trustedKeys } from '../catalog/trust';
import { LifeboatError } from '../errors';
import { admitRestore, evidenceOf, factsOfDescription, judgeTrust, type Trust } from '../foreign/trust';
import type { ForeignOrigin } from '../foreign/types';
import { parseManifest, sha256Hex, type Manifest } from '../format/manifest';
import type { Medium } from '../storage/medium';
import { judgeManifest, type TrustDecision } from './gate';
import { openMedium, type MediumOpener } from '../storage/open-medium';
import { ledgerOf } from '../catalog/ledger';
import { recordedManifestSha, setArtifacts, setDescription, setOrigin } from '../catalog/lookups';

export interface SetCopy {
  origin: 'lifeboat';
  key: string;
  medium: Medium;
  /** The catalog's id of that medium (its verifications are recorded under it). */
  mediumId: string;
  mediumLabel: string | null;
  /** Relative to the medium root. */
  setPath: string;
  manifest: Manifest;
  manifestBytes: Buffer;
}

/**
 * A reachable copy of a foreign set (a seed script's file, a pgBackRest backup, a restic snapshot):
 * no manifest.json to read, so the catalog's description instead. The restore readers dispatch on
 * `origin` (foreign/<format>/); each reads its artifacts against `recordedSha256` where the ledger has one.
 */
export interface ForeignCopy {
  origin: ForeignOrigin;
  key: string;
  system: string;
  setId: string;
  kind: string;
  medium: Medium;
  mediumId: string;
  mediumLabel: string | null;
  /** Where the set lives on the medium (a folder or a file), relative to its root. */
  setPath: string;
  /** From the catalog; `recordedSha256` is the hash of the last good verification on this medium (null when never verified there). */
  artifacts: Array<{ path: string; role: string; bytes: number; recordedSha256: string | null }>;
  facts: Record<string, unknown>;
  /** The trust rule's state for this copy (foreign/trust.ts). */
  trust: Trust;
}

/** A set whose key or id the catalog knows, and its origin. */
function findSet(
  catalog: Catalog,
  keyOrId: string,
): { key: string; rows: NonNullable<ReturnType<typeof whereIs>>['rows']; origin: string } {
  const found = whereIs(catalog, keyOrId);
  if (!found)
    throw new LifeboatError('NOT_FOUND', `The catalog knows no set ${keyOrId}.`, {
      hint: 'Scan the media first (lifeboat scan <medium>), then look it up with lifeboat sets.',
    });
  return { ...found, origin: setOrigin(catalog, found.key) ?? 'lifeboat' };
}

/**
 * A reachable copy of a Lifeboat set the catalog knows: each medium holding it is tried in turn (a
 * drive not plugged in is skipped). The manifest read must be the one the catalog recorded, or the
 * copy is refused: a set changed since the scan is not silently used. A foreign set is refused with
 * what to call instead (openCopy), never "the set is gone".
 */
export async function openSetCopy(
  catalog: Catalog,
  keyOrId: string,
  open: MediumOpener = openMedium,
): Promise<SetCopy> {
  const found = findSet(catalog, keyOrId);
  if (found.origin !== 'lifeboat') {
    throw new LifeboatError(
      'FORMAT_UNSUPPORTED',
      `${found.key} is a ${found.origin} set (no Lifeboat manifest): this step reads only the sets Lifeboat wrote.`,
      {
        hint:
          found.origin === 'seed-script'
            ? 'Restore it by hand into a new database: createdb <name>, then gunzip -c <file>.sql.gz | psql -d <name> as a plain role (lifeboat where <set> gives the file; docs/foreign-formats.md).'
            : 'Restore it through a step that reads its format, or by hand (docs/foreign-formats.md says how).',
      },
    );
  }
  const recorded = recordedManifestSha(catalog, found.key);
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
    if (recorded && sha256Hex(bytes) !== recorded) {
      tried.push(`${row.label ?? row.mediumId} (${row.location}): the manifest changed since the last scan`);
      continue;
    }
    return {
      origin: 'lifeboat',
      key: found.key,
      medium,
      mediumId: row.mediumId,
      mediumLabel: row.label,
      setPath: row.setPath,
      manifest: parseManifest(bytes),
      manifestBytes: bytes,
    };
  }
  throw unreachable(found.key, tried);
}

function unreachable(key: string, tried: string[]): LifeboatError {
  return new LifeboatError('STORAGE_UNREACHABLE', `No usable copy of ${key} is reachable now.`, {
    hint: tried.length
      ? `Tried: ${tried.join('; ')}. Connect a medium holding it (or rescan it) and resume.`
      : 'No medium holds it any more.',
  });
}

/**
 * A reachable copy of a foreign set: the first medium holding it (verified copies first) where every
 * artifact the catalog recorded is still there with its size. Its trust is judged by the one rule
 * for that copy's medium (first successful verification there, the format's evidence).
 */
export async function openForeignCopy(
  catalog: Catalog,
  keyOrId: string,
  open: MediumOpener = openMedium,
): Promise<ForeignCopy> {
  const found = findSet(catalog, keyOrId);
  if (found.origin === 'lifeboat')
    throw new LifeboatError('BAD_INPUT', `${found.key} is a Lifeboat set, not a foreign one.`, {
      hint: 'Open it with openSetCopy.',
    });
  const set = setDescription(catalog, found.key);
  if (!set) throw new LifeboatError('NOT_FOUND', `The catalog knows no set ${keyOrId}.`);
  const facts = factsOfDescription(set.json) ?? {};
  const recorded = setArtifacts(catalog, found.key).map(({ path, role, bytes }) => ({ path, role, bytes }));
  const ledger = ledgerOf(catalog);
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
    let problem: string | null = null;
    for (const a of recorded) {
      const st = await medium.stat(a.path).catch((e: unknown) => {
        if (e instanceof LifeboatError && e.code === 'UNSAFE_PATH') throw e;
        return null;
      });
      if (!st) problem = `${a.path} is gone`;
      else if (st.symlink)
        throw new LifeboatError(
          'UNSAFE_PATH',
          `${row.location}/${a.path} of ${found.key} was replaced by a symbolic link: nothing was read.`,
          { hint: 'Restore another copy; verify this one.' },
        );
      else if (st.size !== a.bytes)
        problem = `${a.path} is ${st.size} bytes, the catalog recorded ${a.bytes} (changed since the scan: rescan and verify it)`;
      if (problem) break;
    }
    if (problem) {
      tried.push(`${row.label ?? row.mediumId} (${row.location}): ${problem}`);
      continue;
    }
    const trust = judgeTrust({
      origin: found.origin,
      evidence: evidenceOf(facts),
      firstVerified: ledger.firstGood(found.key, row.mediumId),
    });
    return {
      origin: found.origin as ForeignOrigin,
      key: found.key,
      system: set.system,
      setId: set.setId,
      kind: set.kind,
      medium,
      mediumId: row.mediumId,
      mediumLabel: row.label,
      setPath: row.setPath,
      artifacts: recorded.map((a) => ({
        ...a,
        recordedSha256: ledger.lastGood(found.key, row.mediumId, a.path)?.sha256 ?? null,
      })),
      facts,
      trust,
    };
  }
  throw unreachable(found.key, tried);
}

export interface TrustedSetCopy extends SetCopy {
  /** How its manifest passed the trust rule; the caller journals it (an override above all). */
  trust: TrustDecision;
}

export interface TrustedForeignCopy extends ForeignCopy {
  /** How it passed the trust rule: the caller journals it (an override above all). */
  decision: TrustDecision | { state: 'foreign'; text: string };
}

/** What a restore reads: a Lifeboat copy or a foreign one, by `origin`; both passed the one trust rule. */
export type RestoreCopy = TrustedSetCopy | TrustedForeignCopy;

/**
 * A reachable Lifeboat copy whose manifest passed the trust rule (foreign/trust.ts): signed by a
 * pinned key, or read anyway because the operator allowed unsigned sets for this step. Every
 * artifact a restore reads comes from such a copy, through openVerifiedArtifact. A foreign set is
 * refused here (openCopy reads both).
 */
export async function openTrustedCopy(
  catalog: Catalog,
  keyOrId: string,
  o: { allowUnsigned?: boolean; open?: MediumOpener } = {},
): Promise<TrustedSetCopy> {
  const copy = await openSetCopy(catalog, keyOrId, o.open);
  const decision = await judgeManifest(copy, { trusted: trustedKeys(catalog), allowUnsigned: o.allowUnsigned });
  return { ...copy, trust: decision };
}

/**
 * The restore entry for any set: a Lifeboat set as openTrustedCopy; a foreign set as its copy
 * descriptor, admitted by the same rule — without a prior successful verification on that medium
 * only with the same override as unsigned sets (`allowUnsigned`), which the caller journals.
 */
export async function openCopy(
  catalog: Catalog,
  keyOrId: string,
  o: { allowUnsigned?: boolean; open?: MediumOpener } = {},
): Promise<RestoreCopy> {
  const found = findSet(catalog, keyOrId);
  if (found.origin === 'lifeboat') return openTrustedCopy(catalog, found.key, o);
  const copy = await openForeignCopy(catalog, found.key, o.open);
  const { overridden } = admitRestore(copy.key, copy.trust, o.allowUnsigned);
  return {
    ...copy,
    decision: overridden
      ? { state: 'accepted-unsigned', why: `${copy.key}: ${copy.trust.why ?? copy.trust.text}` }
      : { state: 'foreign', text: copy.trust.text },
  };
}
