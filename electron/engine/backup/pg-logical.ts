import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobContext } from '../jobs/job-manager';
import { parsePgUrl, pgToolEnv, serverFacts } from '../postgres/connection';
import { findPgTool } from '../postgres/pg-tools';
import { spawnTool, ToolSource } from '../process/child';
import { ExcludeMatcher } from './glob';
import { writeSet, type SetPlan, type WrittenSet } from './set-writer';
import { tarSource, walkTrees, type WalkedEntry } from './tree';
import type { DumpMember } from '../restore/dump-members';
import { LifeboatError } from '../errors';

export interface PgBackupInput extends Omit<SetPlan, 'kind' | 'parent' | 'startedAt'> {
  dbUrl: string;
  /** From the keychain or a file; URL passwords and PGPASSWORD/.pgpass work as libpq does. */
  password?: string | null;
  format: 'custom' | 'directory';
  jobs: number;
  pgBinDir?: string;
}

/**
 * A logical backup: pg_dump (custom format, or directory format with parallel jobs) streamed
 * through zstd and age into a signed set. The dump is uncompressed by pg_dump (-Z0) so zstd
 * does all the compressing, faster and smaller.
 */
export async function backupPgLogical(input: PgBackupInput, ctx: JobContext): Promise<WrittenSet> {
  ctx.step('connecting');
  const target = parsePgUrl(input.dbUrl, input.password ?? null);
  // The tool's copies are asked their versions while the server is asked its own.
  const pickTool = findPgTool('pg_dump', input.pgBinDir);
  const facts = await serverFacts(target);
  const pgDump = await pickTool(facts.major);
  ctx.log('info', `PostgreSQL ${facts.major} (${facts.database}, ${facts.sizeBytes} bytes); using ${pgDump.path}`);
  const env = pgToolEnv(target);
  const startedAt = new Date();
  const source = {
    tool: pgDump.version,
    server_version: facts.version,
    server_version_num: facts.versionNum,
    database: facts.database,
    database_size_bytes: facts.sizeBytes,
    host: target.host,
    port: target.port,
    system_identifier: facts.systemIdentifier,
    dump_format: input.format,
    dump_started_at: startedAt.toISOString(),
  };
  const plan: SetPlan = { ...input, kind: 'pg-logical', parent: null, startedAt };
  return writeSet(plan, ctx, async (add) => {
    const onPlainBytes = (n: number): void => ctx.progress({ bytesDone: n });
    if (input.format === 'custom') {
      ctx.step('dumping');
      const dump = ToolSource.of(
        pgDump.path,
        ['--format=custom', '--compress=0', '--no-password', `--dbname=${target.url}`],
        { env, signal: ctx.signal, what: 'pg_dump' },
      );
      const stored = add({ name: 'db.dump', role: 'pg-dump', source: dump, onPlainBytes });
      // pg_dump may fail after writing part of its output: its exit status decides.
      // A storage failure (full disk) comes first: it is what killed pg_dump's pipe.
      const [written, exit] = await Promise.allSettled([stored, dump.exited()]);
      if (written.status === 'rejected') throw written.reason;
      if (exit.status === 'rejected') throw exit.reason;
      return { source, warnings: [] };
    }
    const work = mkdtempSync(join(process.env.LIFEBOAT_TMPDIR ?? tmpdir(), 'lifeboat-dump-'));
    try {
      ctx.step(`dumping with ${input.jobs} jobs`);
      const dir = join(work, 'dump');
      const dump = spawnTool(
        pgDump.path,
        [
          '--format=directory',
          '--compress=0',
          `--jobs=${input.jobs}`,
          '--no-password',
          `--file=${dir}`,
          `--dbname=${target.url}`,
        ],
        { env, signal: ctx.signal, what: 'pg_dump' },
      );
      dump.child.stdout.resume();
      await dump.exited;
      const walked = await walkTrees([dir], new ExcludeMatcher([]));
      const entries = overlapOrder(walked.entries);
      const total = entries.reduce((n, e) => n + e.size, 0);
      ctx.progress({ bytesTotal: total, bytesDone: 0 });
      const results = { hashes: new Map<string, string>(), warnings: [], skipped: new Set<string>() };
      await add({ name: 'db.dir.tar', role: 'pg-dump-dir', source: tarSource(entries, results), onPlainBytes });
      if (results.skipped.size > 0)
        throw new LifeboatError('TOOL_FAILED', 'The dump directory changed while being archived.');
      return {
        source: { ...source, jobs: input.jobs, dump_members: dumpMembers(entries, results.hashes) },
        warnings: [],
      };
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
}

/**
 * The tar order of a directory-format dump: its folder, toc.dat (a restore starts from it), then
 * the data files largest first (a restore that overlaps decoding starts the longest COPY first).
 */
function overlapOrder(entries: WalkedEntry[]): WalkedEntry[] {
  const rank = (e: WalkedEntry): number => (e.type === 'dir' ? 0 : /\/toc\.dat$/.test(e.key) ? 1 : 2);
  return [...entries].sort((a, b) => rank(a) - rank(b) || b.size - a.size || (a.key < b.key ? -1 : 1));
}

/**
 * Each file of the dump with its size and the SHA-256 of its bytes as archived (DESIGN.md, media
 * format: `source.dump_members`): a restore puts a member in place, and pg_restore reads it, as
 * soon as it matches, before the whole artifact is read (restore/pg-dir-overlap.ts).
 */
function dumpMembers(entries: WalkedEntry[], hashes: Map<string, string>): DumpMember[] {
  return entries
    .filter((e) => e.type === 'file')
    .map((e) => {
      const sha256 = hashes.get(e.key);
      if (!sha256) throw new LifeboatError('INTERNAL', `No hash was recorded for ${e.key}.`);
      return { path: e.path.toString('utf8'), bytes: e.size, sha256 };
    });
}
