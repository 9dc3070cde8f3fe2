import { Option, type Command } from 'commander';
import { availableParallelism } from 'node:os';
import { VERIFY_LEVELS, type VerifyLevel } from '../../../shared/domain/verify-levels';
import { withForeignSecretOptions, type ForeignSecretOptions } from '../foreign-options';
import type { CliIo } from '../output';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function registerVerify(program: Command, io: CliIo): void {
  withForeignSecretOptions(program.command('verify <target>'))
    .description(
      'verify a medium (folder, s3://… or azure://…), a set folder, or a set id: inventory → integrity → authenticity → deep → restore',
    )
    .addOption(new Option('--level <level>', 'how far to go').choices([...VERIFY_LEVELS]).default('integrity'))
    .option('--identity <file>', 'age identity for the deep and restore levels (repeat for several)', collect)
    .option('--only-new', 'skip sets already verified at this level on this medium')
    .option(
      '--older-than <days>',
      'only sets whose last verification at this level is older than this many days',
      (v) => Number(v),
    )
    .option('--jobs <n>', 'artifacts read at once', (v) => Number.parseInt(v, 10), availableParallelism())
    .option(
      '--wal <system>',
      "check the system's WAL archive on the medium instead: contiguity from each base backup, every file's hash and signature",
    )
    .option('--json', 'print one machine-readable result')
    .option('--notify-config <file>', 'send failure/success notifications as this file says (docs/notifications.md)')
    .option(
      '--metrics-file <file>',
      "update this Prometheus text file: the run's results and each system's newest verified set (docs/monitoring.md)",
    )
    .option(
      '--allow-unsigned-wal',
      'with --wal: WAL files unsigned or signed by a key that is not pinned are reported, not failed',
    )
    .option(
      '--read-data-subset <n/t | p%>',
      'restic repositories at deep level: restic check --read-data-subset instead of reading every pack',
    )
    .action(
      async (
        target: string,
        opts: {
          level: VerifyLevel;
          identity?: string[];
          onlyNew?: boolean;
          olderThan?: number;
          jobs: number;
          wal?: string;
          allowUnsignedWal?: boolean;
          json?: boolean;
          readDataSubset?: string;
          metricsFile?: string;
        } & ForeignSecretOptions,
      ) => {
        const { verifyCommand, verifyWalCommand } = await import('./verify-run');
        if (opts.wal && opts.metricsFile) {
          const { LifeboatError } = await import('../../engine/errors');
          throw new LifeboatError('BAD_INPUT', '--metrics-file records set verification, not --wal.', {
            hint: 'Watch the WAL archive with wal-push --metrics-file, or lifeboat check --from <medium>.',
          });
        }
        if (opts.wal) await verifyWalCommand(io, target, opts.wal, opts);
        else await verifyCommand(io, target, opts);
      },
    );
}
