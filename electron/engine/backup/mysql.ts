import { PassThrough } from 'node:stream';
import type { JobContext } from '../jobs/job-manager';
import { LifeboatError } from '../errors';
import {
  findMysqlTool,
  mysqlDisplayUrl,
  mysqlQuery,
  mysqlToolEnv,
  parseMysqlUrl,
  withOptionFile,
} from '../mysql/connection';
import { DumpCountTap } from '../mysql/dump-text';
import { spawnTool } from '../process/child';
import { toolVersion } from '../tools/tools';
import { writeSet, type SetPlan, type WrittenSet } from './set-writer';

export interface MysqlBackupInput extends Omit<SetPlan, 'kind' | 'parent' | 'startedAt'> {
  /** mysql://user[:pass]@host:port/database */
  dbUrl: string;
  /** From the keychain; else the URL's, else MYSQL_PWD of this process (read here, never passed on as such). */
  password?: string | null;
}

/** The options every dump is made with (recorded in the manifest). */
export const MYSQL_DUMP_OPTIONS = [
  '--single-transaction',
  '--routines',
  '--events',
  '--triggers',
  '--hex-blob',
  '--default-character-set=utf8mb4',
  '--skip-dump-date',
  '--no-tablespaces',
];

/**
 * A logical MySQL/MariaDB backup of ONE database: mariadb-dump (or mysqldump) with a consistent
 * snapshot (--single-transaction), routines, events and triggers, binary data as hex, streamed
 * through zstd and age into a signed set. The password reaches the tool in a 0600 option file,
 * never on its command line. The dump is read as it streams to count its tables and the rows
 * of each: the manifest records them and a drill's restore must give back exactly as many.
 */
export async function backupMysql(input: MysqlBackupInput, ctx: JobContext): Promise<WrittenSet> {
  ctx.step('connecting');
  // The keychain's password, else the URL's, else MYSQL_PWD of this process.
  const parsed = parseMysqlUrl(input.dbUrl, input.password ?? null);
  const target = { ...parsed, password: parsed.password ?? process.env.MYSQL_PWD ?? null };
  const dumpTool = findMysqlTool('dump');
  // The database is a plain name (MYSQL_DB_NAME): safe inside the quotes.
  const [tool, facts] = await Promise.all([
    toolVersion(dumpTool),
    mysqlQuery(
      target,
      `SELECT VERSION(),
        (SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${target.database}'),
        (SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${target.database}')`,
      { database: null },
    ),
  ]);
  const row = facts[0] ?? [];
  if (row[1] !== '1')
    throw new LifeboatError('BAD_INPUT', `There is no database ${target.database} at ${mysqlDisplayUrl(target)}.`, {
      hint: 'Give the database to back up in the URL path (mysql://user@host:3306/<database>); one database per set.',
    });
  const serverVersion = row[0] ?? 'unknown';
  ctx.log('info', `${serverVersion} (${target.database}); using ${dumpTool} (${tool ?? 'version unknown'})`);
  const startedAt = new Date();
  const plan: SetPlan = { ...input, kind: 'mysql', parent: null, startedAt };
  return writeSet(plan, ctx, async (add) =>
    withOptionFile(target, async (auth) => {
      ctx.step('dumping');
      const dump = spawnTool(dumpTool, [...auth, ...MYSQL_DUMP_OPTIONS, '--', target.database], {
        env: mysqlToolEnv(),
        signal: ctx.signal,
        what: 'mariadb-dump',
      });
      const tap = new DumpCountTap();
      const source = dump.child.stdout.pipe(tap).pipe(new PassThrough({ highWaterMark: 1024 * 1024 }));
      dump.child.stdout.on('error', (e) => source.destroy(e));
      const stored = add({
        name: 'db.sql',
        role: 'mysql-dump',
        source,
        onPlainBytes: (n) => ctx.progress({ bytesDone: n }),
      });
      // A storage failure (a full disk) stops reading the dump: the tool is stopped rather than
      // left blocked on its pipe, and the storage failure is what is said.
      stored.catch(() => dump.child.kill('SIGKILL'));
      // The dump may fail after writing part of its output: its exit status decides.
      const [written, exit] = await Promise.allSettled([stored, dump.exited]);
      if (written.status === 'rejected') throw written.reason;
      if (exit.status === 'rejected') throw exit.reason;
      const tables = tap.counter.result();
      return {
        source: {
          tool: tool ?? dumpTool,
          server_version: serverVersion,
          database: target.database,
          database_size_bytes: Number(row[2] ?? 0),
          host: target.socket ? 'localhost' : target.host,
          port: target.port,
          dump_options: MYSQL_DUMP_OPTIONS,
          dump_started_at: startedAt.toISOString(),
          table_count: Object.keys(tables).length,
          tables,
        },
        warnings: [],
      };
    }),
  );
}
