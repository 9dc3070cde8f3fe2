import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { formatBytes, formatDuration, printJson, type CliIo } from '../output';

/**
 * The `lifeboat` command line PostgreSQL's archive_command should run: this very CLI, by its real path. `npx lifeboat`
 * runs it through a link in ~/.npm (root's home), which the server's OS user (postgres) cannot read: every wal-push
 * would fail and the demo's PITR window would have no segments.
 */
function selfCommand(): string[] {
  const script =
    process.argv[1] && /lifeboat(\.cjs)?$|cli\.js$/.test(process.argv[1])
      ? process.argv[1]
      : join(__dirname, '..', '..', 'bin', 'lifeboat.cjs');
  return existsSync(script) ? [process.execPath, realpathSync(script)] : [process.execPath, join(__dirname, 'cli.js')];
}

export function registerDemo(program: Command, io: CliIo): void {
  program
    .command('demo')
    .description(
      'the whole product on this machine: scratch PostgreSQL + WAL archiving, keys, folder and S3 media, backups, scan, deep verify, PITR window, the monthly drill and its report',
    )
    .option('--dir <dir>', 'where to put everything (default: a new temp folder)')
    .option('--keep', 'keep the demo folder (open it in the app: npm start -- --demo-dir <dir>)')
    .option('--small', 'a smaller database (for quick runs)')
    .option('--json', 'print the summary as JSON')
    .action(async (opts: { dir?: string; keep?: boolean; small?: boolean; json?: boolean }) => {
      const { runDemo } = await import('../../demo/demo');
      const started = Date.now();
      const s = await runDemo({
        dir: opts.dir,
        keep: Boolean(opts.keep),
        cliCommand: selfCommand(),
        scale: opts.small ? { customers: 2000, orders: 20_000 } : undefined,
        say: (line) => {
          if (!opts.json) io.stdout.write(`${line}\n`);
        },
      });
      if (opts.json) {
        printJson(io, {
          ok: s.drill.status === 'succeeded' && s.verified.failed === 0,
          duration_ms: Date.now() - started,
          ...s,
        });
      } else {
        const d = s.drill;
        io.stdout.write(`\nSummary (${formatDuration((Date.now() - started) / 1000)})\n`);
        io.stdout.write(
          `  sets: ${s.sets.length} (${s.sets.map((x) => x.kind).join(', ')}) on ${s.media.length} media: ${s.media.join(', ')}\n`,
        );
        io.stdout.write(
          `  verified at deep level: ${s.verified.sets - s.verified.failed} of ${s.verified.sets} sets, ${formatBytes(s.verified.bytes)}${s.verified.bytesPerSecond ? ` at ${formatBytes(s.verified.bytesPerSecond)}/s` : ''}\n`,
        );
        if (s.window)
          io.stdout.write(`  PITR window: ${s.window.from} → ${s.window.to ?? '—'} (${s.walSegments} WAL segments)\n`);
        io.stdout.write(
          `  drill ${d.run}: ${d.status}; ${d.restoredTables ?? 0} tables restored; checks ${d.checks.filter((c) => c.ok).length}/${d.checks.length} passed\n`,
        );
        io.stdout.write(
          `  achieved RTO ${d.rtoSeconds !== null ? formatDuration(d.rtoSeconds) : '—'} (objective ${formatDuration(d.rtoObjectiveSeconds)}), RPO ${d.rpoSeconds !== null ? formatDuration(d.rpoSeconds) : '—'} (objective ${formatDuration(d.rpoObjectiveSeconds)}); objectives from ${d.objectivesFrom}\n`,
        );
        io.stdout.write(
          s.kept
            ? `  report: ${s.report}\n  open the app on it: npm start -- --demo-dir=${s.dir}\n  or in a browser: npm run bridge -- --demo-dir ${s.dir}\n`
            : `  (the demo folder was removed; rerun with --keep to look at the report and open the app on it)\n`,
        );
      }
      if (s.drill.status !== 'succeeded' || s.verified.failed > 0) process.exitCode = 1;
    });
}
