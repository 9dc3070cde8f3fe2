import { realpathSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { LifeboatError } from '../errors';
import { candidatePgBinDirs, isExecutable, toolVersion } from '../tools/tools';

export interface PgTool {
  path: string;
  major: number;
  version: string;
}

/** The copies of `name` in `dirs` (in that order), each asked its version, all in parallel. */
async function scanDirs(name: string, dirs: string[], skip: Set<string>): Promise<PgTool[]> {
  const paths: string[] = [];
  for (const dir of dirs) {
    if (!dir) continue;
    const path = join(dir, process.platform === 'win32' ? `${name}.exe` : name);
    if (!isExecutable(path)) continue;
    // /bin and /usr/bin are one directory on merged-/usr systems: each file is asked once.
    const real = realpathSync(path);
    if (skip.has(real)) continue;
    skip.add(real);
    paths.push(path);
  }
  const versions = await Promise.all(paths.map(async (path) => ({ path, version: await toolVersion(path) })));
  const found: PgTool[] = [];
  for (const { path, version } of versions) {
    const m = version ? /\s(\d+)(?:\.(\d+))?/.exec(version) : null;
    if (version && m) found.push({ path, version, major: Number(m[1]) });
  }
  return found;
}

/**
 * Start looking for a PostgreSQL client tool before the server's major is known (so it runs
 * while the server is asked), and pick with it later: in the given dir only (the operator
 * chose it), or else the versioned install dirs — asked at once — and, only when none of those
 * has the server's own major, PATH (where Debian's /usr/bin copies are a Perl wrapper that
 * costs a process each).
 */
export function findPgTool(name: string, preferredDir?: string): (serverMajor: number) => Promise<PgTool> {
  const seen = new Set<string>();
  const early = scanDirs(name, preferredDir ? [preferredDir] : candidatePgBinDirs(), seen);
  early.catch(() => undefined);
  return async (serverMajor) => {
    const found = await early;
    if (!preferredDir && !found.some((t) => t.major === serverMajor))
      found.push(...(await scanDirs(name, (process.env.PATH ?? '').split(delimiter), seen)));
    return pickPgTool(name, found, serverMajor, preferredDir);
  };
}

/**
 * The tool to use against a server of `serverMajor`, from `found` (in search order): the first
 * of the server's own major, else the oldest newer one (pg_dump refuses newer servers).
 */
export function pickPgTool(name: string, found: PgTool[], serverMajor: number, preferredDir?: string): PgTool {
  if (found.length === 0) {
    throw new LifeboatError('TOOL_MISSING', `${name} was not found${preferredDir ? ` in ${preferredDir}` : ''}.`, {
      hint: 'Install the PostgreSQL client tools (Debian: postgresql-client) or pass --pg-bin <dir>.',
    });
  }
  const exact = found.find((t) => t.major === serverMajor);
  const newer = found.filter((t) => t.major > serverMajor).sort((a, b) => a.major - b.major)[0];
  const pick = exact ?? newer;
  if (!pick) {
    const best = [...found].sort((a, b) => b.major - a.major)[0]!;
    throw new LifeboatError(
      'TOOL_VERSION_MISMATCH',
      `${name} ${best.major} cannot work with a PostgreSQL ${serverMajor} server (server version mismatch).`,
      {
        hint: `Install the PostgreSQL ${serverMajor} client tools or pass --pg-bin <dir> pointing at them (found: ${found.map((t) => t.path).join(', ')}).`,
      },
    );
  }
  return pick;
}

/** Every copy of a PostgreSQL client tool found here (the given dir, the versioned install dirs, PATH), newest major first. */
export async function installedPgTools(name: string, preferredDir?: string): Promise<PgTool[]> {
  const dirs = [
    ...(preferredDir ? [preferredDir] : []),
    ...candidatePgBinDirs(),
    ...(process.env.PATH ?? '').split(delimiter),
  ];
  const found = await scanDirs(name, dirs, new Set());
  // Stable: among copies of one major, the search order (the operator's dir first) is kept.
  return found.sort((a, b) => b.major - a.major);
}

/**
 * The PostgreSQL major of the pg_dump that wrote a set's dump, from the manifest's `source`:
 * its `tool` ("pg_dump (PostgreSQL) 17.2"), else the server's version (pg_dump is never older
 * than the server it dumps, so that is a lower bound). Null when the manifest says neither.
 */
export function dumpToolMajor(source: unknown): number | null {
  if (!source || typeof source !== 'object') return null;
  const s = source as Record<string, unknown>;
  const m =
    typeof s.tool === 'string' ? (/\bPostgreSQL\)?\s+(\d+)/.exec(s.tool) ?? /\s(\d+)(?:\.\d+)?/.exec(s.tool)) : null;
  if (m) return Number(m[1]);
  if (typeof s.server_version_num === 'number' && s.server_version_num >= 100000)
    return Math.floor(s.server_version_num / 10000);
  return null;
}

/**
 * Which pg_restore reads a dump written by pg_dump `dumpMajor`: the newest installed (a
 * pg_restore reads every older archive format), if it is at least as new as the dump; else
 * what it would take, `{ needs }`. Null dumpMajor (unknown): the newest.
 */
export function pickPgRestore(found: PgTool[], dumpMajor: number | null): PgTool | { needs: number } | null {
  const newest = [...found].sort((a, b) => b.major - a.major)[0];
  if (!newest) return null;
  if (dumpMajor !== null && newest.major < dumpMajor) return { needs: dumpMajor };
  return newest;
}

/** "needs pg_restore >= N", the detail of a not-checked outcome (shared wording for verify and restores). */
export const needsPgRestore = (major: number | string): string => `needs pg_restore >= ${major}`;

/**
 * The deep check's pg_restore for a set (see consumerFor): a path, `{ needs }` when every installed
 * one is older than the dump, or null when none is installed.
 */
export function pgRestoreForDump(found: PgTool[], source: unknown): string | { needs: string } | null {
  const major = dumpToolMajor(source);
  const pick = pickPgRestore(found, major);
  if (!pick) return null;
  if ('needs' in pick)
    return {
      needs: `${needsPgRestore(pick.needs)} (the dump was written by pg_dump ${major}; installed: ${found.map((t) => t.major).join(', ')})`,
    };
  return pick.path;
}

/**
 * The pg_restore for a restore of a dump by pg_dump `dumpMajor` — chosen by the dump's version,
 * never by the target server's (a newer pg_restore restores into an older server).
 */
export async function pgRestoreFor(dumpMajor: number | null, preferredDir?: string): Promise<PgTool> {
  const found = await installedPgTools('pg_restore', preferredDir);
  const pick = pickPgRestore(found, dumpMajor);
  if (!pick) {
    throw new LifeboatError('TOOL_MISSING', `pg_restore was not found${preferredDir ? ` in ${preferredDir}` : ''}.`, {
      hint: 'Install the PostgreSQL client tools (Debian: postgresql-client) or pass --pg-bin <dir>.',
    });
  }
  if ('needs' in pick) {
    throw new LifeboatError(
      'TOOL_VERSION_MISMATCH',
      `The dump was written by pg_dump ${pick.needs}: it ${needsPgRestore(pick.needs)}, and the newest here is ${found[0]!.major}.`,
      {
        hint: `Install the PostgreSQL ${pick.needs} client tools (or newer) or pass --pg-bin <dir> pointing at them (found: ${found.map((t) => t.path).join(', ')}).`,
      },
    );
  }
  return pick;
}

/**
 * The archive format of a custom-format dump (its header's version bytes) → the first PostgreSQL
 * major whose pg_restore reads it (src/bin/pg_dump/pg_backup_archiver.h: K_VERS_1_14 is 12,
 * 1_15 is 16, 1_16 is 17).
 */
const ARCHIVE_FORMAT_MAJOR: Record<string, number> = { '1.14': 12, '1.15': 16, '1.16': 17 };

/**
 * pg_restore's complaint about a dump too new for it ("unsupported version (1.16) in file
 * header") as a not-checked detail, or null for any other failure (a real fault of the dump).
 */
export function newerArchiveNeeded(stderr: string): string | null {
  const m = /unsupported version \((\d+\.\d+)\) in file header/.exec(stderr);
  if (!m) return null;
  const major = ARCHIVE_FORMAT_MAJOR[m[1]!];
  return `${major ? needsPgRestore(major) : 'needs a newer pg_restore'} (the dump's archive format ${m[1]} is newer than the installed pg_restore reads)`;
}

/** For `doctor`: every installed pg_dump and pg_restore, newest first (which dumps can be read here, and by which tool). */
export async function pgClientVersions(
  preferredDir?: string,
): Promise<Array<{ name: string; major: number; version: string; path: string }>> {
  const [dumps, restores] = await Promise.all([
    installedPgTools('pg_dump', preferredDir),
    installedPgTools('pg_restore', preferredDir),
  ]);
  return [...dumps.map((t) => ({ name: 'pg_dump', ...t })), ...restores.map((t) => ({ name: 'pg_restore', ...t }))];
}
