import type { Command } from 'commander';
import { withForeignSecretOptions, type ForeignSecretOptions } from '../foreign-options';
import type { CliIo } from '../output';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export interface RestoreFilesOptions extends ForeignSecretOptions {
  to: string;
  path?: string[];
  identity?: string[];
  intoExisting?: boolean;
  overwrite?: boolean;
  allowUnsigned?: boolean;
  dryRun?: boolean;
  operator?: string;
  json?: boolean;
}

export interface RestorePgOptions extends ForeignSecretOptions {
  target: string;
  database: string;
  jobs?: number;
  identity?: string[];
  confirmOverwrite?: string;
  role?: string;
  asSuperuser?: string;
  allowUnsigned?: boolean;
  dryRun?: boolean;
  operator?: string;
  json?: boolean;
}

export interface RestoreCmdOptions {
  command: string;
  shell?: boolean;
  stream?: boolean;
  confirm?: string;
  identity?: string[];
  allowUnsigned?: boolean;
  operator?: string;
  json?: boolean;
}

export interface RestoreMysqlOptions {
  credential?: string;
  db: string;
  identity?: string[];
  confirmOverwrite?: string;
  allowUnsigned?: boolean;
  operator?: string;
  json?: boolean;
}

/** `restore files` and `restore pg`, beside `restore pg-pitr` in the `restore` group (pitr.ts). */
export function registerRestoreSet(restore: Command, io: CliIo): void {
  withForeignSecretOptions(restore.command('files <set>'))
    .description(
      'restore a files or config set (incremental chains resolved) into a folder, as a short journaled run with a report',
    )
    .requiredOption('--to <dir>', 'the folder to restore into (empty or absent unless --into-existing)')
    .option('--path <glob>', 'restore only these paths (a match brings its subtree; repeat)', collect)
    .option('--identity <file>', 'age identity to decrypt the set (repeat)', collect)
    .option(
      '--into-existing',
      'restore into a non-empty folder; an existing file is never replaced without --overwrite',
    )
    .option('--overwrite', 'with --into-existing: replace entries that already exist')
    .option('--allow-unsigned', "restore a set that is not signed by a pinned key (recorded in the run's journal)")
    .option('--dry-run', 'check the set and the target and say what would happen; write nothing')
    .option('--operator <name>', 'who runs it (default: the name in settings, else the OS user)')
    .option('--json', 'print one machine-readable result')
    .action(async (set: string, opts: RestoreFilesOptions) => {
      const { restoreFilesCommand } = await import('./restore-run');
      await restoreFilesCommand(io, set, opts);
    });

  withForeignSecretOptions(restore.command('pg <set>'))
    .description('restore a pg-logical set into a new database (pg_restore -j), as a short journaled run with a report')
    .requiredOption(
      '--target <url>',
      'the PostgreSQL server, postgres://user@host:port/postgres (password: PGPASSWORD, ~/.pgpass)',
    )
    .requiredOption('--database <name>', 'the database to create and restore into')
    .option('--jobs <n>', 'pg_restore parallel jobs (default 2)', (v) => Number(v))
    .option('--identity <file>', 'age identity to decrypt the set (repeat)', collect)
    .option(
      '--confirm-overwrite <name>',
      'restore into an EXISTING database of this name (pg_restore --clean: objects in the dump are replaced)',
    )
    .option(
      '--role <name>',
      'the non-superuser role pg_restore connects as, owner of a new database (default lifeboat_restore)',
    )
    .option(
      '--as-superuser <name>',
      "restore with the target connection's superuser rights (the dump's code could run programs on the server): repeat the database name to confirm",
    )
    .option('--allow-unsigned', "restore a set that is not signed by a pinned key (recorded in the run's journal)")
    .option('--dry-run', 'check the set and the target and say what would happen; change nothing')
    .option('--operator <name>', 'who runs it (default: the name in settings, else the OS user)')
    .option('--json', 'print one machine-readable result')
    .action(async (set: string, opts: RestorePgOptions) => {
      const { restorePgCommand } = await import('./restore-run');
      await restorePgCommand(io, set, opts);
    });

  restore
    .command('cmd <set>')
    .description(
      "feed a stream set (lifeboat backup cmd) to a command's standard input (docker load, mongorestore --archive…), as a short journaled run with a report",
    )
    .requiredOption(
      '--command <line>',
      'the command, split like sh splits words and run WITHOUT a shell (secrets through the environment only: the line is journaled)',
    )
    .option('--shell', 'run --command with /bin/sh -c: pipes, redirections, variables')
    .option(
      '--stream',
      'feed the command while the set is read and checked, instead of checking it whole first into the run folder (needs no disk, but a failed check at the end comes after the command consumed unverified bytes)',
    )
    .option('--confirm <system>', "the set's system name: the command acts on something live, so it is confirmed")
    .option('--identity <file>', 'age identity to decrypt the set (repeat)', collect)
    .option('--allow-unsigned', "restore a set that is not signed by a pinned key (recorded in the run's journal)")
    .option('--operator <name>', 'who runs it (default: the name in settings, else the OS user)')
    .option('--json', 'print one machine-readable result')
    .action(async (set: string, opts: RestoreCmdOptions) => {
      const { restoreCmdCommand } = await import('./restore-run');
      await restoreCmdCommand(io, set, opts);
    });

  restore
    .command('redis <set>')
    .description(
      "restore a redis set: --scratch loads it into a scratch redis-server and checks it against the backup's key counts; --into-dir places it into a stopped server's data directory",
    )
    .option('--scratch', 'load it into a scratch redis-server (unix socket only), check the keys, stop it')
    .option('--into-dir <dir>', "the stopped target server's data directory (dump.rdb, appendonlydir)")
    .option('--port <n>', 'the port the target server listens on when running (default 6379)', (v) => Number(v))
    .option('--aof', 'restore the AOF directory (appendonlydir) instead of the RDB')
    .option('--confirm <dir>', 'repeat the --into-dir directory to confirm the live restore')
    .option('--identity <file>', 'age identity to decrypt the set (repeat)', collect)
    .option('--allow-unsigned', "restore a set that is not signed by a pinned key (recorded in the run's journal)")
    .option('--operator <name>', 'who runs it (default: the name in settings, else the OS user)')
    .option('--json', 'print one machine-readable result')
    .action(async (set: string, opts: RestoreRedisOptions) => {
      const { restoreRedisCommand } = await import('./restore-run');
      await restoreRedisCommand(io, set, opts);
    });

  restore
    .command('mysql <set>')
    .description(
      'restore a MySQL/MariaDB set into a new database (mariadb --sandbox), as a short journaled run with a report',
    )
    .requiredOption(
      '--db <url>',
      'mysql://user@host:3306/<new database> (the password from --credential, else MYSQL_PWD; never in the URL)',
    )
    .option('--credential <ref>', 'take the password from the OS keychain entry mysql:<target>')
    .option('--identity <file>', 'age identity to decrypt the set (repeat)', collect)
    .option('--confirm-overwrite <name>', 'restore into an EXISTING non-empty database of this name')
    .option('--allow-unsigned', "restore a set that is not signed by a pinned key (recorded in the run's journal)")
    .option('--operator <name>', 'who runs it (default: the name in settings, else the OS user)')
    .option('--json', 'print one machine-readable result')
    .action(async (set: string, opts: RestoreMysqlOptions) => {
      const { restoreMysqlCommand } = await import('./restore-run');
      await restoreMysqlCommand(io, set, opts);
    });
}

export interface RestoreRedisOptions {
  scratch?: boolean;
  intoDir?: string;
  port?: number;
  aof?: boolean;
  confirm?: string;
  identity?: string[];
  allowUnsigned?: boolean;
  operator?: string;
  json?: boolean;
}
