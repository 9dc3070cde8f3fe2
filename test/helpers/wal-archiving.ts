import { chmodSync, chownSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { postgresRunAs } from '../../electron/engine/postgres/scratch-cluster';
import { BIN } from './cli';
import { realClock } from './clock';
import { query, startPostgres, type ScratchCluster } from './postgres';

/**
 * A private PostgreSQL that archives its WAL from the first start (wal_level replica, archive_mode
 * on): no ALTER SYSTEM and restart. The archive command is a shell line in which "$1" is the
 * segment's path (PostgreSQL's %p); it is written to `<dir>/archive-wal.sh`, so paths and quotes need
 * no escaping through pg_ctl's options (pgBackRest's backup checks that archive_command names it: give
 * `script` a name with `pgbackrest` in it there). Self-checks: the server reports the mode and the command,
 * else it is stopped and a clear error says what it reported.
 */
export async function startArchivingPostgres(
  dir: string,
  command: string,
  o: { script?: string } = {},
): Promise<ScratchCluster> {
  const script = join(dir, o.script ?? 'archive-wal.sh');
  writeFileSync(script, `#!/bin/sh\n# PostgreSQL's archive_command for this test ("$1" is %p).\n${command}\n`);
  chmodSync(script, 0o755);
  const pg = await startPostgres({ wal_level: 'replica', archive_mode: 'on', archive_command: `'${script} %p'` });
  const [row] = await query<{ mode: string; command: string }>(
    pg.url(),
    "SELECT current_setting('archive_mode') AS mode, current_setting('archive_command') AS command",
  );
  if (row?.mode !== 'on' || row.command !== `${script} %p`) {
    await pg.destroy();
    throw new Error(`The test PostgreSQL does not archive as set up: ${JSON.stringify(row)}`);
  }
  return pg;
}

/** The shell line that archives with `lifeboat wal-push` to a medium (for startArchivingPostgres). */
export function walPushCommand(o: { system: string; medium: string; recipient: string; signKey?: string }): string {
  const sign = o.signKey ? ` --sign-key '${o.signKey}'` : '';
  return `exec '${process.execPath}' '${BIN}' wal-push "$1" --system ${o.system} --to '${o.medium}' --recipient ${o.recipient}${sign}`;
}

async function archiver(pg: ScratchCluster): Promise<{ archived: number; failed: number; lastFailed: string | null }> {
  const [row] = await query<{ archived: string; failed: string; last_failed: string | null }>(
    pg.url(),
    'SELECT archived_count::text AS archived, failed_count::text AS failed, last_failed_wal AS last_failed FROM pg_stat_archiver',
  );
  return { archived: Number(row!.archived), failed: Number(row!.failed), lastFailed: row!.last_failed };
}

/**
 * Switch to a new WAL segment and wait until the archiver has pushed it (polled every 25 ms). Throws,
 * naming the archiver's failures and the server log's last lines, when it has not within `timeoutMs`.
 */
export async function switchAndArchive(pg: ScratchCluster, timeoutMs = 20_000, clock = realClock): Promise<void> {
  const before = (await archiver(pg)).archived;
  await query(pg.url(), 'SELECT pg_switch_wal()');
  const until = clock.now() + timeoutMs;
  for (;;) {
    const now = await archiver(pg);
    if (now.archived > before) return;
    if (clock.now() > until) {
      let log = '';
      try {
        log = readFileSync(join(pg.dir, 'server.log'), 'utf8').trim().split('\n').slice(-5).join('\n');
      } catch {
        // no log to show
      }
      throw new Error(
        `PostgreSQL did not archive the switched segment within ${timeoutMs} ms (failures: ${now.failed}, last failed: ${now.lastFailed ?? 'none'}).\n${log}`,
      );
    }
    await clock.sleep(25);
  }
}

/** As root, PostgreSQL (and pgBackRest beside it) runs as `postgres`: give it these paths (recursive for folders). */
export function chownForPostgres(...paths: string[]): void {
  const runAs = postgresRunAs();
  if (!runAs) return;
  const walk = (p: string): void => {
    chownSync(p, runAs.uid, runAs.gid);
    if (statSync(p).isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
  };
  for (const p of paths) walk(p);
}
