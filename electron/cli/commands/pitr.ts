import type { Command } from 'commander';
import type { CliIo } from '../output';
import { registerRestoreSet } from './restore';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export interface WalPushOptions {
  system: string;
  to: string;
  recipient?: string[];
  signKey?: string;
  async?: boolean;
  spool?: string;
  jobs?: number;
  metricsFile?: string;
  notifyConfig?: string;
}
export interface WalArchiverOptions {
  system: string;
  to: string;
  recipient?: string[];
  signKey?: string;
  spool: string;
  pgWal: string;
  jobs?: number;
  idle?: number;
  metricsFile?: string;
}
export interface WalFetchOptions {
  system: string;
  from: string;
  identity?: string[];
  trustKey?: string[];
  allowUnsignedWal?: boolean;
}
export interface PlanOptions {
  system: string;
  from: string;
  targetTime?: string;
  identity?: string[];
  pgBin?: string;
  allowUnsignedWal?: boolean;
  json?: boolean;
  /** An encrypted pgBackRest repository's passphrase (repo1-cipher-pass), in a file. */
  passphraseFile?: string;
}
export interface PitrRestoreOptions extends PlanOptions {
  targetTime: string;
  dataDir: string;
  port?: number;
  stop?: boolean;
  allowUnsigned?: boolean;
}

/** WAL archiving (PostgreSQL calls these once per segment: they load nothing they do not need) and PITR. */
export function registerPitr(program: Command, io: CliIo): void {
  program
    .command('wal-push <path>')
    .description("archive one WAL file (PostgreSQL's archive_command: lifeboat wal-push %p --system S --to M)")
    .requiredOption('--system <name>', 'the system the WAL belongs to')
    .requiredOption('--to <dir | s3://bucket/prefix | azure://container/prefix>', 'the medium holding the archive')
    .option('--recipient <age1… | file>', 'encrypt to this age recipient (repeat)', collect)
    .option(
      '--sign-key <file>',
      'sign each archived file with this Ed25519 key (a .sig sidecar, written before the file)',
    )
    .option(
      '--async',
      'hand the file to a background archiver that pushes ready segments ahead, several at once (see docs/architecture.md)',
    )
    .option('--spool <dir>', "the archiver's spool folder with --async (default: <data dir>/wal-spool/<system>)")
    .option('--jobs <n>', 'pushes at once in the background archiver (default 2)', (v) => Number(v))
    .option('--metrics-file <file>', 'update this Prometheus text file: last WAL push, failures (docs/monitoring.md)')
    .option('--notify-config <file>', 'send a notification when the push fails (docs/notifications.md)')
    .action(async (path: string, opts: WalPushOptions) => {
      const { walPushCommand } = await import('./pitr-run');
      await walPushCommand(io, path, opts);
    });

  program
    .command('wal-archiver')
    .description(
      'the background archiver `wal-push --async` starts: pushes every ready WAL file of a cluster, then exits when idle',
    )
    .requiredOption('--system <name>', 'the system the WAL belongs to')
    .requiredOption('--to <dir | s3://bucket/prefix | azure://container/prefix>', 'the medium holding the archive')
    .requiredOption('--spool <dir>', 'the spool folder (markers for archive_command)')
    .requiredOption('--pg-wal <dir>', "PostgreSQL's pg_wal folder")
    .option('--recipient <age1… | file>', 'encrypt to this age recipient (repeat)', collect)
    .option('--sign-key <file>', 'sign each archived file with this Ed25519 key')
    .option('--jobs <n>', 'pushes at once (default 2)', (v) => Number(v))
    .option('--idle <seconds>', 'exit after this long with nothing to push (default 60)', (v) => Number(v))
    .option('--metrics-file <file>', "update this Prometheus text file with the run's pushed and failed counts")
    .option('--notify-config <file>', 'send failure/success notifications as this file says (docs/notifications.md)')
    .action(async (opts: WalArchiverOptions) => {
      const { walArchiverCommand } = await import('./pitr-run');
      await walArchiverCommand(io, opts);
    });

  program
    .command('wal-fetch <name> <destination>')
    .description(
      "restore one WAL file, signature- and hash-checked (PostgreSQL's restore_command: lifeboat wal-fetch %f %p --system S --from M)",
    )
    .requiredOption('--system <name>', 'the system the WAL belongs to')
    .requiredOption('--from <dir | s3://bucket/prefix | azure://container/prefix>', 'the medium holding the archive')
    .option('--identity <file>', 'age identity for an encrypted archive (repeat)', collect)
    .option('--trust-key <file>', "the signer's public key (repeat; default: the catalog's pinned keys)", collect)
    .option(
      '--allow-unsigned-wal',
      'accept a file that is unsigned or signed by a key that is not pinned (logged to stderr)',
    )
    .action(async (name: string, dest: string, opts: WalFetchOptions) => {
      const { walFetchCommand } = await import('./pitr-run');
      await walFetchCommand(io, name, dest, opts);
    });

  const pitr = program.command('pitr').description('point-in-time recovery planning');
  pitr
    .command('plan')
    .description(
      'base backups, timelines, WAL gaps and the recoverable window (Lifeboat sets, or a pgBackRest stanza named like the system); ' +
        'with --target-time, what a restore would need and what to worry about',
    )
    .requiredOption('--system <name>', 'the system')
    .requiredOption(
      '--from <dir | s3://bucket/prefix | azure://container/prefix>',
      'the medium holding the base backups and the WAL archive',
    )
    .option('--target-time <ISO 8601>', 'the time to recover to')
    .option('--identity <file>', 'age identity (to read commit times from encrypted WAL)', collect)
    .option('--pg-bin <dir>', 'directory holding pg_waldump')
    .option(
      '--allow-unsigned-wal',
      'plan as a restore would with --allow-unsigned-wal (unsigned or untrusted WAL accepted)',
    )
    .option('--passphrase-file <file>', "an encrypted pgBackRest repository's passphrase (repo1-cipher-pass)")
    .option('--json', 'print one machine-readable result')
    .action(async (opts: PlanOptions) => {
      const { planCommand } = await import('./pitr-run');
      await planCommand(io, opts);
    });

  const restore = program.command('restore').description('restore a set without a runbook');
  restore
    .command('pg-pitr')
    .description(
      'point-in-time recovery into an empty data directory: base backup + WAL replayed to the target, then promoted',
    )
    .requiredOption('--system <name>', 'the system')
    .requiredOption(
      '--from <dir | s3://bucket/prefix | azure://container/prefix>',
      'the medium holding the base backups and the WAL archive',
    )
    .requiredOption('--target-time <ISO 8601>', 'the time to recover to')
    .requiredOption('--data-dir <empty dir>', 'where the restored cluster goes (must be empty or absent)')
    .option('--identity <file>', 'age identity (repeat)', collect)
    .option('--port <port>', 'port for the restored server (default: a free one)', (v) => Number.parseInt(v, 10))
    .option('--pg-bin <dir>', "PostgreSQL server binaries of the base backup's major version")
    .option('--stop', 'stop the server once recovery is done (default: leave it running)')
    .option(
      '--allow-unsigned-wal',
      "accept WAL that is unsigned or signed by a key that is not pinned (recorded in the run's log)",
    )
    .option(
      '--allow-unsigned',
      "accept a foreign base backup (pgBackRest) never verified here (recorded in the run's log)",
    )
    .option('--passphrase-file <file>', "an encrypted pgBackRest repository's passphrase (repo1-cipher-pass)")
    .option('--json', 'print one machine-readable result')
    .action(async (opts: PitrRestoreOptions) => {
      const { restorePitrCommand } = await import('./pitr-run');
      await restorePitrCommand(io, opts);
    });
  registerRestoreSet(restore, io);
}
