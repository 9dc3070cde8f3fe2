import { LifeboatError } from '../errors';
import type { Settings } from '../settings/settings';
import type { Catalog } from './catalog';
import { hashFromColumn } from './hash-column';
import type { SetDetail } from '../../../shared/domain/catalog';

/** Named read queries of the catalog, shared by the CLI and the IPC handlers. */

/** A level's rank in SQL (the order of VERIFY_LEVELS: each level includes the ones before it). */
const levelRankSql = (alias: string): string =>
  `(CASE ${alias}.level WHEN 'inventory' THEN 0 WHEN 'integrity' THEN 1 WHEN 'authenticity' THEN 2 WHEN 'deep' THEN 3 ELSE 4 END)`;

/**
 * True (in SQL) when the set-level verdict row `alias` no longer stands: a later verdict on the same medium at its level or a higher one
 * (which checks everything it did) replaced it. A later pass supersedes an older failure, a later failure an older pass.
 */
export const supersededSql = (alias: string): string =>
  `EXISTS (SELECT 1 FROM verifications sup WHERE sup.set_key = ${alias}.set_key AND sup.medium_id = ${alias}.medium_id AND sup.artifact_path IS NULL
     AND sup.verdict != 'not-checked' AND sup.started_at > ${alias}.started_at AND ${levelRankSql('sup')} >= ${levelRankSql(alias)})`;

/** A failure that still stands for the set `setKey` (an SQL expression) on the medium `mediumId` (an SQL expression, or null for any medium). */
const standingFailureSql = (setKey: string, mediumId: string | null): string =>
  `EXISTS (SELECT 1 FROM verifications f WHERE f.set_key = ${setKey} ${mediumId ? `AND f.medium_id = ${mediumId}` : ''} AND f.artifact_path IS NULL
     AND f.verdict NOT IN ('ok', 'not-checked') AND NOT ${supersededSql('f')})`;

/**
 * A set is verified when some medium holds a copy with a standing pass and no standing failure: the state follows the latest verdict
 * per level and medium (a `not-checked` outcome is never recorded, and would be ignored if it were).
 */
export const verifiedSql = (setKey: string): string =>
  `EXISTS (SELECT 1 FROM verifications v WHERE v.set_key = ${setKey} AND v.artifact_path IS NULL AND v.verdict = 'ok' AND NOT ${standingFailureSql('v.set_key', 'v.medium_id')})`;

/**
 * True (in SQL) unless every medium that held the set `setKey` lost it (each one's last scan found it missing): a set missing
 * everywhere recovers nothing. A set with no presence recorded at all is not judged missing.
 */
export const presentSql = (setKey: string): string =>
  `(EXISTS (SELECT 1 FROM presence pr WHERE pr.set_key = ${setKey} AND pr.missing_since IS NULL)
     OR NOT EXISTS (SELECT 1 FROM presence pr WHERE pr.set_key = ${setKey}))`;

export interface SetFilter {
  system?: string;
  kind?: string;
  since?: string;
  until?: string;
  /** Medium id or label. */
  medium?: string;
  verified?: boolean;
  signed?: boolean;
  limit?: number;
}

export interface SetRow {
  key: string;
  setId: string;
  system: string;
  kind: string;
  origin: string;
  tier: string | null;
  createdAt: string;
  bytes: number;
  artifacts: number;
  signed: boolean;
  signerKeyId: string | null;
  encrypted: boolean;
  parentKey: string | null;
  /** Media holding it now (not missing). */
  media: number;
  /** Media where it was seen but is missing now. */
  missingFrom: number;
  verified: boolean;
  /** The ransomware indicator's reasons (catalog/trends.ts): empty when the set is not suspicious or not judged. */
  suspicious: string[];
}

/** The reasons stored by the indicator (a JSON list); a malformed value still says the set is suspicious. */
function suspiciousReasons(text: string | null): string[] {
  if (text === null) return [];
  try {
    const v: unknown = JSON.parse(text);
    const list = Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
    return list.length ? list : ['flagged by the ransomware indicator'];
  } catch {
    return ['flagged by the ransomware indicator'];
  }
}

export function listSets(catalog: Catalog, f: SetFilter = {}, onlyKey?: string): SetRow[] {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  if (onlyKey !== undefined) {
    where.push('s.key = @onlyKey');
    params.onlyKey = onlyKey;
  }
  if (f.system) {
    where.push('s.system = @system');
    params.system = f.system;
  }
  if (f.kind) {
    where.push('s.kind = @kind');
    params.kind = f.kind;
  }
  if (f.since) {
    where.push('s.created_at >= @since');
    params.since = f.since;
  }
  if (f.until) {
    where.push('s.created_at <= @until');
    params.until = f.until;
  }
  if (f.medium) {
    where.push(
      'EXISTS (SELECT 1 FROM presence p JOIN media m ON m.id = p.medium_id WHERE p.set_key = s.key AND p.missing_since IS NULL AND (m.id = @medium OR m.label = @medium OR m.location = @medium))',
    );
    params.medium = f.medium;
  }
  const verifiedExpr = verifiedSql('s.key');
  if (f.verified !== undefined) where.push(f.verified ? verifiedExpr : `NOT ${verifiedExpr}`);
  if (f.signed !== undefined) where.push(f.signed ? 's.signed = 1' : 's.signed = 0');
  const sql = `
    SELECT s.key, s.set_id AS setId, s.system, s.kind, s.origin, s.tier, s.created_at AS createdAt, s.bytes, s.artifact_count AS artifacts,
           s.signed, s.signer_key_id AS signerKeyId, s.encrypted, s.parent_key AS parentKey,
           (SELECT count(*) FROM presence p WHERE p.set_key = s.key AND p.missing_since IS NULL) AS media,
           (SELECT count(*) FROM presence p WHERE p.set_key = s.key AND p.missing_since IS NOT NULL) AS missingFrom,
           ${verifiedExpr} AS verified,
           (SELECT i.reasons FROM set_indicator i WHERE i.set_key = s.key AND i.suspicious = 1) AS suspicious
    FROM sets s
    ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY s.created_at DESC, s.key
    LIMIT ${Math.max(1, Math.min(f.limit ?? 100_000, 1_000_000))}`;
  return (
    catalog.db.prepare(sql).all(params) as Array<
      Omit<SetRow, 'signed' | 'encrypted' | 'verified' | 'suspicious'> & {
        signed: number;
        encrypted: number;
        verified: number;
        suspicious: string | null;
      }
    >
  ).map((r) => ({
    ...r,
    signed: r.signed === 1,
    encrypted: r.encrypted === 1,
    verified: r.verified === 1,
    suspicious: suspiciousReasons(r.suspicious),
  }));
}

export interface WhereRow {
  mediumId: string;
  label: string | null;
  kind: string;
  location: string;
  setPath: string;
  firstSeen: string;
  lastSeen: string;
  missingSince: string | null;
  /** When the medium's listing was last refreshed (how old this knowledge is). */
  mediumLastSync: string | null;
  lastVerification: { level: string; verdict: string; at: string } | null;
}

/**
 * The copies worth trying first: present ones, those whose last verification passed before the
 * unverified ones, failed ones last; the most recently seen first within each group.
 */
export function preferredCopies(rows: WhereRow[]): WhereRow[] {
  const rank = (r: WhereRow): number => (r.lastVerification === null ? 1 : r.lastVerification.verdict === 'ok' ? 0 : 2);
  return rows.filter((r) => !r.missingSince).sort((a, b) => rank(a) - rank(b) || b.lastSeen.localeCompare(a.lastSeen));
}

/** The key a key or a bare set id names; null when none. A bare id that several sets share (two systems backed up in the same second, two servers) is refused with the keys to choose from. */
function keyNamed(catalog: Catalog, setIdOrKey: string): string | null {
  const exact = catalog.stmt('SELECT key FROM sets WHERE key = ?').get(setIdOrKey) as { key: string } | undefined;
  if (exact) return exact.key;
  const keys = (
    catalog
      .stmt('SELECT key FROM sets WHERE set_id = ? ORDER BY created_at DESC, key LIMIT 6')
      .all(setIdOrKey) as Array<{ key: string }>
  ).map((r) => r.key);
  if (keys.length > 1) {
    throw new LifeboatError(
      'BAD_INPUT',
      `${setIdOrKey} names ${keys.length > 5 ? 'more than 5' : keys.length} different sets: ${keys.slice(0, 5).join(', ')}.`,
      {
        hint: 'Give the whole key, <system>/<set id> as `lifeboat sets` lists it.',
      },
    );
  }
  return keys[0] ?? null;
}

/** Every medium holding (or that held) a set: `lifeboat where <set id>`. Accepts a key or a bare set id. */
export function whereIs(catalog: Catalog, setIdOrKey: string): { key: string; rows: WhereRow[] } | null {
  const key = keyNamed(catalog, setIdOrKey);
  if (!key) return null;
  const rows = catalog.db
    .prepare(
      // A present copy was seen at its medium's last successful scan; a missing one, at its own last_seen.
      `SELECT m.id AS mediumId, m.label, m.kind, m.location, p.set_path AS setPath, p.first_seen AS firstSeen,
              CASE WHEN p.missing_since IS NULL THEN max(p.last_seen, coalesce(m.last_sync, p.last_seen)) ELSE p.last_seen END AS lastSeen,
              p.missing_since AS missingSince, m.last_sync AS mediumLastSync,
              (SELECT json_object('level', v.level, 'verdict', v.verdict, 'at', v.started_at) FROM verifications v
                WHERE v.set_key = p.set_key AND v.medium_id = p.medium_id AND v.artifact_path IS NULL AND v.verdict != 'not-checked'
                ORDER BY NOT ${supersededSql('v')} AND v.verdict != 'ok' DESC, v.started_at DESC LIMIT 1) AS lastVerification
       FROM presence p JOIN media m ON m.id = p.medium_id WHERE p.set_key = ? ORDER BY p.missing_since IS NOT NULL, lastSeen DESC`,
    )
    .all(key) as Array<Omit<WhereRow, 'lastVerification'> & { lastVerification: string | null }>;
  return {
    key,
    rows: rows.map((r) => ({
      ...r,
      lastVerification: r.lastVerification ? (JSON.parse(r.lastVerification) as WhereRow['lastVerification']) : null,
    })),
  };
}

/** A set and its ancestors (an incremental's parents), keyed by set id, following the parents the catalog resolved on each set's own medium. */
export function chainKeys(catalog: Catalog, key: string): Map<string, string> {
  const out = new Map<string, string>();
  const seen = new Set<string>();
  for (let k: string | null = key; k !== null && !seen.has(k);) {
    seen.add(k);
    const row = catalog.stmt('SELECT set_id AS setId, parent_key AS parent FROM sets WHERE key = ?').get(k) as
      { setId: string; parent: string | null } | undefined;
    if (!row) break;
    if (!out.has(row.setId)) out.set(row.setId, k);
    k = row.parent;
  }
  return out;
}

/** One set in full for the set detail: artifacts with their hashes, the signer (pinned or not), the manifest facts, every verification. */
export function setDetail(catalog: Catalog, setIdOrKey: string): SetDetail | null {
  const found = whereIs(catalog, setIdOrKey);
  if (!found) return null;
  const set = listSets(catalog, {}, found.key)[0] ?? null;
  if (!set) return null;
  const row = catalog
    .stmt('SELECT finished_at AS finishedAt, facts_json AS facts FROM sets WHERE key = ?')
    .get(found.key) as { finishedAt: string | null; facts: string | null };
  const pinned = set.signerKeyId
    ? (catalog.stmt('SELECT label FROM trusted_keys WHERE key_id = ?').get(set.signerKeyId) as
        { label: string } | undefined)
    : undefined;
  return {
    set,
    finishedAt: row.finishedAt,
    facts: row.facts ? (JSON.parse(row.facts) as Record<string, unknown>) : {},
    signer: set.signerKeyId
      ? { keyId: set.signerKeyId, pinned: pinned !== undefined, label: pinned?.label ?? null }
      : null,
    artifacts: catalog
      .stmt(
        `SELECT path, role, bytes, ${hashFromColumn('sha256')}, plain_bytes AS plainBytes, ${hashFromColumn('plain_sha256', 'plainSha256')}, encodings FROM artifacts WHERE set_key = ? ORDER BY path`,
      )
      .all(found.key) as SetDetail['artifacts'],
    verifications: catalog
      .stmt(
        'SELECT medium_id AS mediumId, level, verdict, started_at AS at, duration_ms AS durationMs, detail FROM verifications WHERE set_key = ? AND artifact_path IS NULL ORDER BY started_at DESC LIMIT 100',
      )
      .all(found.key) as SetDetail['verifications'],
  };
}

export interface SystemRow {
  system: string;
  tier: string | null;
  sets: number;
  /** The newest set, and the newest verified one, among those some medium still holds (missing sets recover nothing). */
  newestSet: { key: string; createdAt: string } | null;
  newestVerifiedSet: { key: string; createdAt: string } | null;
  rpoMinutes: number | null;
  /** Age of the newest verified set (or the newest set when none is verified), in minutes. */
  ageMinutes: number | null;
  status: 'ok' | 'late' | 'unverified' | 'no-sets';
  reason: string;
  /** The WAL archive of the system as last scanned on each medium (point-in-time recovery). */
  wal: Array<{
    mediumId: string;
    label: string | null;
    files: number;
    bytes: number;
    lastSegment: string | null;
    lastArchivedAt: string | null;
    gaps: number;
    timelines: number[];
    scannedAt: string;
  }>;
}

/** Per system: newest set, newest verified set, and its age against the tier's RPO. */
export function listSystems(catalog: Catalog, settings: Settings, now = new Date()): SystemRow[] {
  const rows = catalog.db
    .prepare(
      `SELECT s.system, max(s.tier) AS tier, count(*) AS sets, sum(${presentSql('s.key')}) AS present,
              (SELECT max(p.missing_since) FROM presence p JOIN sets x ON x.key = p.set_key WHERE x.system = s.system) AS missingSince,
              (SELECT json_object('key', x.key, 'createdAt', x.created_at) FROM sets x WHERE x.system = s.system
                 AND ${presentSql('x.key')} ORDER BY x.created_at DESC LIMIT 1) AS newest,
              (SELECT json_object('key', x.key, 'createdAt', x.created_at) FROM sets x WHERE x.system = s.system
                 AND ${presentSql('x.key')} AND ${verifiedSql('x.key')}
                 ORDER BY x.created_at DESC LIMIT 1) AS newestVerified
       FROM sets s GROUP BY s.system ORDER BY s.system`,
    )
    .all() as Array<{
    system: string;
    tier: string | null;
    sets: number;
    present: number;
    missingSince: string | null;
    newest: string | null;
    newestVerified: string | null;
  }>;
  return rows.map((r) => {
    const newest = r.newest ? (JSON.parse(r.newest) as { key: string; createdAt: string }) : null;
    const verified = r.newestVerified ? (JSON.parse(r.newestVerified) as { key: string; createdAt: string }) : null;
    // The operator's settings name a system's tier; otherwise the tier its sets were made with.
    const tier = (settings.systems[r.system]?.tier ?? r.tier) as keyof Settings['tiers'] | null;
    const rpo = tier && tier in settings.tiers ? settings.tiers[tier].rpoMinutes : null;
    const ref = verified ?? newest;
    const age = ref ? Math.max(0, Math.round((now.getTime() - Date.parse(ref.createdAt)) / 60_000)) : null;
    let status: SystemRow['status'];
    let reason: string;
    if (!ref && r.sets > 0) {
      // Every set of the system was missing at its medium's last scan: nothing known is reachable, whatever was verified.
      status = 'no-sets';
      reason = `all ${r.sets} set${r.sets === 1 ? ' is' : 's are'} missing from the media that held them (since ${r.missingSince ?? 'the last scan'}): reconnect and scan the media, or take a new backup`;
    } else if (!ref) {
      status = 'no-sets';
      reason = 'no backup set known';
    } else if (!verified) {
      status = 'unverified';
      reason = 'no verified set yet: verify the media before relying on them';
    } else if (rpo !== null && age !== null && age > rpo) {
      status = 'late';
      reason = `newest verified set is ${age} min old, over the ${rpo} min RPO of tier ${tier}`;
    } else {
      status = 'ok';
      reason =
        rpo !== null
          ? `newest verified set is ${age} min old, within the ${rpo} min RPO`
          : `newest verified set is ${age} min old (no tier set)`;
    }
    const wal = (
      catalog
        .stmt(
          `SELECT w.medium_id AS mediumId, m.label, w.files, w.bytes, w.last_segment AS lastSegment, w.last_archived_at AS lastArchivedAt, w.gaps, w.timelines, w.scanned_at AS scannedAt
           FROM wal_archives w JOIN media m ON m.id = w.medium_id WHERE w.system = ? ORDER BY w.last_archived_at DESC`,
        )
        .all(r.system) as Array<Omit<SystemRow['wal'][number], 'timelines'> & { timelines: string }>
    ).map((w) => ({ ...w, timelines: JSON.parse(w.timelines) as number[] }));
    return {
      system: r.system,
      tier,
      sets: r.sets,
      newestSet: newest,
      newestVerifiedSet: verified,
      rpoMinutes: rpo,
      ageMinutes: age,
      status,
      reason,
      wal,
    };
  });
}

export interface FileHit {
  path: string;
  size: number;
  mtime: string | null;
  setKey: string;
  system: string;
  createdAt: string;
}

/** SQLite GLOB semantics as a RegExp: `*` any run (slashes too), `?` one character, `[...]` classes. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        re += `[${glob.slice(i + 1, end).replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** The longest run of literal characters in a glob: the substring every match contains. */
function longestLiteral(glob: string): string {
  return glob
    .replace(/\[[^\]]*\]/g, '*')
    .split(/[*?]/)
    .reduce((a, b) => (b.length > a.length ? b : a), '');
}

/**
 * A glob (`*`, `?`, `[...]`, case-sensitive) over every indexed file path, newest set first.
 * Each set's paths are one text: a substring search for the glob's longest literal finds the
 * candidate lines, the full pattern confirms them, and the scan stops at `limit` hits.
 */
export function findFiles(catalog: Catalog, glob: string, system?: string, limit = 1000): FileHit[] {
  // A pattern without wildcards matches that name anywhere in the tree.
  const pattern = /[*?[]/.test(glob) ? glob : `*${glob}`;
  const re = globToRegExp(pattern);
  const literal = longestLiteral(pattern);
  // The order comes from the sets alone; each set's text is then read by key, lazily (sorting
  // rows that carry the texts would copy them all through SQLite's sorter). CROSS JOIN: the
  // indexed sets lead (file_paths' set_key index), each looked up in sets by key, then sorted.
  // Left to itself SQLite walked every set newest first and probed file_paths for each: at
  // 100,000 sets with 100 indexed, 100,000 probes, three times the time of the search itself.
  const sets = catalog
    .stmt(
      `SELECT s.key AS setKey, s.system, s.created_at AS createdAt FROM file_paths fp CROSS JOIN sets s ON s.key = fp.set_key ${system ? 'WHERE s.system = ?' : ''} ORDER BY s.created_at DESC, s.key`,
    )
    .all(...(system ? [system] : [])) as Array<{ setKey: string; system: string; createdAt: string }>;
  // Read as bytes (CAST is a plain copy in SQLite): the literal is searched in the UTF-8 bytes
  // without decoding the whole text into a string; only candidate lines are decoded.
  const bytesOf = catalog.stmt('SELECT CAST(paths AS BLOB) FROM file_paths WHERE set_key = ?').pluck();
  const details = catalog.stmt('SELECT size, mtime FROM file_index WHERE set_key = ? AND path = ?');
  const needle = Buffer.from(literal, 'utf8');
  const hits: FileHit[] = [];
  for (const row of sets) {
    const matched: string[] = [];
    const bytes = (bytesOf.get(row.setKey) as Buffer | null | undefined) ?? Buffer.alloc(0);
    if (literal) {
      let pos = bytes.indexOf(needle);
      while (pos >= 0) {
        const start = bytes.lastIndexOf(10, pos) + 1;
        const nl = bytes.indexOf(10, pos);
        const end = nl < 0 ? bytes.length : nl;
        const line = bytes.toString('utf8', start, end);
        if (re.test(line)) matched.push(line);
        pos = nl < 0 ? -1 : bytes.indexOf(needle, end + 1);
      }
    } else {
      for (const line of bytes.toString('utf8').split('\n')) if (re.test(line)) matched.push(line);
    }
    matched.sort();
    for (const path of matched) {
      const d = details.get(row.setKey, path) as { size: number; mtime: string | null } | undefined;
      hits.push({
        path,
        size: d?.size ?? 0,
        mtime: d?.mtime ?? null,
        setKey: row.setKey,
        system: row.system,
        createdAt: row.createdAt,
      });
      if (hits.length >= limit) return hits;
    }
  }
  return hits;
}

export interface MediumRow {
  id: string;
  label: string | null;
  kind: string;
  location: string;
  sets: number;
  missingSets: number;
  bytes: number;
  firstSeen: string;
  lastSeen: string | null;
  lastSync: string | null;
  lastError: string | null;
  unreadable: number;
  /** When a set on this medium was last verified (set-level verdict), and how many sets' latest verdict here is a failure. */
  lastVerifiedAt: string | null;
  failingSets: number;
}

export function listMedia(catalog: Catalog): MediumRow[] {
  return catalog.db
    .prepare(
      `SELECT m.id, m.label, m.kind, m.location, m.first_seen AS firstSeen, m.last_seen AS lastSeen, m.last_sync AS lastSync, m.last_error AS lastError,
              (SELECT count(*) FROM presence p WHERE p.medium_id = m.id AND p.missing_since IS NULL) AS sets,
              (SELECT count(*) FROM presence p WHERE p.medium_id = m.id AND p.missing_since IS NOT NULL) AS missingSets,
              (SELECT coalesce(sum(s.bytes), 0) FROM presence p JOIN sets s ON s.key = p.set_key WHERE p.medium_id = m.id AND p.missing_since IS NULL) AS bytes,
              (SELECT count(*) FROM unreadable u WHERE u.medium_id = m.id) AS unreadable,
              (SELECT max(v.started_at) FROM verifications v WHERE v.medium_id = m.id AND v.artifact_path IS NULL) AS lastVerifiedAt,
              (SELECT count(*) FROM presence p WHERE p.medium_id = m.id AND p.missing_since IS NULL AND ${standingFailureSql('p.set_key', 'm.id')}) AS failingSets
       FROM media m ORDER BY m.label, m.location`,
    )
    .all() as MediumRow[];
}

export interface CurrentVerdict {
  setKey: string;
  mediumId: string;
  level: string;
  verdict: string;
  at: string;
  detail: string | null;
}

/** The set-level verdicts that still stand (the latest per level and medium, see supersededSql), failures first, newest first: the Overview. */
export function currentVerdicts(catalog: Catalog, limit = 30): CurrentVerdict[] {
  return catalog
    .stmt(
      `SELECT v.set_key AS setKey, v.medium_id AS mediumId, v.level, v.verdict, v.started_at AS at, v.detail FROM verifications v
       WHERE v.artifact_path IS NULL AND v.verdict != 'not-checked' AND NOT ${supersededSql('v')}
       ORDER BY v.verdict = 'ok', v.started_at DESC LIMIT ?`,
    )
    .all(limit) as CurrentVerdict[];
}
