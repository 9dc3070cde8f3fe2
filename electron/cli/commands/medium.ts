import type { Command } from 'commander';
import { printJson, type CliIo } from '../output';

export function registerMedium(program: Command, io: CliIo): void {
  const medium = program.command('medium').description('prepare backup media (folders, S3 buckets)');
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
}
