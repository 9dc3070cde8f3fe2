import { Option, type Command } from 'commander';
import { availableParallelism } from 'node:os';
import type { EncoderThreads } from '../../engine/pipeline/encoder-thread';
import type { CliIo } from '../output';
import type { CmdOptions, FilesOptions, MysqlOptions, PgBaseOptions, PgOptions, RedisOptions } from './backup-run';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** The write path's thread boots (~60 ms) while the engine loads and the source is prepared. */
async function prestart(): Promise<EncoderThreads> {
  const { EncoderThreads } = await import('../../engine/pipeline/encoder-thread');
  const threads = new EncoderThreads();
  threads.prestart();
  return threads;
}

function commonOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--system <name>', 'the protected system (e.g. customer-db)')
    .requiredOption(
      '--to <dir | s3://bucket/prefix | azure://container/prefix>',
      'a medium to write to (repeat for several: one pass, identical copies)',
      collect,
    )
    .option(
      '--recipient <age1… | file>',
      'encrypt to this age recipient (repeat: the DR laptop and an escrow key)',
      collect,
    )
    .option('--sign-key <file>', 'sign the manifest with this Ed25519 key (lifeboat keys signing-new)')
    .addOption(
      new Option('--tier <tier>', 'the system tier, recorded in the manifest').choices([
        'critical',
        'important',
        'standard',
      ]),
    )
    .option('--json', 'print one machine-readable result')
    .option(
      '--metrics-file <file>',
      "update this Prometheus text file (node_exporter's textfile collector): success or failure, duration, bytes",
    )
    .option('--notify-config <file>', 'send failure/success notifications as this file says (docs/notifications.md)')
    .option(
      '--storage-class <class>',
      "S3 media: the storage class of the set's artifacts (STANDARD_IA, GLACIER_IR, GLACIER, DEEP_ARCHIVE; manifest, signature and checksums stay STANDARD). GLACIER and DEEP_ARCHIVE need lifeboat medium restore-request before a verify or restore reads them",
    );
}

export function registerBackup(program: Command, io: CliIo): void {
  const backup = program
    .command('backup')
    .description(
      "make a backup set (PostgreSQL, MySQL/MariaDB, Redis, files, config, any tool's output) on one or more media",
    );

  commonOptions(
    backup
      .command('pg')
      .description('logical PostgreSQL backup with pg_dump, compressed, encrypted and signed')
      .requiredOption(
        '--db <postgres url>',
        'postgres://user@host:port/database (the password comes from PGPASSWORD, ~/.pgpass or --credential)',
      ),
  )
    .addOption(new Option('--format <format>', 'pg_dump format').choices(['custom', 'directory']).default('custom'))
    .option(
      '--jobs <n>',
      'parallel dump jobs (directory format)',
      (v) => Number.parseInt(v, 10),
      Math.max(1, Math.min(4, availableParallelism())),
    )
    .option('--pg-bin <dir>', 'directory holding pg_dump')
    .option('--credential <ref>', 'take the password from the OS keychain entry pg:<target>')
    .action(async (opts: PgOptions) => {
      const threads = await prestart();
      const { backupPgCommand } = await import('./backup-run');
      await backupPgCommand(io, opts, threads);
    });

  commonOptions(
    backup
      .command('pg-base')
      .description(
        'physical base backup with pg_basebackup (tar, WAL included), for point-in-time recovery with the WAL archive',
      )
      .requiredOption(
        '--db <postgres url>',
        'postgres://user@host:port/postgres — a user with the REPLICATION attribute',
      ),
  )
    .option('--pg-bin <dir>', 'directory holding pg_basebackup')
    .option('--credential <ref>', 'take the password from the OS keychain entry pg:<target>')
    .action(async (opts: PgBaseOptions) => {
      const threads = await prestart();
      const { backupPgBaseCommand } = await import('./backup-run');
      await backupPgBaseCommand(io, opts, threads);
    });

  commonOptions(
    backup
      .command('mysql')
      .description(
        'logical MySQL/MariaDB backup of one database with mariadb-dump (mysqldump) --single-transaction, routines, events, triggers',
      )
      .requiredOption(
        '--db <mysql url>',
        'mysql://user@host:3306/database (the password from --credential, else MYSQL_PWD; it reaches the tool in a 0600 option file)',
      ),
  )
    .option('--credential <ref>', 'take the password from the OS keychain entry mysql:<target>')
    .action(async (opts: MysqlOptions) => {
      const threads = await prestart();
      const { backupMysqlCommand } = await import('./backup-run');
      await backupMysqlCommand(io, opts, threads);
    });

  commonOptions(
    backup
      .command('redis')
      .description(
        'Redis backup: the RDB streamed from the server (replication protocol, a point-in-time snapshot), and optionally its AOF directory',
      )
      .requiredOption(
        '--redis <redis url>',
        'redis://[user@]host:port (the password from REDISCLI_AUTH or --credential; one in the URL works but shows in ps)',
      ),
  )
    .option('--aof-dir <dir>', 'also store this Redis 7 AOF directory (appendonlydir: manifest, base and incr files)')
    .option('--credential <ref>', 'take the password from the OS keychain entry <ref>')
    .action(async (opts: RedisOptions) => {
      const threads = await prestart();
      const { backupRedisCommand } = await import('./backup-run');
      await backupRedisCommand(io, opts, threads);
    });

  commonOptions(
    backup
      .command('files')
      .description('files or config backup: a tar of directories (modes, mtimes, symlinks kept), full or incremental')
      .requiredOption('--path <dir>', 'a directory to back up (repeat for several)', collect),
  )
    .option(
      '--exclude <glob>',
      'leave out matching paths (repeat); node_modules, *.tmp, __pycache__, .DS_Store always are',
      collect,
    )
    .addOption(
      new Option('--class <class>', 'files, or config (which must be encrypted)')
        .choices(['files', 'config'])
        .default('files'),
    )
    .option('--incremental', 'store only what changed since the newest set of this system')
    .option(
      '--identity <file>',
      'age identity to read an encrypted parent index (when this machine has no copy)',
      collect,
    )
    .option('--allow-plaintext', 'allow a config set without encryption')
    .action(async (opts: FilesOptions) => {
      const threads = await prestart();
      const { backupFilesCommand } = await import('./backup-run');
      await backupFilesCommand(io, opts, threads);
    });

  commonOptions(
    backup
      .command('cmd')
      .description(
        "a command's standard output as the set (docker save, mongodump --archive, redis-cli --rdb -…): it must exit 0, or no set is written",
      )
      .requiredOption(
        '--kind <label>',
        'what the stream is, recorded in the manifest: docker-image, mongodb-archive, es-snapshot, redis-rdb… (a-z, 0-9, -)',
      )
      .requiredOption(
        '--command <line>',
        'the command, split like sh splits words (quotes, backslashes) and run WITHOUT a shell; it is recorded in the manifest, so pass secrets only through the environment (PGPASSWORD, MYSQL_PWD…): a password in the line is refused',
      ),
  )
    .option('--shell', 'run --command (and --version-command) with /bin/sh -c: pipes, redirections, variables')
    .option(
      '--version-command <line>',
      "a command printing the tool's version (e.g. 'docker --version'), recorded in the manifest",
    )
    .action(async (opts: CmdOptions) => {
      const threads = await prestart();
      const { backupCmdCommand } = await import('./backup-run');
      await backupCmdCommand(io, opts, threads);
    });
}
