import { join } from 'node:path';
import { secretFor } from '../../engine/credentials/credential-store';
import { backupFiles } from '../../engine/backup/files-backup';
import { backupPgLogical } from '../../engine/backup/pg-logical';
import type { SetPlan, WrittenSet } from '../../engine/backup/set-writer';
import { rememberMedium } from '../../engine/catalog/known-media';
import { recordFileIndex, recordMedium, recordSet, setIdKnown } from '../../engine/catalog/sets';
import { judgeSystem } from '../../engine/catalog/trends';
import { indicatorThresholds } from '../../engine/settings/settings';
import type { Engine } from '../../engine/engine';
import { LifeboatError } from '../../engine/errors';
import { sha256Hex, type Manifest } from '../../engine/format/manifest';
import type { AgeRecipient } from '../../engine/crypto/age';
import type { SigningKey } from '../../engine/crypto/signing';
import type { JobContext } from '../../engine/jobs/job-manager';
import type { Medium } from '../../engine/storage/medium';
import { assertSystemName } from '../../engine/format/names';
import { openMedium } from '../../engine/storage/open-medium';
import type { EncoderThreads } from '../../engine/pipeline/encoder-thread';
import { openCliEngine } from '../engine';
import { readIdentities, readRecipients, readSigningKey } from '../keys-io';
import { runFacts } from '../notify';
import { formatBytes, formatDuration, printJson, type CliIo } from '../output';
import { withRunMetrics } from '../metrics';
import { runAsJob } from '../run-job';
import type { Sample } from '../../engine/monitor/metrics';
import type { FileEntry } from '../../engine/format/file-index';

export interface CommonOptions {
  system: string;
  to: string[];
  recipient?: string[];
  signKey?: string;
  tier?: 'critical' | 'important' | 'standard';
  json?: boolean;
  /** A Prometheus text file to update (docs/monitoring.md). */
  metricsFile?: string;
  /** S3 media: the storage class of the artifacts (storage/storage-class.ts). */
  storageClass?: string;
}

/** `--storage-class`: a class Lifeboat writes, and at least one S3 medium to write it on. */
export async function checkedStorageClass(c: string | undefined, media: Medium[]): Promise<string | undefined> {
  if (!c) return undefined;
  const { assertStorageClass } = await import('../../engine/storage/storage-class');
  assertStorageClass(c);
  if (!media.some((m) => m.kind === 's3'))
    throw new LifeboatError('BAD_INPUT', '--storage-class applies to S3 media, and no --to is one.', {
      hint: 'Give an s3://bucket/prefix medium, or leave --storage-class out.',
    });
  return c;
}

/** A set the ransomware indicator flagged at backup time (catalog/trends.ts), with the reasons. */
export interface SuspiciousSet {
  system: string;
  setId: string;
  key: string;
  reasons: string[];
}

/** What a caller (notifications, metrics) can hook into a backup command. */
export interface BackupHooks {
  /** Called after the set is written and cataloged when the indicator flags it; the backup's exit code is unchanged. */
  onSuspicious?: (s: SuspiciousSet) => void | Promise<void>;
}

/**
 * Record the new set in the local catalog for every medium that holds it, and judge it against
 * the system's history (the ransomware indicator): its verdict, or null when it was not judged.
 */
async function catalogNewSet(
  engine: Engine,
  set: WrittenSet,
  signerKeyId: string | null,
  index: FileEntry[] | null,
): Promise<SuspiciousSet | null> {
  let first: string | null = null;
  for (const { medium, info } of set.media) {
    const mediumId = recordMedium(engine.catalog, medium, info);
    const stat = await medium.stat(`${set.setPath}/manifest.json`);
    const key = recordSet(
      engine.catalog,
      mediumId,
      set.setPath,
      set.manifest,
      set.manifestBytes,
      stat,
      signerKeyId,
      new Date(),
    );
    if (index) recordFileIndex(engine.catalog, key, index);
    rememberMedium(engine.paths.dataDir, medium.location);
    first ??= key;
  }
  const system = set.manifest.system;
  const point = judgeSystem(engine.catalog, system, indicatorThresholds(engine.settings(), system)).find(
    (p) => p.key === first,
  );
  return point?.suspicious ? { system, setId: set.manifest.set_id, key: point.key, reasons: point.reasons } : null;
}

/** The indicator's verdict said, and handed to the hook (a hook that fails is a warning, never the backup's failure). */
async function announce(io: CliIo, flagged: SuspiciousSet | null, json: boolean, hooks: BackupHooks): Promise<void> {
  if (!flagged) return;
  runFacts.suspicious = flagged.reasons;
  if (!json)
    io.stderr.write(
      `warning: ${flagged.setId} of ${flagged.system} is SUSPICIOUS (ransomware indicator): ${flagged.reasons.join('; ')}.\n` +
        `  hint: check the system before trusting this set; lifeboat systems --trend --system ${flagged.system} shows its history;\n` +
        `  if the change is expected, list ${flagged.setId} under systems.${flagged.system}.indicator.accepted in settings.json (docs/trends.md).\n`,
    );
  try {
    await hooks.onSuspicious?.(flagged);
  } catch (e) {
    io.stderr.write(`warning: the suspicious-set hook failed: ${(e as Error).message}\n`);
  }
}

function report(
  io: CliIo,
  set: WrittenSet,
  signerKeyId: string | null,
  json: boolean,
  durationMs: number,
  flagged: SuspiciousSet | null,
): void {
  const m = set.manifest;
  const bytes = m.artifacts.reduce((n, a) => n + a.bytes, 0);
  const plain = m.artifacts.reduce((n, a) => n + a.plain_bytes, 0);
  runFacts.setId = m.set_id;
  runFacts.summary = `Set ${m.set_id} of ${m.system} written: ${formatBytes(plain)} → ${formatBytes(bytes)} in ${formatDuration(durationMs / 1000)}, on ${set.media.length} medium${set.media.length === 1 ? '' : 's'}${m.warnings.length ? `; ${m.warnings.length} warning(s): ${m.warnings.join('; ')}` : ''}.`;
  if (json) {
    printJson(io, {
      ok: true,
      set_id: m.set_id,
      system: m.system,
      kind: m.kind,
      path: set.setPath,
      locations: set.media.map(({ medium }) => `${medium.location}/${set.setPath}`),
      bytes,
      plain_bytes: plain,
      manifest_sha256: sha256Hex(set.manifestBytes),
      signed_by: signerKeyId,
      encrypted_to: m.artifacts[0]?.recipients ?? [],
      parent: m.parent,
      artifacts: m.artifacts.map((a) => ({
        path: a.path,
        role: a.role,
        bytes: a.bytes,
        sha256: a.sha256,
        plain_bytes: a.plain_bytes,
        plain_sha256: a.plain_sha256,
      })),
      warnings: m.warnings,
      duration_ms: durationMs,
      suspicious: flagged !== null,
      suspicious_reasons: flagged?.reasons ?? [],
    });
    return;
  }
  io.stdout.write(
    `${m.set_id}  ${m.system}  ${formatBytes(plain)} → ${formatBytes(bytes)} in ${formatDuration(durationMs / 1000)}\n`,
  );
  for (const { medium } of set.media) io.stdout.write(`  written to ${medium.location}/${set.setPath}\n`);
  io.stdout.write(
    `  ${signerKeyId ? `signed by ${signerKeyId}` : 'NOT signed (no --sign-key)'}; ${m.artifacts[0]?.recipients.length ? `encrypted to ${m.artifacts[0].recipients.join(', ')}` : 'NOT encrypted (no --recipient)'}\n`,
  );
  for (const w of m.warnings) io.stdout.write(`  warning: ${w}\n`);
}

/** What a finished set adds to the metrics file: duration, bytes stored and read, the compression ratio. */
function setSamples(set: WrittenSet, durationMs: number, labels: Record<string, string>): Sample[] {
  const stored = set.manifest.artifacts.reduce((n, a) => n + a.bytes, 0);
  const read = set.manifest.artifacts.reduce((n, a) => n + a.plain_bytes, 0);
  return [
    { name: 'lifeboat_backup_duration_seconds', labels, value: durationMs / 1000 },
    { name: 'lifeboat_backup_bytes_stored', labels, value: stored },
    { name: 'lifeboat_backup_bytes_read', labels, value: read },
    {
      name: 'lifeboat_backup_compression_ratio',
      labels,
      value: stored > 0 ? Math.round((read / stored) * 1000) / 1000 : 0,
    },
    // 1 when the ransomware indicator flagged this set (docs/trends.md); announce() set the facts before.
    { name: 'lifeboat_backup_suspicious', labels, value: runFacts.suspicious ? 1 : 0 },
  ];
}

/** A backup with `--metrics-file`: its success (and the set's numbers) or its failure recorded, the error going on. */
async function recordedBackup(
  io: CliIo,
  metricsFile: string | undefined,
  labels: { system: string; kind: string },
  run: () => Promise<{ set: WrittenSet; durationMs: number }>,
): Promise<void> {
  await withRunMetrics(io, metricsFile, 'backup', labels, run, (r) => setSamples(r.set, r.durationMs, labels));
}

export interface PgOptions extends CommonOptions {
  db: string;
  format: 'custom' | 'directory';
  jobs: number;
  pgBin?: string;
  credential?: string;
}
export interface FilesOptions extends CommonOptions {
  path: string[];
  exclude?: string[];
  class: 'files' | 'config';
  incremental?: boolean;
  identity?: string[];
  allowPlaintext?: boolean;
}

type PgCommon = Pick<
  PgOptions,
  | 'system'
  | 'db'
  | 'recipient'
  | 'signKey'
  | 'to'
  | 'tier'
  | 'pgBin'
  | 'credential'
  | 'json'
  | 'metricsFile'
  | 'storageClass'
>;
type PgInput = {
  encoderThreads: EncoderThreads;
  system: string;
  dbUrl: string;
  password: string | null;
  media: Medium[];
  recipients: AgeRecipient[];
  signingKey: SigningKey | null;
  tier: Manifest['tier'];
  pgBinDir: string | undefined;
  idTaken: (setId: string) => boolean;
  storageClass: string | undefined;
};

/** The shared shape of the PostgreSQL backups: keys, media, the password from the keychain, the catalog entry. */
async function pgBackupCommand(
  io: CliIo,
  opts: PgCommon,
  title: string,
  kind: 'pg-logical' | 'pg-base' | 'mysql',
  make: (input: PgInput, ctx: JobContext) => Promise<WrittenSet>,
  threads?: EncoderThreads,
  hooks: BackupHooks = {},
): Promise<void> {
  await recordedBackup(io, opts.metricsFile, { system: opts.system, kind }, () =>
    pgBackup(io, opts, title, make, threads, hooks),
  );
}

async function pgBackup(
  io: CliIo,
  opts: PgCommon,
  title: string,
  make: (input: PgInput, ctx: JobContext) => Promise<WrittenSet>,
  threads?: EncoderThreads,
  hooks: BackupHooks = {},
): Promise<{ set: WrittenSet; durationMs: number }> {
  assertSystemName(opts.system);
  const recipients = readRecipients(opts.recipient ?? []);
  const signingKey = readSigningKey(opts.signKey);
  const media = await Promise.all(opts.to.map((t) => openMedium(t)));
  const storageClass = await checkedStorageClass(opts.storageClass, media);
  const engine = openCliEngine(threads);
  try {
    const password = opts.credential ? await secretFor(engine.credentials, opts.credential) : null;
    const started = Date.now();
    const input: PgInput = {
      system: opts.system,
      dbUrl: opts.db,
      password,
      media,
      recipients,
      signingKey,
      tier: opts.tier ?? null,
      pgBinDir: opts.pgBin ?? (engine.settings().pgBinDir || undefined),
      idTaken: (id) => setIdKnown(engine.catalog, opts.system, id),
      encoderThreads: engine.encoderThreads,
      storageClass,
    };
    const set = await runAsJob(engine, io, { kind: 'backup', title: `${title} of ${opts.system}` }, (ctx) =>
      make(input, ctx),
    );
    const flagged = await catalogNewSet(engine, set, signingKey?.keyId ?? null, null);
    const durationMs = Date.now() - started;
    report(io, set, signingKey?.keyId ?? null, Boolean(opts.json), durationMs, flagged);
    await announce(io, flagged, Boolean(opts.json), hooks);
    return { set, durationMs };
  } finally {
    await engine.close();
  }
}

export async function backupPgCommand(
  io: CliIo,
  opts: PgOptions,
  threads?: EncoderThreads,
  hooks: BackupHooks = {},
): Promise<void> {
  if (!Number.isInteger(opts.jobs) || opts.jobs < 1)
    throw new LifeboatError('BAD_INPUT', '--jobs must be a whole number ≥ 1.');
  await pgBackupCommand(
    io,
    opts,
    'Backup',
    'pg-logical',
    (input, ctx) => backupPgLogical({ ...input, format: opts.format, jobs: opts.jobs }, ctx),
    threads,
    hooks,
  );
}

export type PgBaseOptions = Omit<PgOptions, 'format' | 'jobs'>;

export interface RedisOptions extends CommonOptions {
  redis: string;
  aofDir?: string;
  credential?: string;
}

/** `lifeboat backup redis`: the RDB (and an AOF directory) through the pipeline, cataloged like any set. */
export async function backupRedisCommand(
  io: CliIo,
  opts: RedisOptions,
  threads?: EncoderThreads,
  hooks: BackupHooks = {},
): Promise<void> {
  const { backupRedis } = await import('../../engine/backup/redis');
  await recordedBackup(io, opts.metricsFile, { system: opts.system, kind: 'redis' }, () =>
    pgBackup(
      io,
      { ...opts, db: opts.redis },
      'Redis backup',
      (input, ctx) =>
        backupRedis(
          {
            system: input.system,
            redisUrl: input.dbUrl,
            password: input.password,
            aofDir: opts.aofDir ?? null,
            media: input.media,
            recipients: input.recipients,
            signingKey: input.signingKey,
            tier: input.tier,
            idTaken: input.idTaken,
            encoderThreads: input.encoderThreads,
          },
          ctx,
        ),
      threads,
      hooks,
    ),
  );
}

export type MysqlOptions = Omit<PgOptions, 'format' | 'jobs' | 'pgBin'>;

/** `lifeboat backup mysql`: the PostgreSQL backups' shape (keys, media, keychain password, catalog) around mariadb-dump. */
export async function backupMysqlCommand(
  io: CliIo,
  opts: MysqlOptions,
  threads?: EncoderThreads,
  hooks: BackupHooks = {},
): Promise<void> {
  const { backupMysql } = await import('../../engine/backup/mysql');
  await pgBackupCommand(io, opts, 'MySQL backup', 'mysql', (input, ctx) => backupMysql(input, ctx), threads, hooks);
}

export async function backupPgBaseCommand(
  io: CliIo,
  opts: PgBaseOptions,
  threads?: EncoderThreads,
  hooks: BackupHooks = {},
): Promise<void> {
  const { backupPgBase } = await import('../../engine/backup/pg-base');
  await pgBackupCommand(io, opts, 'Base backup', 'pg-base', (input, ctx) => backupPgBase(input, ctx), threads, hooks);
}

export async function backupFilesCommand(
  io: CliIo,
  opts: FilesOptions,
  threads?: EncoderThreads,
  hooks: BackupHooks = {},
): Promise<void> {
  await recordedBackup(io, opts.metricsFile, { system: opts.system, kind: opts.class }, () =>
    backupFilesOnce(io, opts, threads, hooks),
  );
}

/** What every set plan of a backup command holds (backup/set-writer.ts SetPlan), from its common options. */
export type PlanInputs = Pick<
  SetPlan,
  'system' | 'media' | 'recipients' | 'signingKey' | 'tier' | 'idTaken' | 'encoderThreads' | 'storageClass'
>;

/**
 * The shape the files and stream backups share: keys, media (and the storage class) checked before
 * anything starts, the backup as a job, the new set cataloged (with its file index, if any), judged
 * by the ransomware indicator, and reported.
 */
async function backupWith<S extends WrittenSet>(
  io: CliIo,
  opts: CommonOptions & { json?: boolean },
  title: string,
  make: (plan: PlanInputs, engine: Engine, ctx: JobContext) => Promise<S>,
  indexOf: (set: S) => FileEntry[] | null,
  threads?: EncoderThreads,
  hooks: BackupHooks = {},
): Promise<{ set: S; durationMs: number }> {
  const recipients = readRecipients(opts.recipient ?? []);
  const signingKey = readSigningKey(opts.signKey);
  const media = await Promise.all(opts.to.map((t) => openMedium(t)));
  const storageClass = await checkedStorageClass(opts.storageClass, media);
  const engine = openCliEngine(threads);
  try {
    const started = Date.now();
    const plan: PlanInputs = {
      system: opts.system,
      media,
      recipients,
      signingKey,
      tier: opts.tier ?? null,
      idTaken: (id) => setIdKnown(engine.catalog, opts.system, id),
      encoderThreads: engine.encoderThreads,
      storageClass,
    };
    const set = await runAsJob(engine, io, { kind: 'backup', title }, (ctx) => make(plan, engine, ctx));
    const flagged = await catalogNewSet(engine, set, signingKey?.keyId ?? null, indexOf(set));
    const durationMs = Date.now() - started;
    report(io, set, signingKey?.keyId ?? null, Boolean(opts.json), durationMs, flagged);
    await announce(io, flagged, Boolean(opts.json), hooks);
    return { set, durationMs };
  } finally {
    await engine.close();
  }
}

function backupFilesOnce(
  io: CliIo,
  opts: FilesOptions,
  threads?: EncoderThreads,
  hooks: BackupHooks = {},
): Promise<{ set: WrittenSet; durationMs: number }> {
  assertSystemName(opts.system);
  const identities = readIdentities(opts.identity ?? []);
  return backupWith(
    io,
    opts,
    `Backup of ${opts.system}`,
    (plan, engine, ctx) =>
      backupFiles(
        {
          ...plan,
          paths: opts.path,
          excludes: opts.exclude ?? [],
          kind: opts.class,
          incremental: Boolean(opts.incremental),
          allowPlaintext: Boolean(opts.allowPlaintext),
          identities,
          stateDir: join(engine.paths.dataDir, 'state'),
        },
        ctx,
      ),
    (set) => set.index,
    threads,
    hooks,
  );
}

export interface CmdOptions extends CommonOptions {
  kind: string;
  command: string;
  shell?: boolean;
  versionCommand?: string;
}

/** `lifeboat backup cmd`: a command's standard output as a `stream` set (backup/cmd-stream.ts). */
export async function backupCmdCommand(
  io: CliIo,
  opts: CmdOptions,
  threads?: EncoderThreads,
  hooks: BackupHooks = {},
): Promise<void> {
  await recordedBackup(io, opts.metricsFile, { system: opts.system, kind: 'stream' }, () =>
    backupCmdOnce(io, opts, threads, hooks),
  );
}

async function backupCmdOnce(
  io: CliIo,
  opts: CmdOptions,
  threads?: EncoderThreads,
  hooks: BackupHooks = {},
): Promise<{ set: WrittenSet; durationMs: number }> {
  const { backupCmd } = await import('../../engine/backup/cmd-stream');
  const { assertStreamLabel, streamCommand } = await import('../../engine/process/command-line');
  assertSystemName(opts.system);
  assertStreamLabel(opts.kind);
  // Checked before any medium is touched: a bad or secret-holding line is a usage error.
  streamCommand(opts.command, Boolean(opts.shell), '--command');
  if (opts.versionCommand) streamCommand(opts.versionCommand, Boolean(opts.shell), '--version-command');
  const input = {
    label: opts.kind,
    command: opts.command,
    shell: Boolean(opts.shell),
    versionCommand: opts.versionCommand,
  };
  return backupWith(
    io,
    opts,
    `Backup of ${opts.system} (${opts.kind})`,
    (plan, _engine, ctx) => backupCmd({ ...plan, ...input }, ctx),
    () => null,
    threads,
    hooks,
  );
}
