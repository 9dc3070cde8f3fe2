import type { ForeignSet } from '../types';
import type { LocalStamp } from './time';
import { systemNameFrom } from '../names';

/** The plaintext a file of this role starts with: how the `.enc` key derivation is recognised, and what deep checks. */
export type InnerFormat = 'gzip' | 'sql' | 'pgdmp' | 'zstd';

export interface SeedName {
  kind: ForeignSet['kind'];
  /** The artifact's role (verify/consumers.ts): sql-dump, sql-dump-gz, sql-dump-zst, pg-dump, pg-globals-sql(-gz), files-tar-gz, config-tar-gz. */
  role: string;
  system: string;
  /** The database named in the file name, for dumps. */
  database: string | null;
  stamp: LocalStamp;
  /** The stamp as written in the name ("20261202_030000"), and whether it held seconds / a time at all. */
  stampText: string;
  precision: 'second' | 'minute' | 'day';
  encrypted: boolean;
  inner: InnerFormat;
  /** The name's extension without `.enc` (sql.gz, dump, tgz...): tells two backups of one time apart. */
  ext: string;
}

export interface UnknownBackup {
  /** What it looks like, for a ForeignFinding. */
  what: string;
  needs: string;
}

interface Ext {
  re: RegExp;
  ext: string;
  family: 'sql' | 'custom' | 'tar';
  suffix: '' | '-gz' | '-zst';
  inner: InnerFormat;
}

// Longest first: `.sql.gz` before `.sql`.
const EXTS: Ext[] = [
  { re: /\.sql\.gz$/i, ext: 'sql.gz', family: 'sql', suffix: '-gz', inner: 'gzip' },
  { re: /\.sql\.zst$/i, ext: 'sql.zst', family: 'sql', suffix: '-zst', inner: 'zstd' },
  { re: /\.sql$/i, ext: 'sql', family: 'sql', suffix: '', inner: 'sql' },
  { re: /\.(?:dump|pgdump)$/i, ext: 'dump', family: 'custom', suffix: '', inner: 'pgdmp' },
  { re: /\.tar\.gz$/i, ext: 'tar.gz', family: 'tar', suffix: '-gz', inner: 'gzip' },
  { re: /\.tgz$/i, ext: 'tgz', family: 'tar', suffix: '-gz', inner: 'gzip' },
];

/**
 * The time in a name: the last date of the name, optionally followed by a time. Accepted:
 * 20261202_030000, 2026-12-02_030000, 20261202-0300, 2026-12-02T03-00-00, 2026-12-02_03:00:00,
 * 20261202T0300, and a date alone (2026-12-02).
 */
const STAMP = /(?:^|[_.-])((\d{4})(-?)(\d{2})\3(\d{2})(?:[_T.-](\d{2})([-:]?)(\d{2})(?:\7(\d{2}))?)?)(?=$|[_.-])/g;

function lastStamp(stem: string): { m: RegExpExecArray; start: number; end: number } | null {
  let found: { m: RegExpExecArray; start: number; end: number } | null = null;
  STAMP.lastIndex = 0;
  for (let m = STAMP.exec(stem); m; m = STAMP.exec(stem)) {
    const start = m.index + (m[0].length - m[1]!.length);
    found = { m, start, end: start + m[1]!.length };
    // Overlapping candidates: restart just after this match's start.
    STAMP.lastIndex = start + 1;
  }
  return found;
}

const LEADING = new Set([
  'postgres',
  'postgresql',
  'pg',
  'pgsql',
  'pg_dump',
  'pgdump',
  'dump',
  'backup',
  'db',
  'database',
  'logical',
  'sql',
]);
const TRAILING = new Set(['backup', 'dump', 'full', 'daily', 'weekly', 'hourly', 'monthly']);
const GLOBALS = new Set(['globals', 'global', 'dumpall', 'pg_dumpall', 'pgdumpall', 'roles']);
const CONFIG = new Set(['config', 'configs', 'conf', 'configuration', 'etc', 'settings']);
const GENERIC_FOLDERS = new Set([
  ...LEADING,
  'backups',
  'dumps',
  'database',
  'databases',
  'var',
  'data',
  'files',
  'platform',
]);

function tokens(prefix: string): string[] {
  return prefix.split(/[_.-]+/).filter(Boolean);
}

/** The prefix's words with the generic ones dropped: `postgres_myproject_nexa` is myproject_nexa. */
function meaningful(prefix: string, drop: Set<string>): string {
  const t = tokens(prefix);
  let i = 0;
  let j = t.length;
  while (i < j && LEADING.has(t[i]!.toLowerCase())) i++;
  while (j > i && (TRAILING.has(t[j - 1]!.toLowerCase()) || drop.has(t[j - 1]!.toLowerCase()))) j--;
  const kept = t.slice(i, j).filter((w) => !drop.has(w.toLowerCase()));
  if (!kept.length) return '';
  // The original separators between the kept words (a database called my-shop stays my-shop).
  const first = prefix.indexOf(kept[0]!);
  const last = prefix.lastIndexOf(kept[kept.length - 1]!);
  return first >= 0 && last >= first ? prefix.slice(first, last + kept[kept.length - 1]!.length) : kept.join('_');
}

/** The nearest folder above the file whose name says something (not "backups", "postgres"...). */
function folderName(path: string): string {
  const dirs = path.split('/').slice(0, -1).reverse();
  return dirs.find((d) => !GENERIC_FOLDERS.has(d.toLowerCase())) ?? '';
}

function validStamp(m: RegExpExecArray): LocalStamp | null {
  const s: LocalStamp = {
    year: +m[2]!,
    month: +m[4]!,
    day: +m[5]!,
    hour: m[6] ? +m[6] : 0,
    minute: m[8] ? +m[8] : 0,
    second: m[9] ? +m[9] : 0,
  };
  if (s.year < 1990 || s.year > 2200 || s.month < 1 || s.month > 12 || s.day < 1 || s.day > 31) return null;
  if (s.hour > 23 || s.minute > 59 || s.second > 59) return null;
  return s;
}

/**
 * What a seed-script file name says: a backup (kind, role, system, local time), something that
 * looks like a backup but cannot be placed (an UnknownBackup, for a finding), or null (not ours).
 */
export function parseSeedName(path: string): SeedName | UnknownBackup | null {
  const name = path.split('/').pop()!;
  const encrypted = /\.enc$/i.test(name);
  const plainName = encrypted ? name.slice(0, -4) : name;
  const ext = EXTS.find((e) => e.re.test(plainName));
  if (!ext) {
    // An encrypted file of no seed kind is left to discovery's sniffing of unclaimed encrypted files
    // (foreign/discover.ts), which names what its header says it is (OpenSSL enc, age, OpenPGP).
    if (encrypted) return null;
    if (/\.sql\.(?:bz2|xz|lz4|gz\.gpg|gpg|gz\.age|age)$/i.test(name))
      return {
        what: `${path} looks like a backup in a format Lifeboat does not read`,
        needs: 'a conversion to .sql.gz or .dump',
      };
    return null;
  }
  const stem = plainName.slice(0, plainName.length - ext.ext.length - 1);
  const at = lastStamp(stem);
  const stamp = at ? validStamp(at.m) : null;
  if (!at || !stamp) {
    return {
      what: `${path} looks like a ${ext.family === 'tar' ? 'tarball' : 'database dump'} but its name carries no date and time`,
      needs:
        'a name with its time (e.g. postgres_<db>_YYYYMMDD_HHMMSS.sql.gz; docs/foreign-formats.md lists the accepted forms)',
    };
  }
  const prefix = stem.slice(0, at.start).replace(/[_.-]+$/, '');
  const words = tokens(prefix).map((w) => w.toLowerCase());
  const precision = at.m[9] ? 'second' : at.m[6] ? 'minute' : 'day';
  const base = { stamp, stampText: at.m[1]!, precision, encrypted, inner: ext.inner, ext: ext.ext } as const;
  if (ext.family === 'tar') {
    if (words.some((w) => CONFIG.has(w)))
      return { ...base, kind: 'config', role: 'config-tar-gz', system: 'config', database: null };
    const what = meaningful(prefix, new Set(['files', 'file']));
    return { ...base, kind: 'files', role: 'files-tar-gz', system: systemNameFrom(what || 'files'), database: null };
  }
  if (ext.family === 'sql' && words.some((w) => GLOBALS.has(w))) {
    const what = meaningful(prefix, GLOBALS);
    return {
      ...base,
      kind: 'config',
      role: `pg-globals-sql${ext.suffix}`,
      system: systemNameFrom(what || 'postgres'),
      database: null,
    };
  }
  const db = meaningful(prefix, new Set());
  const system = db || folderName(path) || 'postgres';
  return {
    ...base,
    kind: 'pg-logical',
    role: ext.family === 'custom' ? 'pg-dump' : `sql-dump${ext.suffix}`,
    system: systemNameFrom(system),
    database: db || null,
  };
}

export function isSeedName(x: SeedName | UnknownBackup | null): x is SeedName {
  return x !== null && 'role' in x;
}

/** `manifest_<stamp>.json` (and backup_manifest_…, manifest-…): the seed scripts' metadata beside their files. */
export const SEED_MANIFEST = /^(?:[a-z0-9]+[_-])?manifest[_-](.+)\.json$/i;
