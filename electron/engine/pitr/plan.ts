import pLimit from 'p-limit';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgeIdentity } from '../crypto/age';
import { LifeboatError, mapError, unlessUnreachable } from '../errors';
import { parseManifest, type Manifest } from '../format/manifest';
import type { PgbrKeys } from '../foreign/pgbackrest/wal';
import { findExecutable } from '../tools/tools';
import { foreignWalSourceFor } from './pgbackrest-source';
import type { Medium } from '../storage/medium';
import { listArchive, walSignature, withArchived, type ArchivedWal, type WalReader } from './wal-archive';
import { acceptable, type WalSignatureState, type WalTrust } from './wal-signature';
import {
  formatLsn,
  parseHistory,
  parseLsn,
  segmentName,
  segmentNumber,
  WAL_SEGMENT_DEFAULT,
  type HistoryEntry,
} from '../format/wal-names';

export interface BaseBackup {
  setId: string;
  setPath: string;
  timeline: number;
  startLsn: string;
  stopLsn: string;
  startedAt: string;
  finishedAt: string;
  serverMajor: number;
  segmentBytes: number;
  bytes: number;
}

export interface Gap {
  timeline: number;
  /** First and last missing segment names. */
  from: string;
  to: string;
}

export interface TimelineWindow {
  base: string;
  timeline: number;
  /** Consistent from the end of the base backup… */
  from: string;
  /** …to the last transaction in the contiguous WAL after it (null when no commit was found). */
  to: string | null;
  toBasis: 'commit record (pg_waldump)' | 'archive time of the last segment' | 'end of the base backup';
  lastSegment: string;
  segments: number;
}

/** The signature state of the archive: counts, and every file that is not `signed`, by name. */
export interface WalSignatures {
  signed: number;
  unsigned: number;
  untrusted: number;
  invalid: number;
  /** Files not signed by a pinned key (or whose signature does not match), with why. */
  problems: Array<{ name: string; state: WalSignatureState | 'duplicate'; reason: string }>;
}

export interface PitrPlan {
  system: string;
  medium: string;
  /** Whose archive was planned over: Lifeboat's own, or a pgBackRest stanza's. */
  origin: WalSource['origin'];
  bases: BaseBackup[];
  timelines: Array<{
    timeline: number;
    parent: number | null;
    switchLsn: string | null;
    segments: number;
    first: string | null;
    last: string | null;
  }>;
  gaps: Gap[];
  windows: TimelineWindow[];
  idle: Array<{ after: string; before: string; minutes: number }>;
  target: null | {
    time: string;
    inside: boolean;
    base: string | null;
    segments: string[];
    warnings: string[];
    /** Files of the target's chain (and history files) the signature policy refuses: a restore would stop on them. */
    refused: Array<{ name: string; state: WalSignatureState | 'duplicate'; reason: string }>;
    /**
     * How a restore stops: at the time (`recovery_target_time`), or `immediate` where the base backup
     * becomes consistent, for a window that is only the end of its base backup (recovery-config.ts).
     */
    stop: 'time' | 'immediate';
  };
  signatures: WalSignatures;
  warnings: string[];
}

function waldumpCommits(pgWaldump: string, dir: string, segment: string): Promise<string[]> {
  return new Promise((resolve) => {
    execFile(pgWaldump, ['--path', dir, segment], { maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' }, (_e, stdout) => {
      // pg_waldump stops with an error at the end of the written part of a segment: expected.
      const times = [
        ...(stdout ?? '').matchAll(/COMMIT (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?) ?([A-Z]+|[+-]\d+)?/g),
      ].map((m) => {
        const zone = m[2] && m[2] !== 'UTC' && m[2] !== 'GMT' ? m[2] : 'Z';
        return new Date(`${m[1]!.replace(' ', 'T')}${zone === 'Z' ? 'Z' : zone}`).toISOString();
      });
      resolve(times);
    });
  });
}

type Problem = { state: WalSignatureState | 'duplicate'; reason: string };

/**
 * Every archived file's signature state, read from the sidecars (a few hundred bytes each, eight
 * at a time), and the names held by more than one stored file (a push never makes two).
 */
export async function archiveSignatures(
  medium: Medium,
  r: Pick<WalReader, 'system' | 'trust'>,
  archive: ArchivedWal[],
): Promise<{ summary: WalSignatures; byName: Map<string, Problem> }> {
  const summary: WalSignatures = { signed: 0, unsigned: 0, untrusted: 0, invalid: 0, problems: [] };
  const byName = new Map<string, Problem>();
  const counts = new Map<string, number>();
  for (const w of archive) counts.set(w.name, (counts.get(w.name) ?? 0) + 1);
  const limit = pLimit(8);
  const check = async (w: ArchivedWal): Promise<void> => {
    const c = await walSignature(medium, r, w);
    if (c.state === 'signed') summary.signed++;
    else if (c.state === 'unsigned') summary.unsigned++;
    else if (c.state === 'untrusted-signer') summary.untrusted++;
    else summary.invalid++;
    if ((counts.get(w.name) ?? 0) > 1)
      byName.set(w.name, {
        state: 'duplicate',
        reason: `${counts.get(w.name)} different stored files carry this name (one was added)`,
      });
    else if (c.state !== 'signed') byName.set(w.name, { state: c.state, reason: c.reason ?? c.state });
  };
  await Promise.all(archive.map((w) => limit(check, w)));
  summary.problems = [...byName.entries()]
    .map(([name, p]) => ({ name, ...p }))
    .sort((a, b) => a.name.localeCompare(b.name));
  return { summary, byName };
}

/** True when the policy lets a restore use a file in this state (duplicates and invalid signatures never). */
function usable(state: WalSignatureState | 'duplicate' | undefined, trust: WalTrust): boolean {
  return state === undefined || (state !== 'duplicate' && acceptable(state, trust));
}

/**
 * Where a plan reads base backups and the WAL archive: Lifeboat's own sets and `wal/<system>`
 * archive (the default), or another tool's repository (pgbackrest-source.ts). The planner itself
 * only sees names, times and plain bytes.
 */
export interface WalSource {
  origin: 'lifeboat' | 'pgbackrest';
  bases(): Promise<BaseBackup[]>;
  list(): Promise<ArchivedWal[]>;
  /**
   * Use a file's plain bytes, proven (hash, or the foreign format's checksum) before `use` sees
   * them; they may be a reused buffer, valid only until `use` settles.
   */
  read<T>(w: ArchivedWal, use: (plain: Buffer) => T | Promise<T>): Promise<T>;
  /** Lifeboat's WAL signatures; a foreign archive has none (its files are proven by their own checksums). */
  signatures(archive: ArchivedWal[]): Promise<{ summary: WalSignatures; byName: Map<string, Problem> }>;
  /** What to say when there is no base backup. */
  noBaseWarning: string;
}

/** Lifeboat's own pg-base sets of a system. */
async function lifeboatBases(medium: Medium, system: string): Promise<BaseBackup[]> {
  const bases: BaseBackup[] = [];
  for (const s of (await medium.listSets()).filter((x) => x.system === system)) {
    let m: Manifest;
    try {
      m = parseManifest(await medium.readFile(`${s.path}/manifest.json`));
    } catch {
      continue;
    }
    if (m.kind !== 'pg-base') continue;
    const src = m.source;
    const text = (v: unknown, fallback: string): string => (typeof v === 'string' ? v : fallback);
    bases.push({
      setId: m.set_id,
      setPath: s.path,
      timeline: Number(src.timeline),
      startLsn: text(src.start_lsn, '0/0'),
      stopLsn: text(src.stop_lsn, '0/0'),
      startedAt: text(src.backup_started_at, m.started_at),
      finishedAt: text(src.backup_finished_at, m.finished_at),
      serverMajor: Number(src.server_major ?? 0),
      segmentBytes: Number(src.wal_segment_size ?? WAL_SEGMENT_DEFAULT),
      bytes: m.artifacts.reduce((n, a) => n + a.bytes, 0),
    });
  }
  return bases;
}

/** Lifeboat's sets and `wal/<system>` archive on a medium, read through the signature policy. */
export function lifeboatWalSource(medium: Medium, system: string, reader: WalReader): WalSource {
  return {
    origin: 'lifeboat',
    bases: () => lifeboatBases(medium, system),
    list: () => listArchive(medium, system),
    read: (w, use) => withArchived(medium, reader, w, use),
    signatures: (archive) => archiveSignatures(medium, reader, archive),
    noBaseWarning: `no pg-base set of ${system} on ${medium.location}: point-in-time recovery needs a base backup (lifeboat backup pg-base)`,
  };
}

/**
 * The archive of a system on a medium: Lifeboat's own `wal/<system>` when it holds anything, else
 * a pgBackRest stanza of that name (`archive/<system>/archive.info`), else Lifeboat's (empty).
 */
export async function pickWalSource(
  medium: Medium,
  system: string,
  reader: WalReader,
  pgbrKeys?: PgbrKeys,
): Promise<WalSource> {
  return (
    (await foreignWalSourceFor(medium, system, pgbrKeys ?? { repoPassphrase: null })) ??
    lifeboatWalSource(medium, system, reader)
  );
}

/**
 * The recoverable window of a system, from the base backups and the WAL archive on one medium:
 * timelines (from .history files), contiguity from each base backup's start, gaps, idle
 * stretches, and — for a target time — the base backup and segments needed, with every warning
 * an operator should read before replaying. The last recoverable transaction's time is read
 * from the WAL with pg_waldump when it is available: a fact, not a guess.
 */
export async function planPitr(
  medium: Medium,
  system: string,
  o: {
    targetTime?: string;
    identities: AgeIdentity[];
    trust: WalTrust;
    pgBinDir?: string;
    idleMinutes?: number;
    archive?: ArchivedWal[];
    /** The archive to plan over; default: pickWalSource (Lifeboat's own, or a pgBackRest stanza named like the system). */
    source?: WalSource;
    /** The repository passphrase of an encrypted pgBackRest stanza. */
    pgbrKeys?: PgbrKeys;
  },
): Promise<PitrPlan> {
  const warnings: string[] = [];
  const reader: WalReader = { system, identities: o.identities, trust: o.trust };
  const source = o.source ?? (await pickWalSource(medium, system, reader, o.pgbrKeys));
  const bases = await source.bases();
  bases.sort((a, b) => a.finishedAt.localeCompare(b.finishedAt));
  const segBytes = bases[0]?.segmentBytes ?? WAL_SEGMENT_DEFAULT;
  const archive = o.archive ?? (await source.list());
  const sigs = await source.signatures(archive);
  warnings.push(...signatureWarnings(sigs.summary, archive.length));
  const segments = archive.filter((w) => w.kind === 'segment');
  const byTimeline = groupByTimeline(segments);
  const timelines = await readTimelines(archive, byTimeline, source, warnings);
  const gaps = findGaps(byTimeline, segBytes);
  for (const g of gaps)
    warnings.push(
      `WAL gap on timeline ${g.timeline}: ${g.from}${g.from !== g.to ? ` to ${g.to}` : ''} missing — no recovery can pass it`,
    );
  const idle = findIdle(segments, o.idleMinutes ?? 60);
  for (const x of idle)
    warnings.push(
      `no WAL was archived for ${x.minutes} minutes between ${x.after} and ${x.before}: set archive_timeout, or the real RPO is that coarse`,
    );
  const pgWaldump = findExecutable('pg_waldump', { preferDirs: o.pgBinDir ? [o.pgBinDir] : [], pg: true });
  const w = await recoverableWindows(bases, byTimeline, timelines, segBytes, { source, pgWaldump, warnings });
  if (bases.length === 0) warnings.push(source.noBaseWarning);
  const target = o.targetTime
    ? planTarget(o.targetTime, { ...w, gaps, timelines, idle, archive, byName: sigs.byName, trust: o.trust })
    : null;
  return {
    system,
    medium: medium.location,
    origin: source.origin,
    bases,
    timelines,
    gaps,
    windows: w.windows,
    idle,
    target,
    signatures: sigs.summary,
    warnings,
  };
}

type Timeline = PitrPlan['timelines'][number];

/** What the archive's signature states mean for a restore. */
function signatureWarnings(s: WalSignatures, files: number): string[] {
  const out: string[] = [];
  if (s.unsigned)
    out.push(
      `${s.unsigned} of ${files} archived WAL files are unsigned: a restore refuses them unless accepted with --allow-unsigned-wal`,
    );
  if (s.untrusted)
    out.push(
      `${s.untrusted} archived WAL files are signed by a key that is not pinned: a restore refuses them unless accepted with --allow-unsigned-wal`,
    );
  if (s.invalid)
    out.push(
      `${s.invalid} archived WAL files have a signature that does not match them (replaced on the medium?): a restore refuses them`,
    );
  const dups = s.problems.filter((p) => p.state === 'duplicate');
  if (dups.length)
    out.push(
      `${dups.length} WAL file names are held by more than one stored file (${dups
        .slice(0, 3)
        .map((d) => d.name)
        .join(', ')}): one was added; a restore refuses them`,
    );
  return out;
}

function groupByTimeline(segments: ArchivedWal[]): Map<number, ArchivedWal[]> {
  const byTimeline = new Map<number, ArchivedWal[]>();
  for (const s of segments) {
    const list = byTimeline.get(s.timeline) ?? [];
    list.push(s);
    byTimeline.set(s.timeline, list);
  }
  return byTimeline;
}

/** The timelines: those with segments and those named by .history files, each with its parent and switch point. */
async function readTimelines(
  archive: ArchivedWal[],
  byTimeline: Map<number, ArchivedWal[]>,
  source: WalSource,
  warnings: string[],
): Promise<Timeline[]> {
  const histories = new Map<number, HistoryEntry[]>();
  for (const h of archive.filter((w) => w.kind === 'history')) {
    try {
      histories.set(h.timeline, await source.read(h, (b) => parseHistory(b.toString('utf8'))));
    } catch (e) {
      warnings.push(
        `the history file ${h.name} cannot be read (${e instanceof Error ? e.message : String(e)}): timeline ${h.timeline}'s origin is unknown`,
      );
    }
  }
  const timelineIds = [...new Set([...byTimeline.keys(), ...histories.keys()])].sort((a, b) => a - b);
  const timelines = timelineIds.map((t) => {
    const h = histories.get(t);
    const parent = h?.[h.length - 1] ?? null;
    const list = byTimeline.get(t) ?? [];
    return {
      timeline: t,
      parent: parent?.parent ?? null,
      switchLsn: parent ? formatLsn(parent.switchLsn) : null,
      segments: list.length,
      first: list[0]?.name ?? null,
      last: list[list.length - 1]?.name ?? null,
    };
  });
  if (timelines.length > 1)
    warnings.push(
      `the archive holds ${timelines.length} timelines (${timelines.map((t) => t.timeline).join(', ')}): a promotion happened; recovery follows the latest timeline unless told otherwise`,
    );
  return timelines;
}

/** Gaps inside each timeline's archived range. */
function findGaps(byTimeline: Map<number, ArchivedWal[]>, segBytes: number): Gap[] {
  const gaps: Gap[] = [];
  for (const [t, list] of byTimeline) {
    for (let i = 1; i < list.length; i++) {
      const a = segmentNumber(list[i - 1]!.name, segBytes);
      const b = segmentNumber(list[i]!.name, segBytes);
      if (b > a + 1)
        gaps.push({ timeline: t, from: segmentName(t, a + 1, segBytes), to: segmentName(t, b - 1, segBytes) });
    }
  }
  return gaps;
}

/** Idle stretches: archive times far apart mean commits in between wait for the next switch. */
function findIdle(segments: ArchivedWal[], idleMinutes: number): PitrPlan['idle'] {
  const idle: PitrPlan['idle'] = [];
  const idleMs = idleMinutes * 60_000;
  const byTime = [...segments].sort((a, b) => a.mtimeMs - b.mtimeMs);
  for (let i = 1; i < byTime.length; i++) {
    const d = byTime[i]!.mtimeMs - byTime[i - 1]!.mtimeMs;
    if (d > idleMs) idle.push({ after: byTime[i - 1]!.name, before: byTime[i]!.name, minutes: Math.round(d / 60_000) });
  }
  return idle;
}

/** Where the windows' ends are read: the archive, pg_waldump when there is one, a scratch folder, the plan's warnings. */
interface EndReader {
  source: WalSource;
  pgWaldump: string | null;
  warnings: string[];
}

/** The windows, each base backup's chain of segments, and the segments found unusable while reading them. */
interface Windows {
  windows: TimelineWindow[];
  chains: Map<string, ArchivedWal[]>;
  /** Segments whose bytes failed their proof when read here (hash, checksum, decoding), with why. */
  unreadable: Map<string, string>;
}

type WindowEnd = { to: string | null; toBasis: TimelineWindow['toBasis'] };

/** Windows: contiguous segments from each base backup's start (following child timelines), to their last commit. */
async function recoverableWindows(
  bases: BaseBackup[],
  byTimeline: Map<number, ArchivedWal[]>,
  timelines: Timeline[],
  segBytes: number,
  r: EndReader,
): Promise<Windows> {
  const out: Windows = { windows: [], chains: new Map(), unreadable: new Map() };
  // Segment number → archived segment, per timeline: chains are walked in linear time.
  const bySegment = new Map<number, Map<number, ArchivedWal>>();
  for (const [tl, list] of byTimeline)
    bySegment.set(tl, new Map(list.map((s) => [segmentNumber(s.name, segBytes), s])));
  // Bases taken one after another share the end of their chain: its last commit is read once.
  const ends = new Map<string, WindowEnd>();
  const work = mkdtempSync(join(tmpdir(), 'lifeboat-plan-'));
  try {
    for (const b of bases) {
      const chain = chainFrom(b, bySegment, timelines, out.unreadable, segBytes);
      out.chains.set(b.setId, chain);
      // Again from the shorter chain when a segment of the look-back turns out unreadable.
      let end: WindowEnd | null = null;
      while (!end) end = await chainEnd(chain, ends, out.unreadable, work, r);
      const last = chain[chain.length - 1];
      out.windows.push({
        base: b.setId,
        timeline: last?.timeline ?? b.timeline,
        from: b.finishedAt,
        to: end.to && end.to > b.finishedAt ? end.to : b.finishedAt,
        toBasis: end.toBasis,
        lastSegment: last?.name ?? segmentName(b.timeline, Math.floor(parseLsn(b.stopLsn) / segBytes), segBytes),
        segments: chain.length,
      });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return out;
}

/** The contiguous segments from a base backup's start, taken over by a child timeline at its switch segment. */
function chainFrom(
  b: BaseBackup,
  bySegment: Map<number, Map<number, ArchivedWal>>,
  timelines: Timeline[],
  unreadable: Map<string, string>,
  segBytes: number,
): ArchivedWal[] {
  const chain: ArchivedWal[] = [];
  let t = b.timeline;
  let seg = segmentNumber(segmentName(t, Math.floor(parseLsn(b.startLsn) / segBytes), segBytes), segBytes);
  for (;;) {
    const found = bySegment.get(t)?.get(seg);
    // A child timeline that branched at or after this point takes over from its switch segment.
    const child = timelines.find(
      (x) => x.parent === t && x.switchLsn !== null && Math.floor(parseLsn(x.switchLsn) / segBytes) === seg,
    );
    if (child && bySegment.get(child.timeline)?.has(seg)) {
      t = child.timeline;
      continue;
    }
    // Replay cannot pass a segment known unusable: every chain ends before one.
    if (!found || unreadable.has(found.name)) return chain;
    chain.push(found);
    seg++;
  }
}

/**
 * The end of a chain: its last commit (pg_waldump), else the archive time of its last segment,
 * else the end of the base backup. Null when a segment of the look-back proved unusable: the
 * chain was cut before it, and its end is read again.
 */
async function chainEnd(
  chain: ArchivedWal[],
  ends: Map<string, WindowEnd>,
  unreadable: Map<string, string>,
  work: string,
  r: EndReader,
): Promise<WindowEnd | null> {
  const last = chain[chain.length - 1];
  if (!last) return { to: null, toBasis: 'end of the base backup' };
  const endKey = `${last.name}:${chain.length >= 4 ? '' : chain[0]!.name}`;
  const known = ends.get(endKey);
  if (known) return known;
  let end: WindowEnd = { to: new Date(last.mtimeMs).toISOString(), toBasis: 'archive time of the last segment' };
  if (r.pgWaldump) {
    const commit = await lastCommit(chain, unreadable, work, r.pgWaldump, r);
    if (commit === 'cut') return null;
    if (commit.commit) end = { to: commit.commit, toBasis: 'commit record (pg_waldump)' };
  }
  ends.set(endKey, end);
  return end;
}

/** Look back a few segments for the last commit (the newest ones may hold none); 'cut' when one proved unusable. */
async function lastCommit(
  chain: ArchivedWal[],
  unreadable: Map<string, string>,
  work: string,
  pgWaldump: string,
  r: EndReader,
): Promise<{ commit: string | null } | 'cut'> {
  for (let i = chain.length - 1; i >= Math.max(0, chain.length - 4); i--) {
    const w = chain[i]!;
    let got = false;
    if (!unreadable.has(w.name)) {
      try {
        got = await r.source.read(w, (bytes) => {
          writeFileSync(join(work, w.name), bytes);
          return true;
        });
      } catch (e) {
        const err = mapError(e);
        // Not proven damaged (no key here, the medium gone): the chain stands, only its end time is unknown.
        if (err.code !== 'CHECKSUM_MISMATCH') {
          r.warnings.push(`${w.name} cannot be read for its commit times: ${err.message}`);
          return { commit: null };
        }
        unreadable.set(w.name, err.message);
        r.warnings.push(`${w.name} cannot be used: ${err.message} Replay would stop before it.`);
      }
    }
    if (!got) {
      chain.length = i;
      return 'cut';
    }
    const commits = await waldumpCommits(pgWaldump, work, w.name);
    if (commits.length) return { commit: commits[commits.length - 1]! };
  }
  return { commit: null };
}

/** What planTarget reads of the plan. */
interface TargetInputs extends Windows {
  gaps: Gap[];
  timelines: Timeline[];
  idle: PitrPlan['idle'];
  archive: ArchivedWal[];
  byName: Map<string, Problem>;
  trust: WalTrust;
}

/** For a target time: the newest window that holds it (else the nearest before it), its chain, and every warning. */
function planTarget(targetTime: string, p: TargetInputs): NonNullable<PitrPlan['target']> {
  const t = Date.parse(targetTime);
  if (Number.isNaN(t))
    throw new LifeboatError('BAD_INPUT', `--target-time "${targetTime}" is not a date and time (ISO 8601).`);
  const time = new Date(t).toISOString();
  const tw: string[] = [];
  const candidates = p.windows.filter((w) => w.from <= time).sort((a, b) => b.from.localeCompare(a.from));
  const inside = candidates.find((w) => w.to !== null && w.to >= time) ?? null;
  const chosen = inside ?? candidates[0] ?? null;
  if (!chosen)
    tw.push(`the target is before the end of every base backup (the oldest ends at ${p.windows[0]?.from ?? 'never'})`);
  else if (!inside) tw.push(...shortOfTarget(chosen, p));
  if (chosen && p.timelines.length > 1)
    tw.push(
      `the chain crosses or sits beside other timelines: check that timeline ${chosen.timeline} is the history you want`,
    );
  for (const x of p.idle) tw.push(`idle stretch of ${x.minutes} minutes in the archive (${x.after} → ${x.before})`);
  // The window is one point, the end of its base backup: nothing after it to replay a time target
  // against. The restore stops where the base backup is consistent, which is that point.
  const stop = inside && inside.to === inside.from ? 'immediate' : 'time';
  if (stop === 'immediate')
    tw.push(
      `the target is the end of the base backup ${inside!.base}, with no WAL after it: the restore stops where that backup is consistent (recovery_target 'immediate'); nothing later is recovered`,
    );
  const chain = chosen ? (p.chains.get(chosen.base) ?? []) : [];
  // A restore fetches the chain and every history file: each one must pass the signature policy.
  const refused = [...p.archive.filter((w) => w.kind === 'history'), ...chain]
    .filter((w) => !usable(p.byName.get(w.name)?.state, p.trust))
    .map((w) => ({ name: w.name, state: p.byName.get(w.name)!.state, reason: p.byName.get(w.name)!.reason }));
  if (refused.length)
    tw.push(
      `${refused.length} WAL files the restore needs are refused by the signature policy (${refused
        .slice(0, 3)
        .map((r) => `${r.name}: ${r.state}`)
        .join('; ')}${refused.length > 3 ? '; …' : ''})`,
    );
  return {
    time,
    inside: inside !== null,
    base: chosen?.base ?? null,
    segments: chain.map((s) => s.name),
    warnings: tw,
    refused,
    stop,
  };
}

/** Why replay from the chosen window stops short of a target after it. */
function shortOfTarget(chosen: TimelineWindow, p: TargetInputs): string[] {
  const tw = [
    `the target is after the last recoverable transaction (${chosen.to ?? chosen.from}, ${chosen.toBasis}): replay would stop there, short of the target`,
  ];
  const bad = [...p.unreadable.keys()].find((n) => n > chosen.lastSegment);
  if (bad)
    tw.push(`${bad} after ${chosen.lastSegment} cannot be used (${p.unreadable.get(bad)}): replay stops before it`);
  const gap = p.gaps.find((g) => g.timeline === chosen.timeline && g.from > chosen.lastSegment);
  if (gap)
    tw.push(
      `WAL after ${chosen.lastSegment} is missing (${gap.from}…): the archive has newer segments, but not contiguous ones`,
    );
  return tw;
}

export interface WalChainCheck {
  system: string;
  origin: WalSource['origin'];
  files: number;
  bytes: number;
  corrupt: Array<{ name: string; reason: string }>;
  /** Files readable and hash-correct but not signed by a pinned key: `unsigned` or `untrusted-signer`. */
  unsigned: Array<{ name: string; state: WalSignatureState; reason: string }>;
  /** True when the operator accepted unsigned files (--allow-unsigned-wal): they do not fail the check. */
  unsignedAccepted: boolean;
  gaps: Gap[];
  windows: TimelineWindow[];
  ok: boolean;
}

/**
 * `lifeboat verify <medium> --wal <system>`: the WAL chain of a system — contiguity (gaps, from
 * the planner) and every archived file decoded and hash-checked, as wal-fetch would before
 * handing it to PostgreSQL.
 */
export async function verifyWalChain(
  medium: Medium,
  system: string,
  o: {
    identities: AgeIdentity[];
    trust: WalTrust;
    pgBinDir?: string;
    onFile?: (done: number, total: number, bytes: number) => void;
    signal?: AbortSignal;
    pgbrKeys?: PgbrKeys;
  },
): Promise<WalChainCheck> {
  const source = await pickWalSource(medium, system, { system, identities: o.identities, trust: o.trust }, o.pgbrKeys);
  const archive = await source.list();
  const plan = await planPitr(medium, system, {
    identities: o.identities,
    trust: o.trust,
    pgBinDir: o.pgBinDir,
    archive,
    source,
  });
  const corrupt: WalChainCheck['corrupt'] = [];
  const unsigned: WalChainCheck['unsigned'] = [];
  // Every file is decoded and hash-checked whatever its signature state, so an unsigned archive
  // still gets its bytes checked; the state is reported beside the verdict.
  const reader: WalReader = {
    system,
    identities: o.identities,
    trust: { trusted: o.trust.trusted, allowUnsigned: true },
  };
  const dups = new Set(plan.signatures.problems.filter((p) => p.state === 'duplicate').map((p) => p.name));
  let bytes = 0;
  let done = 0;
  for (const w of archive) {
    o.signal?.throwIfAborted();
    try {
      if (source.origin !== 'lifeboat') {
        // A foreign archive: decoded and checked against its own checksum (no Lifeboat signature to report).
        bytes += await source.read(w, (b) => b.length);
        o.onFile?.(++done, archive.length, bytes);
        continue;
      }
      const r = await withArchived(medium, reader, w, (plain, signature) => ({ bytes: plain.length, signature }));
      bytes += r.bytes;
      if (dups.has(w.name))
        corrupt.push({
          name: w.name,
          reason: `more than one stored file is named ${w.name} (${w.path} is one): a file was added to the archive`,
        });
      else if (r.signature.state === 'unsigned' || r.signature.state === 'untrusted-signer')
        unsigned.push({ name: w.name, state: r.signature.state, reason: r.signature.reason ?? r.signature.state });
    } catch (e) {
      // Out of reach is not a verdict on the file: the check stops instead of calling the rest corrupt.
      const err = unlessUnreachable(e, medium.location, w.name, `${done} of ${archive.length} WAL files were checked.`);
      corrupt.push({ name: w.name, reason: err.message });
    }
    o.onFile?.(++done, archive.length, bytes);
  }
  return {
    system,
    origin: source.origin,
    files: archive.length,
    bytes,
    corrupt,
    unsigned,
    unsignedAccepted: o.trust.allowUnsigned,
    gaps: plan.gaps,
    windows: plan.windows,
    ok:
      corrupt.length === 0 &&
      plan.gaps.length === 0 &&
      archive.length > 0 &&
      (o.trust.allowUnsigned || unsigned.length === 0),
  };
}
