import { LifeboatError } from '../errors';
import { readMeasure } from '../format/measure';
import { DEFAULT_INDICATOR, type IndicatorThresholds } from '../settings/settings';
import { formatBytes } from '../../../shared/format';
import type { Catalog } from './catalog';

/**
 * Trends per system (size, duration, compression ratio, incompressible share, changed files) and
 * the ransomware indicator (docs/trends.md). Everything comes from what the catalog holds of
 * Lifeboat's own sets: the artifacts' sizes, the manifest's times and its measurements
 * (format/measure.ts). A value a set did not record is null: a gap in a chart, never a zero.
 */
export interface TrendPoint {
  key: string;
  setId: string;
  kind: string;
  /** Incremental (has a parent) or full: each is its own series for the indicator. */
  incremental: boolean;
  /** The catalog key of an incremental's parent (null: a full set). */
  parentKey?: string | null;
  createdAt: string;
  /** Bytes as stored on the medium, and of the plaintext. */
  storedBytes: number;
  plainBytes: number | null;
  durationMs: number | null;
  /** plain / stored. */
  ratio: number | null;
  /** 0..1 of the plaintext that would not compress. */
  incompressibleShare: number | null;
  filesTotal: number | null;
  filesChanged: number | null;
  /** Whether the indicator judged the set suspicious (null: not judged yet), and why. */
  suspicious: boolean | null;
  reasons: string[];
}

interface Row {
  key: string;
  set_id: string;
  kind: string;
  parent_key: string | null;
  created_at: string;
  started_at: unknown;
  finished_at: string | null;
  bytes: number;
  plain: number | null;
  measure: string | null;
  suspicious: number | null;
  reasons: string | null;
}

function ms(iso: unknown): number | null {
  if (typeof iso !== 'string') return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : null;
}

function reasonsOf(text: string | null): string[] {
  if (!text) return [];
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** Lifeboat's sets of a system, oldest first, with their measurements and verdicts. */
export function systemTrend(catalog: Catalog, system: string): TrendPoint[] {
  const rows = catalog
    .stmt(
      `SELECT s.key, s.set_id, s.kind, s.parent_key, s.created_at, s.finished_at, s.bytes,
              json_extract(s.facts_json, '$.started_at') AS started_at,
              json_extract(s.facts_json, '$.source.measure') AS measure,
              (SELECT sum(a.plain_bytes) FROM artifacts a WHERE a.set_key = s.key) AS plain,
              i.suspicious, i.reasons
       FROM sets s LEFT JOIN set_indicator i ON i.set_key = s.key
       WHERE s.system = ? AND s.origin = 'lifeboat'
       ORDER BY s.created_at, s.key`,
    )
    .all(system) as Row[];
  return rows.map((r) => {
    const measure = ((): unknown => {
      try {
        return r.measure ? JSON.parse(r.measure) : null;
      } catch {
        return null;
      }
    })();
    const m = readMeasure({ measure });
    const start = ms(r.started_at) ?? ms(r.created_at);
    const end = ms(r.finished_at);
    const plain = typeof r.plain === 'number' ? r.plain : null;
    return {
      key: r.key,
      setId: r.set_id,
      kind: r.kind,
      incremental: r.parent_key !== null,
      parentKey: r.parent_key,
      createdAt: r.created_at,
      storedBytes: r.bytes,
      plainBytes: plain,
      durationMs: start !== null && end !== null && end >= start ? end - start : null,
      ratio: plain !== null && r.bytes > 0 ? plain / r.bytes : null,
      incompressibleShare:
        m.incompressible_bytes !== null && plain !== null && plain > 0
          ? Math.min(1, m.incompressible_bytes / plain)
          : null,
      filesTotal: m.files_total,
      filesChanged: m.files_changed,
      suspicious: r.suspicious === null ? null : r.suspicious === 1,
      reasons: reasonsOf(r.reasons),
    };
  });
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

const pct = (x: number): string => `${Math.round(x * 100)}%`;

function changedShare(p: TrendPoint): number | null {
  return p.filesChanged !== null && p.filesTotal !== null && p.filesTotal > 0 ? p.filesChanged / p.filesTotal : null;
}

/**
 * Why a set is suspicious against its history (the previous sets of its series that were not
 * suspicious, newest last): empty when it is not. Each reason says the measured value and the
 * usual one, so the operator can judge it. `kindHistory` (the clean sets of the same kind, any
 * series) stands in when the series has none yet: the first incremental after fulls is judged on
 * its shares (what does not compress, files changed), which do not depend on a set's size; its
 * size is not judged.
 */
export function judgePoint(
  point: TrendPoint,
  history: TrendPoint[],
  t: IndicatorThresholds,
  kindHistory: TrendPoint[] = [],
): string[] {
  const reasons: string[] = [];
  const own = history.slice(-t.history);
  const base = own.length > 0 ? own : kindHistory.slice(-t.history);
  if (base.length === 0) return reasons;

  const share = point.incompressibleShare;
  const usualShare = median(base.flatMap((p) => (p.incompressibleShare === null ? [] : [p.incompressibleShare])));
  if (
    share !== null &&
    usualShare !== null &&
    share >= t.incompressibleShare &&
    share - usualShare >= t.incompressibleJump
  )
    reasons.push(
      `${pct(share)} of its data does not compress (usually ${pct(usualShare)}): files may have been encrypted`,
    );
  else if (share !== null && point.plainBytes !== null && point.plainBytes > 0) {
    // Part of the data stopped compressing while the set did not grow by as much: files changed
    // into incompressible ones (a partial encryption), not incompressible files added (photos).
    const inc = (p: TrendPoint): number | null =>
      p.incompressibleShare !== null && p.plainBytes !== null ? p.incompressibleShare * p.plainBytes : null;
    const usualInc = median(own.flatMap((p) => (inc(p) === null ? [] : [inc(p)!])));
    const usualPlain = median(own.flatMap((p) => (p.plainBytes === null ? [] : [p.plainBytes])));
    if (usualInc !== null && usualPlain !== null) {
      const stopped = share * point.plainBytes - usualInc - Math.max(0, point.plainBytes - usualPlain);
      if (stopped >= t.sizeMinBytes && stopped / point.plainBytes >= t.stoppedShare)
        reasons.push(
          `${pct(stopped / point.plainBytes)} of its data stopped compressing though it did not grow (${pct(share)} does not compress, usually ${pct(usualShare ?? 0)}): files may have been encrypted`,
        );
    }
  }

  const usualSize = own.length > 0 ? median(own.map((p) => p.storedBytes)) : null;
  if (
    usualSize !== null &&
    point.storedBytes >= usualSize * t.sizeFactor &&
    point.storedBytes - usualSize >= t.sizeMinBytes
  )
    reasons.push(
      `it stores ${formatBytes(point.storedBytes)}, ${(point.storedBytes / Math.max(1, usualSize)).toFixed(1)}× the usual ${formatBytes(usualSize)}`,
    );

  const changed = changedShare(point);
  const usualChanged = median(base.flatMap((p) => (changedShare(p) === null ? [] : [changedShare(p)!])));
  if (
    changed !== null &&
    usualChanged !== null &&
    (point.filesTotal ?? 0) >= t.changedMinFiles &&
    changed >= t.changedShare &&
    changed >= usualChanged * 2
  )
    reasons.push(
      `${point.filesChanged} of its ${point.filesTotal} files changed (${pct(changed)}; usually ${pct(usualChanged)})`,
    );
  return reasons;
}

/**
 * Judge every Lifeboat set of a system in order and store the verdicts (set_indicator). A set's
 * baseline is the earlier sets of its series (kind, full or incremental) that were not
 * suspicious. An incremental built on a suspicious set is suspicious too: restoring it restores
 * its parent's files. A set the operator accepted (`accepted` in the settings) is not suspicious,
 * and the baseline of its kind starts again at it. Deterministic: a rebuilt catalog judges the same sets the same way.
 */
export function judgeSystem(
  catalog: Catalog,
  system: string,
  thresholds: IndicatorThresholds = DEFAULT_INDICATOR,
  now = new Date(),
): TrendPoint[] {
  const points = systemTrend(catalog, system);
  const clean = new Map<string, TrendPoint[]>();
  const byKey = new Map(points.map((p) => [p.key, p]));
  const accepted = new Set(thresholds.accepted ?? []);
  const changed: Array<[string, number, string]> = [];
  for (const p of points) {
    const before = p.suspicious === null ? null : `${p.suspicious ? 1 : 0}${JSON.stringify(p.reasons)}`;
    const series = `${p.kind}/${p.incremental ? 'incr' : 'full'}`;
    const parent = p.parentKey ? byKey.get(p.parentKey) : undefined;
    if (accepted.has(p.setId) || accepted.has(p.key)) {
      // The operator's word: this set is the system's new normal, its kind's baseline starts again at it.
      p.reasons = [];
      for (const k of [...clean.keys()]) if (k === `kind:${p.kind}` || k.startsWith(`${p.kind}/`)) clean.delete(k);
    } else {
      p.reasons = judgePoint(p, clean.get(series) ?? [], thresholds, clean.get(`kind:${p.kind}`) ?? []);
      if (parent?.suspicious)
        p.reasons.push(`it is built on ${parent.setId}, which is suspicious: restoring it restores that set's files`);
    }
    p.suspicious = p.reasons.length > 0;
    if (!p.suspicious) {
      const history = clean.get(series) ?? [];
      clean.set(series, [...history, p].slice(-Math.max(1, thresholds.history)));
      clean.set(`kind:${p.kind}`, [...(clean.get(`kind:${p.kind}`) ?? []), p].slice(-Math.max(1, thresholds.history)));
    }
    const reasons = JSON.stringify(p.reasons);
    if (before !== `${p.suspicious ? 1 : 0}${reasons}`) changed.push([p.key, p.suspicious ? 1 : 0, reasons]);
  }
  // Only the verdicts that changed, in one statement (a first scan of 10,000 sets writes them all).
  if (changed.length > 0)
    catalog
      .stmt(
        `INSERT INTO set_indicator (set_key, suspicious, reasons, judged_at)
         SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), ? FROM json_each(?) WHERE true
         ON CONFLICT(set_key) DO UPDATE SET suspicious = excluded.suspicious, reasons = excluded.reasons, judged_at = excluded.judged_at`,
      )
      .run(now.toISOString(), JSON.stringify(changed));
  return points;
}

/** The systems with Lifeboat sets in the catalog. */
export function trendSystems(catalog: Catalog): string[] {
  return catalog.db
    .prepare("SELECT DISTINCT system FROM sets WHERE origin = 'lifeboat' ORDER BY system")
    .pluck()
    .all() as string[];
}

export interface CleanCandidate {
  /** The newest suspicious set and the first of its run of suspicious sets. */
  newestSuspicious: TrendPoint;
  firstSuspicious: TrendPoint;
  /** The last set before the first suspicious one (null: none is older). */
  candidate: TrendPoint | null;
  /** One sentence for the operator. */
  why: string;
}

/**
 * The clean candidate of a system: when any of its sets is suspicious, the last set made before
 * the first one of the newest run of suspicious sets (of any series: an incremental after an
 * encrypted full is built on it). Null when nothing is suspicious.
 */
export function cleanCandidate(points: TrendPoint[], kinds?: readonly string[]): CleanCandidate | null {
  const ps = kinds ? points.filter((p) => kinds.includes(p.kind)) : points;
  let last = -1;
  for (let i = ps.length - 1; i >= 0; i--)
    if (ps[i]!.suspicious) {
      last = i;
      break;
    }
  if (last < 0) return null;
  let first = last;
  while (first > 0 && ps[first - 1]!.suspicious) first--;
  const candidate = first > 0 ? ps[first - 1]! : null;
  const f = ps[first]!;
  const why = `${f.setId} is flagged suspicious (${f.reasons.join('; ')})${
    candidate
      ? `: ${candidate.setId}, the last set before it, is the clean candidate`
      : ': no earlier set exists to propose as clean'
  }.`;
  return { newestSuspicious: ps[last]!, firstSuspicious: f, candidate, why };
}

export interface SystemTrend {
  system: string;
  points: TrendPoint[];
  cleanCandidate: { key: string | null; firstSuspicious: string; why: string } | null;
}

/**
 * The trends of every system with Lifeboat sets, or of one (NOT_FOUND when it has none): the CLI's
 * and the app's. With `thresholds`, each system is judged again first with the thresholds the
 * settings hold now, so a tuning shows at once rather than at the system's next backup.
 */
export function systemTrends(
  catalog: Catalog,
  system?: string,
  thresholds?: (system: string) => IndicatorThresholds,
): SystemTrend[] {
  const known = trendSystems(catalog);
  if (system !== undefined && !known.includes(system))
    throw new LifeboatError('NOT_FOUND', `The catalog holds no Lifeboat set of ${system}.`, {
      hint: 'Check the name with lifeboat systems, or scan the media that hold it (lifeboat scan <medium>).',
    });
  return (system !== undefined ? [system] : known).map((name) => {
    const points = thresholds ? judgeSystem(catalog, name, thresholds(name)) : systemTrend(catalog, name);
    const clean = cleanCandidate(points);
    return {
      system: name,
      points,
      cleanCandidate: clean
        ? { key: clean.candidate?.key ?? null, firstSuspicious: clean.firstSuspicious.key, why: clean.why }
        : null,
    };
  });
}

/** The systems with at least one set the indicator flagged, by name. */
export function suspiciousSystems(catalog: Catalog): string[] {
  return catalog.db
    .prepare(
      'SELECT DISTINCT s.system FROM set_indicator i JOIN sets s ON s.key = i.set_key WHERE i.suspicious = 1 ORDER BY s.system',
    )
    .pluck()
    .all() as string[];
}
