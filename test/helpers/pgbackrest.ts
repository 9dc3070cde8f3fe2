import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CliRun } from './cli';
import type { ScratchCluster } from './postgres';
import { chownForPostgres } from './wal-archiving';

/**
 * Real pgBackRest beside a test's private PostgreSQL: a configuration file whose `[global]` section
 * has the log, lock and spool folders (under `<dir>/<name>-work`) plus the given lines, and one stanza
 * on the cluster; the command runs as the cluster's user (pgBackRest refuses a data directory it does
 * not own).
 */
export interface Pgbackrest {
  conf: string;
  stanza: string;
  /** Run `pgbackrest --config --stanza <args>`; the exit status is the caller's to check. */
  run(...args: string[]): CliRun;
  /** The same, throwing with pgBackRest's output when it fails. */
  ok(...args: string[]): CliRun;
}

/**
 * The shell line that archives into the configuration `pgbackrestConfig` writes for this `dir` and
 * `name` (for startArchivingPostgres, "$1" being %p). Known before the cluster starts: the file is
 * written once the cluster's port and folders are, before the first segment is switched.
 */
export function pgbackrestArchivePush(dir: string, name = 'pgbackrest', stanza = 'shop'): string {
  return `pgbackrest --config=${join(dir, `${name}.conf`)} --stanza=${stanza} archive-push "$1"`;
}

export function pgbackrestConfig(o: {
  dir: string;
  pg: ScratchCluster;
  /** Lines of `[global]` (repositories, cipher, compression). */
  global: string[];
  name?: string;
  stanza?: string;
  /** Lines of the stanza's section besides pg1-path, pg1-port and pg1-socket-path. */
  stanzaLines?: string[];
}): Pgbackrest {
  const name = o.name ?? 'pgbackrest';
  const stanza = o.stanza ?? 'shop';
  const conf = join(o.dir, `${name}.conf`);
  const work = join(o.dir, `${name}-work`);
  for (const d of ['log', 'lock', 'spool']) mkdirSync(join(work, d), { recursive: true });
  writeFileSync(
    conf,
    [
      '[global]',
      `log-path=${work}/log`,
      `lock-path=${work}/lock`,
      `spool-path=${work}/spool`,
      'log-level-console=warn',
      'log-level-file=off',
      'start-fast=y',
      ...o.global,
      '',
      `[${stanza}]`,
      `pg1-path=${o.pg.dataDir}`,
      `pg1-port=${o.pg.port}`,
      `pg1-socket-path=${o.pg.socketDir}`,
      ...(o.stanzaLines ?? []),
      '',
    ].join('\n'),
  );
  chownForPostgres(conf, work);
  const run = (...args: string[]): CliRun => {
    const r = spawnSync('pgbackrest', [`--config=${conf}`, `--stanza=${stanza}`, ...args], {
      encoding: 'utf8',
      cwd: o.dir,
      timeout: 60_000,
      ...(o.pg.runAs ? { uid: o.pg.runAs.uid, gid: o.pg.runAs.gid } : {}),
    });
    if (r.error) throw new Error(`pgbackrest ${args.join(' ')} did not run: ${r.error.message}`);
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  return {
    conf,
    stanza,
    run,
    ok(...args) {
      const r = run(...args);
      if (r.status !== 0)
        throw new Error(
          `pgbackrest ${args.join(' ')} failed (exit ${r.status}): ${r.stderr.trim()} ${r.stdout.trim()}`,
        );
      return r;
    },
  };
}
