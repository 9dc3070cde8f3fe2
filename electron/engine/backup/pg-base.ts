import type { JobContext } from '../jobs/job-manager';
import { ToolSource } from '../process/child';
import { writeSet, type SetPlan, type WrittenSet } from './set-writer';
import { parsePgUrl, pgToolEnv, serverFacts, withPgClient } from '../postgres/connection';
import { findPgTool } from '../postgres/pg-tools';
import { LifeboatError } from '../errors';

export interface PgBaseInput extends Omit<SetPlan, 'kind' | 'parent' | 'startedAt'> {
  dbUrl: string;
  password?: string | null;
  pgBinDir?: string;
}

/**
 * A physical base backup: `pg_basebackup` in tar format to stdout (WAL needed for consistency
 * fetched into the tar, PostgreSQL's own backup_manifest kept inside), streamed through the
 * same zstd → age → SHA-256 pipeline into a signed `pg-base` set. The manifest records the
 * start/stop LSNs, timeline, times and server version the PITR planner needs.
 */
export async function backupPgBase(input: PgBaseInput, ctx: JobContext): Promise<WrittenSet> {
  ctx.step('connecting');
  const target = parsePgUrl(input.dbUrl, input.password ?? null);
  // The tool's copies are asked their versions while the server is asked its own.
  const pickTool = findPgTool('pg_basebackup', input.pgBinDir);
  const facts = await serverFacts(target);
  const settings = await withPgClient(target, async (c) => {
    const r = await c.query<{ seg: string; level: string; mode: string; dir: string }>(
      "SELECT current_setting('wal_segment_size') AS seg, current_setting('wal_level') AS level, current_setting('archive_mode') AS mode, current_setting('data_directory', true) AS dir",
    );
    return r.rows[0]!;
  });
  const tool = await pickTool(facts.major);
  const segmentBytes = /MB$/.test(settings.seg)
    ? Number.parseInt(settings.seg, 10) * 1024 * 1024
    : Number.parseInt(settings.seg, 10);
  const warnings: string[] = [];
  if (settings.mode === 'off')
    warnings.push(
      'archive_mode is off on the server: without a WAL archive this base backup restores only to its own end (no point-in-time recovery).',
    );
  const startedAt = new Date();
  const plan: SetPlan = { ...input, kind: 'pg-base', parent: null, startedAt };
  return writeSet(plan, ctx, async (add) => {
    ctx.step('pg_basebackup');
    // SHA-256 file checksums in backup_manifest (PostgreSQL 13+): verification and PITR extraction
    // check every file against them, and SHA-256 is what this machine hashes fastest.
    const manifestChecksums = facts.major >= 13 ? 'SHA256' : null;
    const args = [
      '--format=tar',
      '--pgdata=-',
      '--wal-method=fetch',
      '--checkpoint=fast',
      '--verbose',
      '--no-password',
      `--dbname=${target.url}`,
    ];
    if (manifestChecksums) args.push(`--manifest-checksums=${manifestChecksums}`);
    const bb = ToolSource.of(tool.path, args, { env: pgToolEnv(target), signal: ctx.signal, what: 'pg_basebackup' });
    let log = '';
    void bb.started.then(
      (t) => t.child.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d)),
      () => undefined,
    );
    const stored = add({
      name: 'base.tar',
      role: 'base-tar',
      source: bb,
      onPlainBytes: (n) => ctx.progress({ bytesDone: n }),
    });
    const [written, exit] = await Promise.allSettled([stored, bb.exited()]);
    if (written.status === 'rejected') throw written.reason;
    if (exit.status === 'rejected') throw exit.reason;
    const start = /write-ahead log start point: ([0-9A-F]+\/[0-9A-F]+) on timeline (\d+)/i.exec(log);
    const end = /write-ahead log end point: ([0-9A-F]+\/[0-9A-F]+)/i.exec(log);
    if (!start || !end)
      throw new LifeboatError('TOOL_FAILED', 'pg_basebackup did not report its WAL start and end points.');
    return {
      source: {
        tool: tool.version,
        server_version: facts.version,
        server_version_num: facts.versionNum,
        server_major: facts.major,
        system_identifier: facts.systemIdentifier,
        host: target.host,
        port: target.port,
        start_lsn: start[1],
        stop_lsn: end[1],
        timeline: Number(start[2]),
        wal_segment_size: segmentBytes,
        backup_started_at: startedAt.toISOString(),
        backup_finished_at: new Date().toISOString(),
        backup_manifest: manifestChecksums ? 'inside base.tar (backup_manifest)' : 'none (PostgreSQL before 13)',
        ...(manifestChecksums ? { backup_manifest_checksums: manifestChecksums } : {}),
      },
      warnings,
    };
  });
}
