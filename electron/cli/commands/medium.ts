import { Option, type Command } from 'commander';
import { printJson, type CliIo } from '../output';
import type { RestoreRequestOptions } from './medium-run';

/** `restore-request <set>` under a group (`medium`, and `media` as the issue names it). */
export function registerRestoreRequest(group: Command, io: CliIo): void {
  group
    .command('restore-request <set>')
    .description(
      'ask S3 for a readable copy of a set whose artifacts are in cold storage (GLACIER, DEEP_ARCHIVE); run again to see progress',
    )
    .requiredOption('--days <n>', 'how many days the readable copy stays', (v) => Number(v))
    .addOption(
      new Option('--tier <tier>', 'retrieval speed (and price)')
        .choices(['Standard', 'Bulk', 'Expedited'])
        .default('Standard'),
    )
    .option('--json', 'print one machine-readable result')
    .action(async (set: string, _opts: RestoreRequestOptions, cmd: Command) => {
      const { restoreRequestCommand } = await import('./medium-run');
      // With globals: `lifeboat media` has its own --json (the list), which commander gives a
      // --json written after `media restore-request <set>`.
      await restoreRequestCommand(io, set, cmd.optsWithGlobals<RestoreRequestOptions>());
    });
}

export function registerMedium(program: Command, io: CliIo): void {
  const medium = program
    .command('medium')
    .description('prepare backup media (folders, S3 buckets, Azure Blob containers)');
  medium
    .command('init <location>')
    .description('make a folder (USB drive, NAS), s3://bucket/prefix or azure://container/prefix a Lifeboat medium')
    .requiredOption('--label <label>', 'a name written on the drive, e.g. "offsite-2"')
    .option('--json', 'print one machine-readable result')
    .action(async (location: string, opts: { label: string; json?: boolean }) => {
      const [{ newMediumInfo }, { openMedium }] = await Promise.all([
        import('../../engine/format/medium'),
        import('../../engine/storage/open-medium'),
      ]);
      const m = await openMedium(location);
      const info = newMediumInfo(opts.label);
      await m.writeInfo(info);
      if (opts.json) printJson(io, { ok: true, id: info.id, label: info.label, location: m.location });
      else io.stdout.write(`Medium ${info.label} (${info.id}) ready at ${m.location}\n`);
    });
  registerRestoreRequest(medium, io);
}
