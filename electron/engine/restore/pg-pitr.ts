import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Catalog } from '../catalog/catalog';
import { ledgerOf } from '../catalog/ledger';
import { foreignSet, mediumIdAt } from '../catalog/lookups';
import { pitrMedium } from '../catalog/pitr-medium';
import { trustedKeys } from '../catalog/trust';
import { LifeboatError } from '../errors';
import type { PgbrKeys } from '../foreign/pgbackrest/wal';
import { admitRestore, evidenceOf, factsOfDescription, judgeTrust } from '../foreign/trust';
import { findPgBinDir, postgresRunAs, runPgTool } from '../postgres/scratch-cluster';
import type { RestoreContext } from './context';
import { restorePitr, type PitrRestoreInput } from './restore-pitr';

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
    const row = foreignSet(catalog, system, base.setId);
    const mediumId = mediumIdAt(catalog, location);
    const firstVerified = row ? ledgerOf(catalog).firstGood(row.key, mediumId ?? undefined) : null;
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

/** A point-in-time recovery's parameters (the restore.pg-pitr step's, after parsing). */
export interface PgPitrParams {
  system: string;
  target_time: string;
  /** The medium holding the base backups and the WAL archive; the catalog's reachable one when absent. */
  medium?: string;
  port?: number;
  /** Seconds replay may take. */
  timeout: number;
  /** Explicit acceptance of WAL not signed by a pinned key; the accepted files are logged in the journal. */
  allow_unsigned_wal: boolean;
  /** Explicit acceptance of a foreign base backup (pgBackRest) never verified here (the trust rule's override). */
  allow_unsigned: boolean;
}

interface PitrCheckpoint {
  /** The data directory this run created (a resume may remove it and start again). */
  created?: string;
}

/** What a stopped recovery left, for the step's condition. */
export function pgPitrCondition(dataDir: string | undefined, checkpoint: unknown, drill: boolean): string {
  return drill
    ? 'the scratch data directory is removed when the run ends'
    : (checkpoint as PitrCheckpoint | null)?.created
      ? `${dataDir} was created by this run and holds a partial recovery: resume to remove it and recover again`
      : dataDir
        ? `${dataDir} was not touched`
        : 'nothing was touched (no data directory given)';
}

/**
 * Base backup + WAL replayed to the target time and promoted, into `dataDir` (empty or absent; one
 * this run created and left partial is removed first), the server left running. `pgbrKeys` open an
 * encrypted pgBackRest repository. The output is the step's (the achieved recovery point is the last
 * transaction replayed); `port` and `binDir` let a drill adopt the server as its scratch one.
 */
export async function recoverToTime(
  p: PgPitrParams,
  ctx: RestoreContext,
  o: { dataDir: string; pgbrKeys: PgbrKeys },
): Promise<{ output: Record<string, unknown>; port: number; binDir: string }> {
  const { dataDir } = o;
  const cp = { ...((ctx.checkpoint ?? {}) as PitrCheckpoint) };
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
      pgbrKeys: o.pgbrKeys,
      admitForeignBase: foreignBaseAdmission(ctx.deps.catalog, p.system, p.allow_unsigned),
    },
    { ...ctx, step: (s) => ctx.log('info', s) },
  );
  return {
    port: r.port,
    binDir,
    output: {
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
    },
  };
}
