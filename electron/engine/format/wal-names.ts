/**
 * PostgreSQL WAL file names: segments `TTTTTTTTXXXXXXXXYYYYYYYY` (timeline, log, segment),
 * timeline history files `TTTTTTTT.history`, backup history files `…YYYYYYYY.XXXXXXXX.backup`,
 * and `.partial` segments left at a promotion.
 */
export const SEGMENT = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/;
export const HISTORY = /^([0-9A-F]{8})\.history$/;
export const BACKUP_FILE = /^([0-9A-F]{8})[0-9A-F]{16}\.[0-9A-F]{8}\.backup$/;
export const PARTIAL = /^([0-9A-F]{8})[0-9A-F]{16}\.partial$/;

/** PostgreSQL's default WAL segment size (the manifest of a base backup records the real one). */
export const WAL_SEGMENT_DEFAULT = 16 * 1024 * 1024;

export type WalFileKind = 'segment' | 'history' | 'backup' | 'partial';

export function walKind(name: string): WalFileKind | null {
  if (SEGMENT.test(name)) return 'segment';
  if (HISTORY.test(name)) return 'history';
  if (BACKUP_FILE.test(name)) return 'backup';
  if (PARTIAL.test(name)) return 'partial';
  return null;
}

export function timelineOf(name: string): number {
  return Number.parseInt(name.slice(0, 8), 16);
}

/** Segments per "log" file number for a segment size (256 for 16 MiB). */
export function segmentsPerLog(segmentBytes: number): number {
  return 0x1_0000_0000 / segmentBytes;
}

/** The absolute segment number of a segment name (log × per-log + seg). */
export function segmentNumber(name: string, segmentBytes: number): number {
  const m = SEGMENT.exec(name.slice(0, 24));
  if (!m) throw new Error(`not a WAL segment name: ${name}`);
  return Number.parseInt(m[2]!, 16) * segmentsPerLog(segmentBytes) + Number.parseInt(m[3]!, 16);
}

export function segmentName(timeline: number, segno: number, segmentBytes: number): string {
  const per = segmentsPerLog(segmentBytes);
  const hex = (n: number): string => n.toString(16).toUpperCase().padStart(8, '0');
  return `${hex(timeline)}${hex(Math.floor(segno / per))}${hex(segno % per)}`;
}

/** "0/2000028" → a number of bytes (safe up to 2^53). */
export function parseLsn(lsn: string): number {
  const m = /^([0-9A-Fa-f]+)\/([0-9A-Fa-f]+)$/.exec(lsn.trim());
  if (!m) throw new Error(`not an LSN: ${lsn}`);
  return Number.parseInt(m[1]!, 16) * 0x1_0000_0000 + Number.parseInt(m[2]!, 16);
}

export function formatLsn(n: number): string {
  return `${Math.floor(n / 0x1_0000_0000)
    .toString(16)
    .toUpperCase()}/${(n % 0x1_0000_0000).toString(16).toUpperCase()}`;
}

export interface HistoryEntry {
  /** The parent timeline, and where the new timeline branched off it. */
  parent: number;
  switchLsn: number;
  reason: string;
}

/** A timeline history file: one line per ancestor, `parentTLI  switchpoint  reason`. */
export function parseHistory(text: string): HistoryEntry[] {
  const out: HistoryEntry[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const m = /^(\d+)\s+([0-9A-Fa-f]+\/[0-9A-Fa-f]+)\s*(.*)$/.exec(t);
    if (m) out.push({ parent: Number(m[1]), switchLsn: parseLsn(m[2]!), reason: m[3]!.trim() });
  }
  return out;
}

/** One stored file of the WAL archive: `wal/<system>/<timeline>/<file name>.<sha256 of the plaintext>.zst[.age]`. */
export interface ArchivedWal {
  name: string;
  kind: WalFileKind;
  timeline: number;
  sha256: string;
  encodings: Array<'zstd' | 'age'>;
  /** Relative to the medium root. */
  path: string;
  bytes: number;
  mtimeMs: number;
}

const STORED = /^(.+)\.([0-9a-f]{64})\.zst(\.age)?$/;

export function walDir(system: string, timeline: number): string {
  return `wal/${system}/${timeline.toString(16).toUpperCase().padStart(8, '0')}`;
}

/** An archive file's facts from its path alone (name, kind, timeline, hash, encodings); null for anything else. */
export function parseStored(path: string, bytes: number, mtimeMs: number): ArchivedWal | null {
  const m = STORED.exec(path.slice(path.lastIndexOf('/') + 1));
  if (!m) return null;
  const kind = walKind(m[1]!);
  if (!kind) return null;
  return {
    name: m[1]!,
    kind,
    timeline: timelineOf(m[1]!),
    sha256: m[2]!,
    encodings: m[3] ? ['zstd', 'age'] : ['zstd'],
    path,
    bytes,
    mtimeMs,
  };
}
