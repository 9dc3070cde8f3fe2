import { Option, type Command } from 'commander';
import { withForeignSecretOptions, type ForeignSecretOptions } from '../foreign-options';
import type { CliIo } from '../output';
import { SET_KINDS } from '../../../shared/domain/kinds';
import { registerRestoreRequest } from './medium';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function registerCatalog(program: Command, io: CliIo): void {
  withForeignSecretOptions(program.command('scan [location]'))
    .description(
      'read a medium (folder, s3://bucket/prefix or azure://container/prefix) into the offline catalog; --rebuild recreates the catalog from every known medium',
    )
    .option(
      '--rebuild',
      'move the catalog aside, rescan every medium it knew, and carry over pinned keys, runs, journals and the ledger from the old file (for a damaged catalog)',
    )
    .option('--identity <file>', 'age identity, to index encrypted file lists of file sets', collect)
    .option(
      '--time-zone <zone>',
      "IANA zone the seed scripts' file names were written in (default: the laptop's, or the zone this medium was last read in)",
    )
    .option('--json', 'print one machine-readable result')
    .action(
      async (
        location: string | undefined,
        opts: { rebuild?: boolean; identity?: string[]; timeZone?: string; json?: boolean } & ForeignSecretOptions,
      ) => {
        const { scanCommand } = await import('./catalog-run');
        await scanCommand(io, location, opts);
      },
    );

  program
    .command('sets')
    .description('list backup sets from the catalog (works offline), newest first')
    .option('--system <name>', 'only this system')
    .addOption(new Option('--kind <kind>', 'only this kind').choices([...SET_KINDS]))
    .option('--since <time>', 'created at or after (ISO 8601)')
    .option('--until <time>', 'created at or before (ISO 8601)')
    .option(
      '--medium <id | label | location>',
      'only sets present on this medium (a folder without a label: its path, as `lifeboat media` lists it)',
    )
    .option('--verified', 'only sets with a passing verification')
    .option('--signed', 'only signed sets')
    .option('--json', 'print one machine-readable result')
    .action(
      async (opts: {
        system?: string;
        kind?: string;
        since?: string;
        until?: string;
        medium?: string;
        verified?: boolean;
        signed?: boolean;
        json?: boolean;
      }) => {
        const { setsCommand } = await import('./catalog-run');
        await setsCommand(io, opts);
      },
    );

  program
    .command('where <set>')
    .description('every medium holding a set, when it was last seen there, and whether it was verified there')
    .option('--json', 'print one machine-readable result')
    .action(async (set: string, opts: { json?: boolean }) => {
      const { whereCommand } = await import('./catalog-run');
      await whereCommand(io, set, opts);
    });

  program
    .command('systems')
    .description('per system: newest set, newest verified set, and its age against the RPO')
    .option(
      '--trend',
      "each set's size, duration, compression ratio, incompressible share, changed files, and the ransomware indicator's verdict",
    )
    .option('--system <name>', 'with --trend: only this system')
    .option('--json', 'print one machine-readable result')
    .action(async (opts: { json?: boolean; trend?: boolean; system?: string }) => {
      const { systemsCommand } = await import('./catalog-run');
      await systemsCommand(io, opts);
    });

  program
    .command('find <glob>')
    .description('find a file path across every indexed file set, newest first (e.g. "*/invoices/*.pdf")')
    .option('--system <name>', 'only this system')
    .option('--json', 'print one machine-readable result')
    .action(async (glob: string, opts: { system?: string; json?: boolean }) => {
      const { findCommand } = await import('./catalog-run');
      await findCommand(io, glob, opts);
    });

  const media = program
    .command('media')
    .description('every medium the catalog knows: label, kind, sets, bytes, last seen')
    .option('--json', 'print one machine-readable result')
    .action(async (opts: { json?: boolean }) => {
      const { mediaCommand } = await import('./catalog-run');
      await mediaCommand(io, opts);
    });
  registerRestoreRequest(media, io);
}
