import { LifeboatError } from '../errors';
import { JSON_LIMITS, jsonDepth } from '../format/check';

export type { ForeignArtifact, ForeignSet } from '../foreign/types';
import type { ForeignSet } from '../foreign/types';

// ---- seed-script folders: electron/engine/foreign/seed/ ----------------------------------------

import { systemNameFrom } from '../foreign/seed/names';
export { systemNameFrom };

// ---- pgBackRest ------------------------------------------------------------------------------

/** pgBackRest's INI: `[section]` then `key=value`, values mostly JSON. */
export function parseIni(text: string): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  let current: Map<string, string> | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = out.get(section[1]!) ?? new Map<string, string>();
      out.set(section[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0 || !current) throw new LifeboatError('FORMAT_INVALID', `Not an INI line: ${line.slice(0, 80)}`);
    current.set(line.slice(0, eq).replace(/^"|"$/g, ''), line.slice(eq + 1));
  }
  return out;
}

function json(value: string | undefined): unknown {
  if (value === undefined) return undefined;
  // A value nested past the limit stays text: the facts are stored with JSON.stringify, which recurses.
  if (jsonDepth(Buffer.from(value, 'utf8'), JSON_LIMITS.maxDepth) > JSON_LIMITS.maxDepth) return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

interface BackrestBackupInfo {
  'backup-type'?: string;
  'backup-timestamp-start'?: number;
  'backup-timestamp-stop'?: number;
  'backup-archive-start'?: string;
  'backup-archive-stop'?: string;
  'backup-info-size'?: number;
  'backup-info-repo-size'?: number;
  'backup-prior'?: string;
  'backrest-version'?: string;
}

/** The sets of one stanza from `backup/<stanza>/backup.info` (+ each backup.manifest when given). */
export function pgbackrestSets(stanza: string, backupInfo: string, manifests: Map<string, string>, walRanges: WalRange[]): ForeignSet[] {
  const ini = parseIni(backupInfo);
  const current = ini.get('backup:current');
  if (!current) throw new LifeboatError('FORMAT_INVALID', `backup.info of ${stanza} has no [backup:current] section.`);
  const db = ini.get('db');
  const sets: ForeignSet[] = [];
  for (const [label, value] of current) {
    const info = json(value) as BackrestBackupInfo;
    if (typeof info !== 'object' || info === null) throw new LifeboatError('FORMAT_INVALID', `backup.info entry ${label} is not JSON.`);
    const manifestText = manifests.get(label);
    const facts: Record<string, unknown> = {
      label,
      type: info['backup-type'] ?? null,
      wal_start: info['backup-archive-start'] ?? null,
      wal_stop: info['backup-archive-stop'] ?? null,
      size_bytes: info['backup-info-size'] ?? null,
      repo_size_bytes: info['backup-info-repo-size'] ?? null,
      pg_version: json(db?.get('db-version')) ?? null,
      system_identifier: json(db?.get('db-system-id')) ?? null,
      pgbackrest_version: info['backrest-version'] ?? null,
      wal_ranges: walRanges,
    };
    if (manifestText) {
      const m = parseIni(manifestText).get('backup');
      facts.lsn_start = json(m?.get('backup-lsn-start')) ?? null;
      facts.lsn_stop = json(m?.get('backup-lsn-stop')) ?? null;
    }
    const start = info['backup-timestamp-start'];
    const stop = info['backup-timestamp-stop'];
    sets.push({
      system: systemNameFrom(stanza),
      setId: label,
      kind: 'pg-base',
      origin: 'pgbackrest',
      createdAt: new Date((start ?? 0) * 1000).toISOString(),
      finishedAt: stop ? new Date(stop * 1000).toISOString() : null,
      parentId: info['backup-prior'] ?? null,
      setPath: `backup/${stanza}/${label}`,
      artifacts: manifestText ? [{ path: `backup/${stanza}/${label}/backup.manifest`, role: 'pgbackrest-manifest', bytes: Buffer.byteLength(manifestText) }] : [],
      facts,
    });
  }
  return sets;
}

export interface WalRange {
  timeline: string;
  first: string;
  last: string;
  segments: number;
}

/** Contiguous ranges of WAL segment names (24 hex digits), per timeline, 16 MiB segments. */
export function walRanges(segmentNames: string[]): WalRange[] {
  const byTimeline = new Map<string, bigint[]>();
  for (const name of segmentNames) {
    const m = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})/.exec(name);
    if (!m) continue;
    const n = BigInt(`0x${m[2]}`) * 256n + BigInt(`0x${m[3]}`);
    const list = byTimeline.get(m[1]!) ?? [];
    list.push(n);
    byTimeline.set(m[1]!, list);
  }
  const toName = (tl: string, n: bigint): string => `${tl}${(n / 256n).toString(16).toUpperCase().padStart(8, '0')}${(n % 256n).toString(16).toUpperCase().padStart(8, '0')}`;
  const out: WalRange[] = [];
  for (const [tl, list] of [...byTimeline.entries()].sort()) {
    list.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    let start = list[0]!;
    let prev = start;
    let count = 1;
    for (const n of list.slice(1)) {
      if (n === prev) continue;
      if (n !== prev + 1n) {
        out.push({ timeline: tl, first: toName(tl, start), last: toName(tl, prev), segments: count });
        start = n;
        count = 0;
      }
      prev = n;
      count++;
    }
    out.push({ timeline: tl, first: toName(tl, start), last: toName(tl, prev), segments: count });
  }
  return out;
}
