import { execFile } from 'node:child_process';
import { accessSync, constants, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { ToolStatus } from '../../../shared/domain/app';

/** An external tool Lifeboat drives, and why. */
export interface ToolSpec {
  name: string;
  purpose: string;
  /** A PostgreSQL tool: looked for in the versioned install directories too. */
  pg: boolean;
  /** Other names that do the same (mysql for mariadb), tried in order after `name`. */
  alternatives?: string[];
  /** The set kinds that need it (absent: every install needs it): missing, it is no problem for anything else. */
  only?: string;
  /** Folders looked in before PATH (a server binary in /usr/sbin; LIFEBOAT_REDIS_BIN). */
  preferDirs?: () => string[];
  /** How it tells its version; null for a tool that has no such flag (redis-check-aof). */
  versionArgs?: string[] | null;
}

const redisDirs = (): string[] => (process.env.LIFEBOAT_REDIS_BIN ? [process.env.LIFEBOAT_REDIS_BIN] : []);

export const TOOLS: ReadonlyArray<ToolSpec> = [
  { name: 'pg_dump', purpose: 'logical PostgreSQL backups', pg: true },
  { name: 'pg_restore', purpose: 'logical restores and dump checks', pg: true },
  { name: 'pg_basebackup', purpose: 'base backups for point-in-time recovery', pg: true },
  { name: 'initdb', purpose: 'scratch PostgreSQL for restore tests', pg: true },
  { name: 'pg_ctl', purpose: 'starting scratch and restored PostgreSQL', pg: true },
  { name: 'pg_waldump', purpose: 'reading commit times from WAL', pg: true },
  { name: 'tar', purpose: 'restoring file sets by hand', pg: false },
  { name: 'zstd', purpose: 'restoring by hand', pg: false },
  { name: 'age', purpose: 'restoring encrypted sets by hand', pg: false },
  { name: 'openssl', purpose: 'checking signatures by hand', pg: false, versionArgs: ['version'] },
  // Needed only for the set kinds that use them (electron/engine/redis, electron/engine/mysql).
  {
    name: 'redis-server',
    purpose: 'scratch Redis for restore-level checks and drills',
    pg: false,
    only: 'redis sets',
    preferDirs: redisDirs,
  },
  {
    name: 'redis-check-rdb',
    purpose: "deep verification of a redis set's RDB",
    pg: false,
    only: 'redis sets',
    preferDirs: redisDirs,
  },
  {
    name: 'redis-check-aof',
    purpose: "deep verification of a redis set's AOF directory",
    pg: false,
    only: 'redis sets',
    preferDirs: redisDirs,
    versionArgs: null,
  },
  {
    name: 'mariadb',
    alternatives: ['mysql'],
    purpose: 'MySQL/MariaDB restores (the client replays the dump)',
    pg: false,
    only: 'mysql sets',
  },
  {
    name: 'mariadb-dump',
    alternatives: ['mysqldump'],
    purpose: 'MySQL/MariaDB backups',
    pg: false,
    only: 'mysql sets',
  },
  {
    // Not MySQL's mysqld: the scratch server is MariaDB's (mysql/scratch-server.ts).
    name: 'mariadbd',
    purpose: 'scratch MariaDB for mysql drills (with mariadb-install-db)',
    pg: false,
    only: 'mysql sets',
    preferDirs: () => ['/usr/sbin', '/usr/libexec'],
  },
];

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** PostgreSQL bin directories in the usual places, newest major first. */
export function candidatePgBinDirs(): string[] {
  const dirs: string[] = [];
  const scan = (root: string, toBin: (entry: string) => string): void => {
    try {
      const entries = readdirSync(root)
        .filter((e) => /\d/.test(e))
        .sort((a, b) => Number.parseFloat(b.replace(/[^\d.]/g, '')) - Number.parseFloat(a.replace(/[^\d.]/g, '')));
      for (const e of entries) dirs.push(toBin(e));
    } catch {
      // not on this system
    }
  };
  scan('/usr/lib/postgresql', (e) => join('/usr/lib/postgresql', e, 'bin')); // Debian, Ubuntu
  scan('/usr', (e) => (e.startsWith('pgsql-') ? join('/usr', e, 'bin') : '')); // RHEL (PGDG)
  scan('/opt/homebrew/opt', (e) => (e.startsWith('postgresql@') ? join('/opt/homebrew/opt', e, 'bin') : ''));
  scan('/Applications/Postgres.app/Contents/Versions', (e) =>
    join('/Applications/Postgres.app/Contents/Versions', e, 'bin'),
  );
  return dirs.filter((d) => d !== '');
}

/**
 * Find an executable: the configured directory first, then (for PostgreSQL tools) the versioned
 * install directories, then PATH.
 */
export function findExecutable(name: string, options: { preferDirs?: string[]; pg?: boolean } = {}): string | null {
  const exe = process.platform === 'win32' ? `${name}.exe` : name;
  const dirs = [
    ...(options.preferDirs ?? []).filter((d) => d !== ''),
    ...(options.pg ? candidatePgBinDirs() : []),
    ...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== ''),
  ];
  for (const dir of dirs) {
    const candidate = join(dir, exe);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

/** First line of `<tool> --version` (or `version` for age), or null when it does not answer. */
export function toolVersion(path: string, args: string[] = ['--version']): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(path, args, { timeout: 5000, encoding: 'utf8' }, (error, stdout, stderr) => {
      const text = `${stdout}${stderr}`.trim().split('\n')[0]?.trim() ?? '';
      resolve(error && text === '' ? null : text || null);
    });
  });
}

export async function toolStatus(pgBinDir: string): Promise<ToolStatus[]> {
  return Promise.all(
    TOOLS.map(async (t): Promise<ToolStatus> => {
      const names = [t.name, ...(t.alternatives ?? [])];
      const preferDirs = [pgBinDir, ...(t.preferDirs?.() ?? [])];
      let found: { name: string; path: string } | null = null;
      for (const name of names) {
        const path = findExecutable(name, { preferDirs, pg: t.pg });
        if (path) {
          found = { name, path };
          break;
        }
      }
      const only = t.only ?? null;
      if (!found) {
        return {
          name: names.join(' | '),
          purpose: t.purpose,
          path: null,
          version: null,
          only,
          problem: `${names.join(' or ')} was not found on PATH${t.pg ? ' or in the PostgreSQL install directories' : ''}${only ? ` (needed only for ${only})` : ''}.`,
        };
      }
      const version = t.versionArgs === null ? 'installed' : await toolVersion(found.path, t.versionArgs);
      return {
        name: found.name,
        purpose: t.purpose,
        path: found.path,
        version,
        only,
        problem: version ? null : `${found.path} did not report a version.`,
      };
    }),
  );
}
