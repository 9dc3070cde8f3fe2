import type { Command } from 'commander';
import { LifeboatError } from '../../engine/errors';
import { printJson, type CliIo } from '../output';

function count(name: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new LifeboatError('BAD_INPUT', `--${name} must be a whole number ≥ 0.`);
    return n;
  };
}

export function registerPrune(program: Command, io: CliIo): void {
  program
    .command('prune')
    .description('grandfather-father-son retention on a medium; a dry run unless --apply')
    .requiredOption('--to <dir | s3://bucket/prefix | azure://container/prefix>', 'the medium')
    .option('--keep-last <n>', 'keep the newest N sets', count('keep-last'), 0)
    .option('--keep-daily <n>', 'keep the newest set of each of the last N days', count('keep-daily'), 0)
    .option('--keep-weekly <n>', 'keep the newest set of each of the last N weeks', count('keep-weekly'), 0)
    .option('--keep-monthly <n>', 'keep the newest set of each of the last N months', count('keep-monthly'), 0)
    .option(
      '--system <name>',
      "only this system's sets and WAL (repeat; each system can then have its own policy)",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--apply', 'really remove the sets marked remove')
    .option('--json', 'print one machine-readable result')
    .action(
      async (opts: {
        to: string;
        keepLast: number;
        keepDaily: number;
        keepWeekly: number;
        keepMonthly: number;
        system?: string[];
        apply?: boolean;
        json?: boolean;
      }) => {
        const [{ prune }, { verifiedManifests }, { openMedium }, { openCliEngine }, { runAsJob }] = await Promise.all([
          import('../../engine/backup/prune'),
          import('../../engine/catalog/sets'),
          import('../../engine/storage/open-medium'),
          import('../engine'),
          import('../run-job'),
        ]);
        const engine = openCliEngine();
        try {
          const medium = await openMedium(opts.to);
          const result = await runAsJob(
            engine,
            io,
            { kind: 'prune', title: `Retention on ${medium.location}` },
            (ctx) =>
              prune(
                medium,
                {
                  keepLast: opts.keepLast,
                  keepDaily: opts.keepDaily,
                  keepWeekly: opts.keepWeekly,
                  keepMonthly: opts.keepMonthly,
                },
                verifiedManifests(engine.catalog),
                Boolean(opts.apply),
                ctx,
                opts.system,
              ),
          );
          if (opts.json) {
            printJson(io, {
              ok: true,
              applied: result.applied,
              keep: result.decisions.filter((d) => d.keep).map((d) => ({ path: d.set.path, reasons: d.reasons })),
              remove: result.decisions.filter((d) => !d.keep).map((d) => ({ path: d.set.path, reasons: d.reasons })),
              removed: result.removed,
              wal: result.wal.map((w) => ({
                system: w.system,
                keep_from: w.keepFrom,
                remove: w.remove.length,
                kept: w.kept,
              })),
              unreadable: result.unreadable,
            });
            return;
          }
          for (const d of result.decisions)
            io.stdout.write(`${d.keep ? 'keep  ' : 'remove'}  ${d.set.path}  (${d.reasons.join(', ')})\n`);
          for (const u of result.unreadable)
            io.stdout.write(`left alone (unreadable manifest)  ${u.path}: ${u.reason}\n`);
          for (const w of result.wal) {
            io.stdout.write(
              w.keepFrom
                ? `WAL of ${w.system}: ${result.applied ? 'removed' : 'would remove'} ${w.remove.length} files older than ${w.keepFrom} (the oldest retained base backup's start); ${w.kept} kept\n`
                : `WAL of ${w.system}: all ${w.kept} files kept (no retained base backup to anchor them)\n`,
            );
          }
          const n = result.decisions.filter((d) => !d.keep).length;
          io.stdout.write(
            result.applied
              ? `Removed ${result.removed.length} sets.\n`
              : `Dry run: ${n} sets would be removed. Add --apply to remove them.\n`,
          );
        } finally {
          await engine.close();
        }
      },
    );
}
