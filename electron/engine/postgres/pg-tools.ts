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
    if (!preferredDir && !found.some((t) => t.major === serverMajor)) found.push(...(await scanDirs(name, (process.env.PATH ?? '').split(delimiter), seen)));
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
    throw new LifeboatError('TOOL_VERSION_MISMATCH', `${name} ${best.major} cannot work with a PostgreSQL ${serverMajor} server (server version mismatch).`, {
      hint: `Install the PostgreSQL ${serverMajor} client tools or pass --pg-bin <dir> pointing at them (found: ${found.map((t) => t.path).join(', ')}).`,
    });
  }
  return pick;
}

/** The PostgreSQL client tool to use against a server of `serverMajor` (see pickPgTool). */
export function pgToolFor(name: string, serverMajor: number, preferredDir?: string): Promise<PgTool> {
  return findPgTool(name, preferredDir)(serverMajor);
}
