import type { Command } from 'commander';
import { newMediumInfo } from '../../engine/format/medium';
import { openMedium } from '../../engine/storage/open-medium';
import { printJson, type CliIo } from '../output';

export function registerMedium(program: Command, io: CliIo): void {
  const medium = program.command('medium').description('prepare backup media (folders, S3 buckets)');
  medium
    .command('init <location>')
    .description('make a folder (USB drive, NAS) or s3://bucket/prefix a Lifeboat medium')
    .requiredOption('--label <label>', 'a name written on the drive, e.g. "offsite-2"')
    .option('--json', 'print one machine-readable result')
    .action(async (location: string, opts: { label: string; json?: boolean }) => {
      const m = openMedium(location);
      const info = newMediumInfo(opts.label);
      await m.writeInfo(info);
      if (opts.json) printJson(io, { ok: true, id: info.id, label: info.label, location: m.location });
      else io.stdout.write(`Medium ${info.label} (${info.id}) ready at ${m.location}\n`);
    });
}
