import { appendFileSync, chmodSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AgeIdentity } from '../crypto/age';
import { loadPublicKey, parseSignature, verifySignature } from '../crypto/signing';
import type { TrustedKey } from '../catalog/trust';
import { LifeboatError } from '../errors';
import type { ArchivedWal } from '../format/wal-names';
import { parseManifest, type Artifact, type Manifest } from '../format/manifest';
import type { JobContext } from '../jobs/job-manager';
import { chownTree, findPgBinDir, freePort, postgresRunAs, type RunAs } from '../postgres/scratch-cluster';
import { gateStages, specOf } from './gate';
import { extractTar } from './extract';
import type { Medium } from '../storage/medium';
import { pickWalSource, planPitr, type BaseBackup, type PitrPlan } from '../pitr/plan';
import type { WalSource } from '../pitr/plan';
import type { WalReader } from '../pitr/wal-archive';
import type { PgbrWalSource } from '../pitr/pgbackrest-source';
import { restorePgbrBackup } from './pgbackrest';
import type { PgbrKeys } from '../foreign/pgbackrest/wal';
import { refusal } from '../pitr/wal-signature';
import { BackupManifestTap, describeProblems, manifestAlgorithms } from '../pitr/backup-manifest';
import { recoveryConfig } from '../pitr/recovery-config';
import { RecoveryServer, serverMajorOf } from '../pitr/recovery-server';
import { WalSpool } from '../pitr/wal-spool';

export interface PitrRestoreInput {
  medium: Medium;
  system: string;
  targetTime: string;
  dataDir: string;
  identities: AgeIdentity[];
  trusted: TrustedKey[];
  /** The operator accepted unsigned WAL, or WAL signed by a key that is not pinned (--allow-unsigned-wal): logged as a warning. */
  allowUnsignedWal?: boolean;
  port?: number;
  pgBinDir?: string;
  /** Stop the server once promoted (tests, drills); otherwise it is left running for the operator. */
  stopAfter?: boolean;
  /** Seconds to wait for replay and promotion. */
  timeoutSeconds?: number;
  /** The repository passphrase when the system's archive is an encrypted pgBackRest stanza. */
  pgbrKeys?: PgbrKeys;
  /**
   * The trust rule (foreign/trust.ts) for a foreign base backup, with the catalog's ledger: throws when
   * the set may not be restored (never verified here and no override), else its named state. Without it
   * (no catalog), the state is said to be unjudged in the warnings.
   */
  admitForeignBase?: (base: BaseBackup, mediumLocation: string) => Promise<{ text: string; overridden: boolean }>;
}

export interface PitrRestoreResult {
  dataDir: string;
  port: number;
  base: string;
  segments: number;
  targetTime: string;
  /** The last transaction replayed: the achieved recovery point. */
  replayedTo: string | null;
  timeline: number | null;
  durationMs: number;
  running: boolean;
  /** How to stop the server left running: pg_ctl by its full path (often not on PATH), as the postgres user when Lifeboat ran as root (pg_ctl refuses root). */
  stopCommand: string;
  warnings: string[];
  /** WAL files the restore used although not signed by a pinned key (only with allowUnsignedWal), with their state. */
  unsignedWalAccepted: Array<{ name: string; state: string }>;
  plan: PitrPlan;
}

type RestoreCtx = Pick<JobContext, 'signal' | 'progress' | 'step' | 'log'>;

/**
 * Point-in-time recovery into an empty data directory: the planner picks the base backup and
 * the segments; the base backup is checked (stored and plaintext hashes, signature by a pinned
 * key when it is signed) while it is extracted; every needed segment is fetched, decrypted,
 * decompressed and hash-checked into a local spool while PostgreSQL replays (its
 * restore_command is a local copy of a proven file), to the target, then promotes.
 *
 * The phases, each a function: plan (planRestore, refuseUnusable) → admit the base backup
 * (admitBase) → prepare the target (the spool, wal-spool.ts) → extract the base (extractBaseBackup)
 * → write the recovery config (writeRecoveryConfig, recovery-config.ts) → start and replay → read
 * the recovery point reached (recovery-server.ts) → finish (stop when asked, the result).
 */
export async function restorePitr(input: PitrRestoreInput, ctx: RestoreCtx): Promise<PitrRestoreResult> {
  const started = Date.now();
  const dataDir = emptyTarget(input.dataDir);
  ctx.step('planning');
  const p = await planRestore(input, ctx);
  const base = await admitBase(input, p, ctx);
  const runAs = postgresRunAs();
  const timeoutSeconds = input.timeoutSeconds ?? 600;
  const spool = new WalSpool(runAs);
  const server = new RecoveryServer(p.binDir, dataDir, runAs);
  try {
    spool.start(p.needed, (w, use) => p.source.read(w, use), ctx);
    ctx.step(`extracting ${p.base.setId}`);
    p.warnings.push(...(await extractBaseBackup(input, p, base, dataDir, ctx)));
    spool.extracted();
    ctx.step('configuring recovery');
    const port = input.port ?? (await freePort());
    writeRecoveryConfig(dataDir, spool, p, runAs);
    ctx.step(`replaying WAL to ${p.target.time}`);
    await server.start(port, timeoutSeconds, spool);
    await server.untilPromoted(spool, timeoutSeconds, ctx.signal);
    const reached = await server.recoveryPoint();
    if (input.stopAfter) await server.stop('fast');
    return {
      dataDir,
      port,
      base: p.base.setId,
      segments: p.needed.length,
      targetTime: p.target.time,
      replayedTo: reached.at ? reached.at.toISOString() : null,
      timeline: reached.tli ?? null,
      durationMs: Date.now() - started,
      running: !input.stopAfter,
      stopCommand: server.stopCommand(),
      warnings: p.warnings,
      unsignedWalAccepted: p.accepted,
      plan: p.plan,
    };
  } catch (e) {
    if (server.started) await server.stop('immediate').catch(() => undefined);
    throw e;
  } finally {
    // The spool holds decrypted WAL: it goes as soon as replay is over (or failed).
    await spool.close();
  }
}

/** The data directory, resolved; refused unless it is empty or absent. */
function emptyTarget(path: string): string {
  const dataDir = resolve(path);
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    throw new LifeboatError(
      'PRECONDITION_FAILED',
      `${dataDir} is not empty. A point-in-time restore needs an empty (or absent) data directory.`,
      { hint: 'Choose a new folder; never restore over a data directory that may be in use.' },
    );
  }
  return dataDir;
}

/** What the plan phase decided: the base backup, the WAL files to fetch, the server binaries, what to warn of. */
interface RestorePlan {
  plan: PitrPlan;
  target: NonNullable<PitrPlan['target']>;
  source: WalSource;
  base: BaseBackup;
  binDir: string;
  /** Every history file and the target's chain of segments, in the order replay reads them. */
  needed: ArchivedWal[];
  /** WAL files not signed by a pinned key that the operator accepted (--allow-unsigned-wal). */
  accepted: Array<{ name: string; state: string }>;
  warnings: string[];
}

/**
 * Phase 1: the plan (Lifeboat's own archive, or a pgBackRest stanza of this name: pickWalSource),
 * refused before anything is extracted when a WAL file is refused, no base backup ends before the
 * target, the target is outside the window, or the server binaries are of another major version.
 */
async function planRestore(input: PitrRestoreInput, ctx: Pick<JobContext, 'log'>): Promise<RestorePlan> {
  const trust = { trusted: input.trusted, allowUnsigned: Boolean(input.allowUnsignedWal) };
  const reader: WalReader = { system: input.system, identities: input.identities, trust };
  const source = await pickWalSource(input.medium, input.system, reader, input.pgbrKeys);
  const archive = await source.list();
  const plan = await planPitr(input.medium, input.system, {
    targetTime: input.targetTime,
    identities: input.identities,
    trust,
    pgBinDir: input.pgBinDir,
    archive,
    source,
  });
  const target = plan.target!;
  refuseUnusable(input, target);
  const base = plan.bases.find((b) => b.setId === target.base)!;
  const binDir = findPgBinDir(input.pgBinDir);
  const major = serverMajorOf(binDir);
  if (base.serverMajor && major !== base.serverMajor) {
    throw new LifeboatError(
      'TOOL_VERSION_MISMATCH',
      `The base backup is of PostgreSQL ${base.serverMajor}; the server binaries in ${binDir} are ${major}. A physical backup restores only with the same major version.`,
      { hint: `Install PostgreSQL ${base.serverMajor} server binaries and point --pg-bin at them.` },
    );
  }
  const histories = archive.filter((w) => w.kind === 'history');
  const chain = new Set(target.segments);
  const needed = [...histories, ...archive.filter((w) => chain.has(w.name))];
  const needs = new Set([...target.segments, ...histories.map((w) => w.name)]);
  const accepted = trust.allowUnsigned
    ? plan.signatures.problems
        .filter((q) => needs.has(q.name) && (q.state === 'unsigned' || q.state === 'untrusted-signer'))
        .map(({ name, state }) => ({ name, state }))
    : [];
  const warnings = [...target.warnings];
  if (accepted.length) {
    // The operator's explicit acceptance is part of the record of the run.
    const line = `--allow-unsigned-wal: ${accepted.length} WAL files not signed by a pinned key were accepted (${accepted
      .slice(0, 5)
      .map((q) => `${q.name}: ${q.state}`)
      .join('; ')}${accepted.length > 5 ? '; …' : ''})`;
    ctx.log('warn', line);
    warnings.push(line);
  }
  return { plan, target, source, base, binDir, needed, accepted, warnings };
}

/** A plan a restore cannot follow: a refused WAL file (replay would stop midway), no base backup, a target outside the window. */
function refuseUnusable(input: PitrRestoreInput, target: NonNullable<PitrPlan['target']>): void {
  const refused = target.refused[0];
  if (refused) {
    const e =
      refused.state === 'duplicate'
        ? new LifeboatError('FORMAT_INVALID', `The archived WAL file ${refused.name} was refused: ${refused.reason}.`)
        : refusal(refused.name, { state: refused.state, keyId: null, facts: null, reason: refused.reason });
    const more =
      target.refused.length > 1
        ? ` ${target.refused.length - 1} more WAL files the restore needs are refused too.`
        : '';
    throw new LifeboatError(e.code, `${e.message}${more} Nothing was restored.`, { hint: e.hint });
  }
  if (!target.base)
    throw new LifeboatError(
      'NOT_FOUND',
      `No base backup of ${input.system} on ${input.medium.location} ends before ${target.time}.`,
      { hint: target.warnings.join(' ') || undefined },
    );
  if (!target.inside) {
    throw new LifeboatError(
      'PRECONDITION_FAILED',
      `${target.time} is outside the recoverable window of ${input.system}: ${target.warnings[0] ?? ''}`,
      { hint: 'See lifeboat pitr plan for the window; choose a target inside it.' },
    );
  }
}

/** A Lifeboat base backup to extract (its manifest read and judged); null for a pgBackRest backup. */
type AdmittedBase = { manifest: Manifest; artifact: Artifact } | null;

/**
 * Phase 2: a Lifeboat base has its manifest signed by a pinned key when it is signed at all. A
 * pgBackRest backup has no Lifeboat signature: it is trusted by its manifest's checksums, every
 * file checked against them before it is put in place (foreign/pgbackrest/restore.ts), and by the
 * trust rule the caller gives (admitForeignBase). What is not proven is added to the warnings.
 */
async function admitBase(input: PitrRestoreInput, p: RestorePlan, ctx: Pick<JobContext, 'log'>): Promise<AdmittedBase> {
  const { base, warnings } = p;
  if (p.source.origin !== 'lifeboat') {
    const admitted = input.admitForeignBase ? await input.admitForeignBase(base, input.medium.location) : null;
    const state = admitted
      ? `${admitted.text}${admitted.overridden ? '; accepted with the override (--allow-unsigned)' : ''}`
      : 'trust not judged: no catalog';
    if (admitted?.overridden) ctx.log('warn', `${base.setId}: ${state}`);
    warnings.push(
      `${base.setId} is a pgBackRest backup (foreign; ${state}): every file is checked against its manifest's checksums, WAL against the SHA-1 in each name`,
    );
    return null;
  }
  const manifestBytes = await input.medium.readFile(`${base.setPath}/manifest.json`);
  const manifest = parseManifest(manifestBytes);
  const sig = await input.medium.readOptional(`${base.setPath}/manifest.json.sig`);
  if (sig) {
    const { keyId, signature } = parseSignature(sig);
    const key = input.trusted.find((k) => k.keyId === keyId);
    if (!key) warnings.push(`the base backup is signed by ${keyId}, a key that is not pinned`);
    else if (!verifySignature(manifestBytes, signature, loadPublicKey(key.publicKeyPem).publicKey))
      throw new LifeboatError(
        'SIGNATURE_INVALID',
        `The signature of ${base.setId} does not verify: the manifest was changed. Nothing was restored.`,
      );
  } else warnings.push('the base backup is not signed');
  const artifact = manifest.artifacts.find((a) => a.role === 'base-tar');
  if (!artifact) throw new LifeboatError('FORMAT_INVALID', `${base.setId} has no base-tar artifact.`);
  return { manifest, artifact };
}

/** Phase 4: the base backup into the (new) data directory, checked as it goes. Returns warnings. */
async function extractBaseBackup(
  input: PitrRestoreInput,
  p: RestorePlan,
  admitted: AdmittedBase,
  dataDir: string,
  ctx: Pick<JobContext, 'signal' | 'progress'>,
): Promise<string[]> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  try {
    return await extractInto(input, p, admitted, dataDir, ctx);
  } catch (e) {
    // The data directory was empty (emptyTarget): what a failed or cancelled extraction left in it
    // is unchecked data with a backup_label, which a server could be started on. It goes.
    for (const name of readdirSync(dataDir)) rmSync(join(dataDir, name), { recursive: true, force: true });
    throw e;
  }
}

async function extractInto(
  input: PitrRestoreInput,
  p: RestorePlan,
  admitted: AdmittedBase,
  dataDir: string,
  ctx: Pick<JobContext, 'signal' | 'progress'>,
): Promise<string[]> {
  const warnings: string[] = [];
  if (admitted) {
    const { manifest, artifact } = admitted;
    ctx.progress({ bytesTotal: artifact.plain_bytes, bytesDone: 0 });
    const path = `${p.base.setPath}/${artifact.path}`;
    warnings.push(...(await extractBase(input, p.base.setId, path, artifact, manifest.source, dataDir, ctx)));
  } else {
    const pgbr = p.source as PgbrWalSource;
    ctx.progress({ bytesTotal: p.base.bytes || null, bytesDone: 0 });
    await restorePgbrBackup({
      medium: input.medium,
      stanza: pgbr.stanza,
      label: p.base.setId,
      repoPassphrase: pgbr.keys.repoPassphrase,
      dataDir,
      signal: ctx.signal,
      onBytes: (n) => ctx.progress({ bytesDone: n }),
    });
  }
  ctx.progress({ bytesTotal: null, bytesDone: 0 });
  return warnings;
}

/** Phase 5: replay to the target through the spool, then promote (recovery-config.ts); the folder made the server's. */
function writeRecoveryConfig(dataDir: string, spool: WalSpool, p: RestorePlan, runAs: RunAs | null): void {
  appendFileSync(
    join(dataDir, 'postgresql.auto.conf'),
    recoveryConfig({
      scriptPath: spool.scriptPath,
      spool: spool.dir,
      targetTime: p.target.time,
      base: p.base.setId,
      stop: p.target.stop,
    }),
  );
  writeFileSync(join(dataDir, 'recovery.signal'), '');
  rmSync(join(dataDir, 'postmaster.pid'), { force: true });
  chmodSync(dataDir, 0o700);
  if (runAs) chownTree(dataDir, runAs);
}

/**
 * The one place the base backup is decoded and extracted (the restore gate takes this over):
 * stored and plaintext SHA-256 against the manifest, then every file against PostgreSQL's own
 * backup_manifest inside the tar (sizes and checksums, as pg_verifybackup). Returns warnings.
 */
async function extractBase(
  input: PitrRestoreInput,
  setId: string,
  path: string,
  artifact: Parameters<typeof specOf>[1],
  source: Record<string, unknown>,
  dataDir: string,
  ctx: Pick<JobContext, 'signal' | 'progress'>,
): Promise<string[]> {
  // Through the gate's stages (restore/gate.ts): sizes are hard stops, hashes fail the stream at its end;
  // PostgreSQL's own backup_manifest is checked on the plaintext as it passes.
  const gated = gateStages(specOf(setId, artifact), input.identities, {
    check: true,
    onPlainBytes: (n) => ctx.progress({ bytesDone: n }),
  });
  const pgManifest = new BackupManifestTap(manifestAlgorithms(source));
  await extractTar(await input.medium.openRead(path), [...gated.stages, pgManifest], dataDir, {
    accept: () => true,
    signal: ctx.signal,
  });
  if (gated.stored.sha256() !== artifact.sha256 || gated.plain.sha256() !== artifact.plain_sha256) {
    throw new LifeboatError(
      'CHECKSUM_MISMATCH',
      `The base backup ${setId} does not match its manifest (SHA-256 differs). The data directory is not usable.`,
      { hint: 'Use another base backup or another copy.' },
    );
  }
  const r = pgManifest.result();
  if (!r.present)
    return [
      "the base backup holds no backup_manifest (PostgreSQL before 13): its files were not checked against PostgreSQL's own checksums",
    ];
  if (!r.ok) {
    throw new LifeboatError(
      'CHECKSUM_MISMATCH',
      `The base backup ${setId} differs from PostgreSQL's own backup_manifest: ${describeProblems(r)}. The data directory is not usable.`,
      {
        hint: 'The bytes changed between the server and the backup (or on the medium, re-encoded): use another base backup.',
      },
    );
  }
  return [];
}
