import { existsSync, mkdirSync, chmodSync, rmSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import type { Catalog } from '../../catalog/catalog';
import { trustedKeys } from '../../catalog/trust';
import { LifeboatError } from '../../errors';
import { planPitr } from '../../pitr/plan';
import { restorePitr, type PitrRestoreInput } from '../../pitr/restore-pitr';
import { admitRestore, evidenceOf, factsOfDescription, judgeTrust } from '../../foreign/trust';
import { pgbrKeysFor } from '../../foreign/secrets';
import { ledgerOf } from '../../verify/verify';
import { findPgBinDir, postgresRunAs, runPgTool } from '../../postgres/scratch-cluster';
import { defineAction } from './types';
import { pitrMedium } from '../../catalog/pitr-medium';

const Iso = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'a date and time (ISO 8601)');

/**
 * The one trust rule (foreign/trust.ts) for a pgBackRest base backup a PITR restore is about to use:
 * its evidence is its manifest's checksums (each file is checked against them as it is written); a
 * set never verified here needs the override, like any foreign set.
 */
export function foreignBaseAdmission(
  catalog: Catalog,
  system: string,
  allowUnsigned: boolean,
): NonNullable<PitrRestoreInput['admitForeignBase']> {
  return (base, location) => {
    const row = catalog
      .stmt("SELECT key, origin, facts_json AS json FROM sets WHERE system = ? AND set_id = ? AND origin != 'lifeboat'")
      .get(system, base.setId) as { key: string; origin: string; json: string | null } | undefined;
    const medium = catalog.stmt('SELECT id FROM media WHERE location = ?').get(location) as { id: string } | undefined;
    const firstVerified = row ? ledgerOf(catalog).firstGood(row.key, medium?.id) : null;
    const trust = judgeTrust({
      origin: row?.origin ?? 'pgbackrest',
      evidence: evidenceOf(factsOfDescription(row?.json)) ?? 'pgbackrest-manifest',
      firstVerified,
    });
    return Promise.resolve({
      text: trust.text,
      overridden: admitRestore(row?.key ?? `${system}/${base.setId}`, trust, allowUnsigned).overridden,
    });
  };
}

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

interface PitrCheckpoint {
  /** The data directory this run created (a resume may remove it and start again). */
  created?: string;
}

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
  condition: (p, checkpoint, drill) =>
    drill
      ? 'the scratch data directory is removed when the run ends'
      : (checkpoint as PitrCheckpoint | null)?.created
        ? `${p.data_dir} was created by this run and holds a partial recovery: resume to remove it and recover again`
        : p.data_dir
          ? `${p.data_dir} was not touched`
          : 'nothing was touched (no data directory given)',
  async run(p, ctx) {
    const cp = { ...((ctx.checkpoint ?? {}) as PitrCheckpoint) };
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
    const binDir = findPgBinDir(ctx.deps.settings.pgBinDir || undefined);
    if (cp.created === dataDir && existsSync(dataDir)) {
      ctx.log('info', `removing ${dataDir}, left partial by the interrupted attempt of this run`);
      await runPgTool(join(binDir, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], {
        runAs: postgresRunAs(),
      }).catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    }
    if (!existsSync(dataDir)) {
      cp.created = dataDir;
      ctx.saveCheckpoint(cp);
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    }
    const medium = await pitrMedium(ctx.deps.catalog, p.system, p.medium, ctx.deps.openMedium);
    if (!medium)
      throw new LifeboatError('STORAGE_UNREACHABLE', `No reachable medium holds a base backup of ${p.system}.`, {
        hint: 'Connect the medium with the base backups and the WAL archive, scan it, and resume.',
      });
    const r = await restorePitr(
      {
        medium,
        system: p.system,
        targetTime: p.target_time,
        dataDir,
        identities: ctx.deps.identities,
        trusted: trustedKeys(ctx.deps.catalog),
        allowUnsignedWal: p.allow_unsigned_wal,
        port: p.port,
        pgBinDir: ctx.deps.settings.pgBinDir || undefined,
        stopAfter: false,
        timeoutSeconds: p.timeout,
        pgbrKeys: await pgbrKeysFor(p.system, { keychain: ctx.deps.credentials }),
        admitForeignBase: foreignBaseAdmission(ctx.deps.catalog, p.system, p.allow_unsigned),
      },
      { ...ctx, step: (s) => ctx.log('info', s) },
    );
    if (ctx.drill && clusterDir) ctx.adoptScratchPostgres(clusterDir, binDir, r.port);
    return {
      system: p.system,
      base: r.base,
      medium: medium.location,
      target_time: r.targetTime,
      replayed_to: r.replayedTo,
      // The achieved recovery point: the last transaction replayed (for the report's RPO).
      set_created_at: r.replayedTo ?? r.plan.windows.find((w) => w.base === r.base)?.from ?? null,
      timeline: r.timeline,
      segments: r.segments,
      data_dir: r.dataDir,
      host: '127.0.0.1',
      port: r.port,
      url: `postgres://postgres@127.0.0.1:${r.port}/postgres`,
      stop_command: r.stopCommand,
      duration_ms: r.durationMs,
      // The operator's acceptance of unsigned WAL is part of the step's journaled output.
      allow_unsigned_wal: p.allow_unsigned_wal,
      unsigned_wal_accepted: r.unsignedWalAccepted,
      warnings: r.warnings,
    };
  },
});
