import { LifeboatError } from '../../engine/errors';
import { fetchWal, pushWal } from '../../engine/pitr/wal-archive';
import { openMedium } from '../../engine/storage/open-medium';
import { readIdentities, readRecipients } from '../keys-io';
import { formatDuration, printJson, type CliIo } from '../output';
import type { PitrRestoreOptions, PlanOptions, WalFetchOptions, WalPushOptions } from './pitr';

export async function walPushCommand(io: CliIo, path: string, opts: WalPushOptions): Promise<void> {
  const r = await pushWal(await openMedium(opts.to), opts.system, path, readRecipients(opts.recipient ?? []));
  if (r.already) io.stderr.write(`lifeboat: ${r.name} was already archived with the same content\n`);
}

export async function walFetchCommand(io: CliIo, name: string, dest: string, opts: WalFetchOptions): Promise<void> {
  const got = await fetchWal(await openMedium(opts.from), opts.system, name, dest, readIdentities(opts.identity ?? []));
  // Absent files are normal at the end of recovery: a quiet non-zero exit, as PostgreSQL expects.
  if (!got) process.exitCode = 1;
}

export async function planCommand(io: CliIo, opts: PlanOptions): Promise<void> {
  const { planPitr } = await import('../../engine/pitr/plan');
  const plan = await planPitr(await openMedium(opts.from), opts.system, { targetTime: opts.targetTime, identities: readIdentities(opts.identity ?? []), pgBinDir: opts.pgBin });
  if (opts.json) {
    printJson(io, plan);
  } else {
    io.stdout.write(`PITR plan for ${plan.system} on ${plan.medium}\n`);
    io.stdout.write(`  base backups: ${plan.bases.length ? '' : 'none'}\n`);
    for (const b of plan.bases) io.stdout.write(`    ${b.setId}  timeline ${b.timeline}  ${b.startLsn} → ${b.stopLsn}  finished ${b.finishedAt}\n`);
    io.stdout.write(`  timelines: ${plan.timelines.map((t) => `${t.timeline}${t.parent ? ` (from ${t.parent} at ${t.switchLsn})` : ''}: ${t.segments} segments ${t.first ?? ''}…${t.last ?? ''}`).join('; ') || 'none archived'}\n`);
    for (const w of plan.windows) io.stdout.write(`  recoverable window from ${w.base}: ${w.from} → ${w.to ?? '—'} (${w.toBasis}; ${w.segments} contiguous segments to ${w.lastSegment}, timeline ${w.timeline})\n`);
    if (plan.target) {
      io.stdout.write(`  target ${plan.target.time}: ${plan.target.inside ? 'INSIDE the window' : 'OUTSIDE the window'}${plan.target.base ? `; base ${plan.target.base} + ${plan.target.segments.length} segments` : ''}\n`);
      for (const w of plan.target.warnings) io.stdout.write(`    warning: ${w}\n`);
    }
    for (const w of plan.warnings) io.stdout.write(`  warning: ${w}\n`);
  }
  if (plan.target && !plan.target.inside) process.exitCode = 1;
}

export async function restorePitrCommand(io: CliIo, opts: PitrRestoreOptions): Promise<void> {
  const { restorePitr } = await import('../../engine/pitr/restore-pitr');
  const { trustedKeys } = await import('../../engine/catalog/trust');
  const { withCliEngine } = await import('../engine');
  const { runAsJob } = await import('../run-job');
  if (opts.port !== undefined && (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535)) throw new LifeboatError('BAD_INPUT', '--port takes a port number.');
  const identities = readIdentities(opts.identity ?? []);
  await withCliEngine(async (engine) => {
    const medium = await openMedium(opts.from);
    const r = await runAsJob(engine, io, { kind: 'restore', title: `PITR of ${opts.system}` }, (ctx) =>
      restorePitr({ medium, system: opts.system, targetTime: opts.targetTime, dataDir: opts.dataDir, identities, trusted: trustedKeys(engine.catalog), port: opts.port, pgBinDir: opts.pgBin ?? (engine.settings().pgBinDir || undefined), stopAfter: Boolean(opts.stop) }, ctx),
    );
    if (opts.json) {
      const { plan, ...rest } = r;
      printJson(io, { ok: true, ...rest, window: plan.windows.find((w) => w.base === r.base) ?? null });
      return;
    }
    io.stdout.write(`Recovered ${opts.system} to ${r.targetTime} from ${r.base} + ${r.segments} WAL files in ${formatDuration(r.durationMs / 1000)}\n`);
    io.stdout.write(`  last replayed transaction: ${r.replayedTo ?? 'none (no commit after the base backup)'}; timeline ${r.timeline ?? '?'}\n`);
    for (const w of r.warnings) io.stdout.write(`  warning: ${w}\n`);
    io.stdout.write(r.running ? `  PostgreSQL runs on 127.0.0.1:${r.port} with data in ${r.dataDir}; stop it with: pg_ctl -D ${r.dataDir} stop\n` : `  data in ${r.dataDir} (server stopped)\n`);
  });
}
