import { chmodSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { trustedKeys } from '../../catalog/trust';
import { LifeboatError } from '../../errors';
import { planPitr } from '../../pitr/plan';
import { pgbrKeysFor } from '../../foreign/secrets';
import { pgPitrCondition, recoverToTime } from '../../restore/pg-pitr';
import { defineAction } from './types';
import { pitrMedium } from '../../catalog/pitr-medium';

const Iso = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'a date and time (ISO 8601)');

/**
 * pitr.plan: can this system be recovered to a point in time, and to this one? Never fails for
 * "no": it answers `available: false` with the reason, so a runbook can fall back to the newest
 * logical set (a step with `unless: "{{ steps.plan.output.available }}"`).
 */
export const pitrPlan = defineAction({
  params: z
    .object({
      system: z.string().min(1),
      target_time: Iso,
      medium: z.string().optional(),
      allow_unsigned_wal: z.boolean().default(false),
    })
    .strict(),
  describe: (p) => `plan a point-in-time recovery of ${p.system} to ${p.target_time}`,
  async run(p, ctx) {
    const medium = await pitrMedium(ctx.deps.catalog, p.system, p.medium, ctx.deps.openMedium);
    if (!medium)
      return { available: false, reason: `no reachable medium holds a base backup of ${p.system}`, medium: null };
    const trust = { trusted: trustedKeys(ctx.deps.catalog), allowUnsigned: p.allow_unsigned_wal };
    const plan = await planPitr(medium, p.system, {
      targetTime: p.target_time,
      identities: ctx.deps.identities,
      trust,
      pgBinDir: ctx.deps.settings.pgBinDir || undefined,
      pgbrKeys: await pgbrKeysFor(p.system, { keychain: ctx.deps.credentials }),
    });
    const t = plan.target!;
    const w = plan.windows.find((x) => x.base === t.base) ?? null;
    // WAL the signature policy refuses makes the target unavailable, as a gap would.
    const refused = t.refused[0];
    return {
      available: t.inside && !refused,
      reason: !t.inside
        ? (t.warnings[0] ?? 'the target is outside the recoverable window')
        : refused
          ? `the WAL file ${refused.name} is refused (${refused.state}: ${refused.reason})`
          : null,
      medium: medium.location,
      base: t.base,
      window_from: w?.from ?? null,
      window_to: w?.to ?? null,
      window_basis: w?.toBasis ?? null,
      segments: t.segments.length,
      warnings: [...t.warnings, ...plan.warnings],
    };
  },
});

/**
 * restore.pg-pitr: base backup + WAL replayed to the target time, promoted. In a drill the data
 * directory is a scratch folder and the restored server becomes the run's scratch server (later
 * checks run against it; it is removed with the run). Live: an empty data directory, the server
 * left running on the given port.
 */
export const restorePgPitr = defineAction({
  params: z
    .object({
      system: z.string().min(1),
      target_time: Iso,
      medium: z.string().optional(),
      data_dir: z.string().optional(),
      port: z.number().int().min(1).max(65535).optional(),
      timeout: z.number().int().min(10).default(1800),
      // Explicit acceptance of WAL not signed by a pinned key; the accepted files are logged in the journal.
      allow_unsigned_wal: z.boolean().default(false),
      // Explicit acceptance of a foreign base backup (pgBackRest) never verified here (the trust rule's override).
      allow_unsigned: z.boolean().default(false),
    })
    .strict(),
  describe: (p) => `recover ${p.system} to ${p.target_time} (base backup + WAL)`,
  condition: (p, checkpoint, drill) => pgPitrCondition(p.data_dir, checkpoint, drill),
  async run(p, ctx) {
    let dataDir: string;
    let clusterDir: string | null = null;
    if (ctx.drill) {
      clusterDir = ctx.scratchDir(`pitr-${ctx.stepId}`);
      chmodSync(clusterDir, 0o711);
      dataDir = join(clusterDir, 'data');
    } else {
      if (!p.data_dir || !isAbsolute(p.data_dir)) {
        // A run's inputs are fixed at its start: an operator who left the (optional) data_dir input out must start again.
        throw new LifeboatError(
          'BAD_INPUT',
          `restore.pg-pitr needs data_dir: an absolute path to an empty (or absent) folder${p.data_dir ? ` (got ${p.data_dir})` : ''}.`,
          {
            hint: 'In a runbook it comes from an input (data_dir in the built-ins): end this run with lifeboat run --cancel <run> --reason …, then start it again with --input data_dir=<empty folder>.',
          },
        );
      }
      dataDir = resolve(p.data_dir);
    }
    const r = await recoverToTime(p, ctx, {
      dataDir,
      pgbrKeys: await pgbrKeysFor(p.system, { keychain: ctx.deps.credentials }),
    });
    if (ctx.drill && clusterDir) ctx.adoptScratchPostgres(clusterDir, r.binDir, r.port);
    return r.output;
  },
});
