import { Option, type Command } from 'commander';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { backupFiles } from '../../engine/backup/files-backup';
import { backupPgLogical } from '../../engine/backup/pg-logical';
import type { WrittenSet } from '../../engine/backup/set-writer';
import { recordFileIndex, recordMedium, recordSet } from '../../engine/catalog/sets';
import type { Engine } from '../../engine/engine';
import { LifeboatError } from '../../engine/errors';
import { sha256Hex } from '../../engine/format/manifest';
import { assertSystemName } from '../../engine/format/names';
import { openMedium } from '../../engine/storage/open-medium';
import { openCliEngine } from '../engine';
import { readIdentities, readRecipients, readSigningKey } from '../keys-io';
import { formatBytes, formatDuration, printJson, type CliIo } from '../output';
import { runAsJob } from '../run-job';
import type { FileEntry } from '../../engine/backup/file-index';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

interface CommonOptions {
  system: string;
  to: string[];
  recipient?: string[];
  signKey?: string;
  tier?: 'critical' | 'important' | 'standard';
  json?: boolean;
}

/** Record the new set in the local catalog for every medium that holds it. */
async function catalogNewSet(engine: Engine, set: WrittenSet, signerKeyId: string | null, index: FileEntry[] | null): Promise<void> {
  for (const { medium, info } of set.media) {
    const mediumId = recordMedium(engine.catalog, medium, info);
    const stat = await medium.stat(`${set.setPath}/manifest.json`);
    const key = recordSet(engine.catalog, mediumId, set.setPath, set.manifest, set.manifestBytes, stat, signerKeyId, new Date());
    if (index) recordFileIndex(engine.catalog, key, index);
  }
}

function report(io: CliIo, set: WrittenSet, signerKeyId: string | null, json: boolean, durationMs: number): void {
  const m = set.manifest;
  const bytes = m.artifacts.reduce((n, a) => n + a.bytes, 0);
  const plain = m.artifacts.reduce((n, a) => n + a.plain_bytes, 0);
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
      artifacts: m.artifacts.map((a) => ({ path: a.path, role: a.role, bytes: a.bytes, sha256: a.sha256, plain_bytes: a.plain_bytes, plain_sha256: a.plain_sha256 })),
      warnings: m.warnings,
      duration_ms: durationMs,
    });
    return;
  }
  io.stdout.write(`${m.set_id}  ${m.system}  ${formatBytes(plain)} → ${formatBytes(bytes)} in ${formatDuration(durationMs / 1000)}\n`);
  for (const { medium } of set.media) io.stdout.write(`  written to ${medium.location}/${set.setPath}\n`);
  io.stdout.write(`  ${signerKeyId ? `signed by ${signerKeyId}` : 'NOT signed (no --sign-key)'}; ${m.artifacts[0]?.recipients.length ? `encrypted to ${m.artifacts[0].recipients.join(', ')}` : 'NOT encrypted (no --recipient)'}\n`);
  for (const w of m.warnings) io.stdout.write(`  warning: ${w}\n`);
}

function commonOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--system <name>', 'the protected system (e.g. customer-db)')
    .requiredOption('--to <dir | s3://bucket/prefix>', 'a medium to write to (repeat for several: one pass, identical copies)', collect)
    .option('--recipient <age1… | file>', 'encrypt to this age recipient (repeat: the DR laptop and an escrow key)', collect)
    .option('--sign-key <file>', 'sign the manifest with this Ed25519 key (lifeboat keys signing-new)')
    .addOption(new Option('--tier <tier>', 'the system tier, recorded in the manifest').choices(['critical', 'important', 'standard']))
    .option('--json', 'print one machine-readable result');
}

export function registerBackup(program: Command, io: CliIo): void {
  const backup = program.command('backup').description('make a backup set (PostgreSQL, files, config) on one or more media');

  commonOptions(
    backup
      .command('pg')
      .description('logical PostgreSQL backup with pg_dump, compressed, encrypted and signed')
      .requiredOption('--db <postgres url>', 'postgres://user@host:port/database (the password comes from PGPASSWORD, ~/.pgpass or --credential)'),
  )
    .addOption(new Option('--format <format>', 'pg_dump format').choices(['custom', 'directory']).default('custom'))
    .option('--jobs <n>', 'parallel dump jobs (directory format)', (v) => Number.parseInt(v, 10), Math.max(1, Math.min(4, availableParallelism())))
    .option('--pg-bin <dir>', 'directory holding pg_dump')
    .option('--credential <ref>', 'take the password from the OS keychain entry pg:<target>')
    .action(async (opts: CommonOptions & { db: string; format: 'custom' | 'directory'; jobs: number; pgBin?: string; credential?: string }) => {
      assertSystemName(opts.system);
      if (!Number.isInteger(opts.jobs) || opts.jobs < 1) throw new LifeboatError('BAD_INPUT', '--jobs must be a whole number ≥ 1.');
      const recipients = readRecipients(opts.recipient ?? []);
      const signingKey = readSigningKey(opts.signKey);
      const engine = openCliEngine();
      try {
        const password = opts.credential ? await engine.credentials.get(opts.credential) : null;
        if (opts.credential && password === null) throw new LifeboatError('CREDENTIAL_UNAVAILABLE', `No secret is stored for ${opts.credential}.`);
        const started = Date.now();
        const set = await runAsJob(engine, io, { kind: 'backup', title: `Backup of ${opts.system}` }, (ctx) =>
          backupPgLogical(
            { system: opts.system, dbUrl: opts.db, password, media: opts.to.map((t) => openMedium(t)), recipients, signingKey, tier: opts.tier ?? null, format: opts.format, jobs: opts.jobs, pgBinDir: opts.pgBin },
            ctx,
          ),
        );
        await catalogNewSet(engine, set, signingKey?.keyId ?? null, null);
        report(io, set, signingKey?.keyId ?? null, Boolean(opts.json), Date.now() - started);
      } finally {
        await engine.close();
      }
    });

  commonOptions(
    backup
      .command('files')
      .description('files or config backup: a tar of directories (modes, mtimes, symlinks kept), full or incremental')
      .requiredOption('--path <dir>', 'a directory to back up (repeat for several)', collect),
  )
    .option('--exclude <glob>', 'leave out matching paths (repeat); node_modules, *.tmp, __pycache__, .DS_Store always are', collect)
    .addOption(new Option('--class <class>', 'files, or config (which must be encrypted)').choices(['files', 'config']).default('files'))
    .option('--incremental', 'store only what changed since the newest set of this system')
    .option('--identity <file>', 'age identity to read an encrypted parent index (when this machine has no copy)', collect)
    .option('--allow-plaintext', 'allow a config set without encryption')
    .action(async (opts: CommonOptions & { path: string[]; exclude?: string[]; class: 'files' | 'config'; incremental?: boolean; identity?: string[]; allowPlaintext?: boolean }) => {
      assertSystemName(opts.system);
      const recipients = readRecipients(opts.recipient ?? []);
      const signingKey = readSigningKey(opts.signKey);
      const identities = readIdentities(opts.identity ?? []);
      const engine = openCliEngine();
      try {
        const started = Date.now();
        const set = await runAsJob(engine, io, { kind: 'backup', title: `Backup of ${opts.system}` }, (ctx) =>
          backupFiles(
            {
              system: opts.system,
              paths: opts.path,
              excludes: opts.exclude ?? [],
              kind: opts.class,
              incremental: Boolean(opts.incremental),
              allowPlaintext: Boolean(opts.allowPlaintext),
              identities,
              stateDir: join(engine.paths.dataDir, 'state'),
              media: opts.to.map((t) => openMedium(t)),
              recipients,
              signingKey,
              tier: opts.tier ?? null,
            },
            ctx,
          ),
        );
        await catalogNewSet(engine, set, signingKey?.keyId ?? null, set.index);
        report(io, set, signingKey?.keyId ?? null, Boolean(opts.json), Date.now() - started);
      } finally {
        await engine.close();
      }
    });
}
