import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { LifeboatError } from '../errors';
import { candidatePgBinDirs } from '../tools/tools';

export interface PgTool {
  path: string;
  major: number;
  version: string;
}

function versionOf(path: string): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(path, ['--version'], { timeout: 5000, encoding: 'utf8' }, (e, out) => resolve(e ? null : out.trim()));
  });
}

/**
 * The PostgreSQL client tool to use against a server of `serverMajor`: in the given dir only,
 * or else the versioned install dirs, then PATH. The tool's major must be at least the
 * server's (pg_dump refuses newer servers); the same major is preferred.
 */
export async function pgToolFor(name: string, serverMajor: number, preferredDir?: string): Promise<PgTool> {
  // An explicitly given directory is the only place looked at: the operator chose it.
  const dirs = preferredDir ? [preferredDir] : [...candidatePgBinDirs(), ...(process.env.PATH ?? '').split(delimiter)];
  const found: PgTool[] = [];
  const seen = new Set<string>();
  for (const dir of dirs) {
    if (!dir) continue;
    const path = join(dir, process.platform === 'win32' ? `${name}.exe` : name);
    if (seen.has(path)) continue;
    seen.add(path);
    try {
      accessSync(path, constants.X_OK);
    } catch {
      continue;
    }
    const version = await versionOf(path);
    const m = version ? /\s(\d+)(?:\.(\d+))?/.exec(version) : null;
    if (version && m) found.push({ path, version, major: Number(m[1]) });
    // The first tool of the server's own major wins; no need to ask the others.
    if (found.at(-1)?.major === serverMajor) break;
  }
  if (found.length === 0) {
    throw new LifeboatError('TOOL_MISSING', `${name} was not found${preferredDir ? ` in ${preferredDir}` : ''}.`, {
      hint: 'Install the PostgreSQL client tools (Debian: postgresql-client) or pass --pg-bin <dir>.',
    });
  }
  const exact = found.find((t) => t.major === serverMajor);
  const newer = found.filter((t) => t.major > serverMajor).sort((a, b) => a.major - b.major)[0];
  const pick = exact ?? newer;
  if (!pick) {
    const best = found.sort((a, b) => b.major - a.major)[0]!;
    throw new LifeboatError('TOOL_VERSION_MISMATCH', `${name} ${best.major} cannot work with a PostgreSQL ${serverMajor} server (server version mismatch).`, {
      hint: `Install the PostgreSQL ${serverMajor} client tools or pass --pg-bin <dir> pointing at them (found: ${found.map((t) => t.path).join(', ')}).`,
    });
  }
  return pick;
}
