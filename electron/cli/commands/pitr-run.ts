import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, renameSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { TrustedKey } from '../../engine/catalog/trust';
import { LifeboatError } from '../../engine/errors';
import { fetchWal, pushWal } from '../../engine/pitr/wal-archive';
import { openMedium } from '../../engine/storage/open-medium';
import { pgbrKeysFor } from '../../engine/foreign/secrets';
import { readIdentities, readKeyFile, readRecipients, readSigningKey } from '../keys-io';
import { runFacts } from '../notify';
import { formatDuration, printJson, type CliIo } from '../output';
import type { PitrRestoreOptions, PlanOptions, WalArchiverOptions, WalFetchOptions, WalPushOptions } from './pitr';

export async function walPushCommand(io: CliIo, path: string, opts: WalPushOptions): Promise<void> {
  if (!opts.metricsFile) return walPushOnce(io, path, opts);
  const { withRunMetrics } = await import('../metrics');
  await withRunMetrics(io, opts.metricsFile, 'wal_push', { system: opts.system }, () => walPushOnce(io, path, opts));
}

async function walPushOnce(io: CliIo, path: string, opts: WalPushOptions): Promise<void> {
  if (opts.async) {
    await walPushAsync(io, path, opts);
    return;
  }
  const signKey = readSigningKey(opts.signKey);
  const r = await pushWal(
    await openMedium(opts.to),
    opts.system,
    path,
    readRecipients(opts.recipient ?? []),
    undefined,
    signKey,
  );
  if (r.already) io.stderr.write(`lifeboat: ${r.name} was already archived with the same content\n`);
}

function checkJobs(jobs: number | undefined): number | undefined {
  if (jobs !== undefined && (!Number.isInteger(jobs) || jobs < 1 || jobs > 16))
    throw new LifeboatError('BAD_INPUT', '--jobs takes a number from 1 to 16.');
  return jobs;
}

/** How long an archive_command waits for the background archiver before failing (PostgreSQL retries). */
const ASYNC_WAIT_MS = 120_000;

/**
 * `wal-push --async`: acknowledge the file when the background archiver has pushed it, start the
 * archiver when none runs, and push it here when the archiver is gone (so an archiver that
 * exited, or crashed, never stalls PostgreSQL).
 */
async function walPushAsync(io: CliIo, path: string, opts: WalPushOptions): Promise<void> {
  const { alive, archiverPid, consumeDone, consumeError, ensureArchiver, spoolPaths } =
    await import('../../engine/pitr/wal-async');
  const { resolveDataDir } = await import('../../engine/settings/paths');
  const jobs = checkJobs(opts.jobs);
  const spool = spoolPaths(resolve(opts.spool ?? join(resolveDataDir(), 'wal-spool', opts.system)));
  if (consumeDone(spool, path)) return;
  const name = basename(path);
  // The key is read now so a bad --sign-key fails this push, not a detached archiver.
  if (opts.signKey) readSigningKey(opts.signKey);
  const config = {
    system: opts.system,
    to: opts.to,
    recipients: opts.recipient ?? [],
    pgWal: resolve(dirname(path)),
    ...(opts.signKey ? { signKey: resolve(opts.signKey) } : {}),
  };
  let started: number | null = null;
  ensureArchiver(spool, config, () => {
    mkdirSync(spool.root, { recursive: true, mode: 0o700 });
    // One line per segment forever would fill the disk: past 10 MiB the log moves to archiver.log.1.
    if (existsSync(spool.log) && statSync(spool.log).size > 10 * 2 ** 20) renameSync(spool.log, `${spool.log}.1`);
    const logFd = openSync(spool.log, 'a', 0o600);
    const args = [
      process.argv[1]!,
      'wal-archiver',
      '--spool',
      spool.root,
      '--pg-wal',
      config.pgWal,
      '--system',
      config.system,
      '--to',
      config.to,
    ];
    for (const r of config.recipients) args.push('--recipient', r);
    if (config.signKey) args.push('--sign-key', config.signKey);
    if (jobs) args.push('--jobs', String(jobs));
    // The archiver tells its failures as this push would (the variable and the default file pass by the environment).
    if (opts.notifyConfig) args.push('--notify-config', resolve(opts.notifyConfig));
    const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', logFd, logFd], env: process.env });
    closeSync(logFd);
    child.unref();
    started = child.pid ?? null;
  });
  const deadline = Date.now() + ASYNC_WAIT_MS;
  while (Date.now() < deadline) {
    if (consumeDone(spool, path)) return;
    const failure = consumeError(spool, name);
    if (failure !== null)
      throw new LifeboatError('STORAGE_ERROR', `The WAL archiver could not push ${name}: ${failure.trim()}`, {
        hint: `PostgreSQL keeps the file and retries. The archiver's log: ${spool.log}`,
      });
    if (archiverPid(spool) === null && !(started !== null && alive(started))) {
      // No archiver any more (it went idle just before this file was ready, or it died): push it here.
      await walPushOnce(io, path, { ...opts, async: false });
      return;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new LifeboatError('STORAGE_ERROR', `The WAL archiver did not push ${name} within ${ASYNC_WAIT_MS / 1000} s.`, {
    hint: `PostgreSQL retries. The archiver's log: ${spool.log}`,
  });
}

export async function walArchiverCommand(io: CliIo, opts: WalArchiverOptions): Promise<void> {
  const { runArchiver, spoolPaths } = await import('../../engine/pitr/wal-async');
  if (opts.idle !== undefined && !(opts.idle >= 0))
    throw new LifeboatError('BAD_INPUT', '--idle takes a number of seconds.');
  const summary = await runArchiver({
    spool: spoolPaths(resolve(opts.spool)),
    pgWal: resolve(opts.pgWal),
    medium: await openMedium(opts.to),
    system: opts.system,
    recipients: readRecipients(opts.recipient ?? []),
    signKey: readSigningKey(opts.signKey),
    jobs: checkJobs(opts.jobs),
    idleMs: opts.idle !== undefined ? opts.idle * 1000 : undefined,
    log: (line) => io.stdout.write(`${line}\n`),
  });
  const line = `archiver exits (${summary.exitedBecause}): ${summary.pushed} pushed, ${summary.already} already archived, ${summary.failed} failed`;
  runFacts.summary = `WAL archiver of ${opts.system} ${line}.`;
  // The archiver exits 0 (PostgreSQL retries what failed), yet a failed push is news for its notification.
  runFacts.failed = summary.failed > 0;
  io.stdout.write(`${new Date().toISOString()} ${line}\n`);
  if (opts.metricsFile) {
    const { writeMetrics } = await import('../metrics');
    const labels = { system: opts.system };
    await writeMetrics(io, opts.metricsFile, {
      set: [
        { name: 'lifeboat_wal_archiver_pushed', labels, value: summary.pushed },
        { name: 'lifeboat_wal_archiver_failed', labels, value: summary.failed },
        ...(summary.pushed > 0
          ? [{ name: 'lifeboat_wal_push_last_success_timestamp_seconds', labels, value: Math.round(Date.now() / 1000) }]
          : []),
      ],
    });
  }
}

/**
 * The keys WAL signatures are checked against: --trust-key files when given (a restore_command on
 * a machine without the catalog), else the catalog's pinned keys, read without opening the engine.
 */
async function walTrustedKeys(files: string[]): Promise<TrustedKey[]> {
  if (files.length) {
    const { loadPublicKey } = await import('../../engine/crypto/signing');
    return files.map((f) => {
      const k = loadPublicKey(readKeyFile(f, 'public key'));
      return { keyId: k.keyId, label: f, publicKeyPem: k.pem, addedAt: '' };
    });
  }
  const { Catalog } = await import('../../engine/catalog/catalog');
  const { trustedKeys } = await import('../../engine/catalog/trust');
  const { dataPaths, resolveDataDir } = await import('../../engine/settings/paths');
  const path = dataPaths(resolveDataDir()).catalog;
  if (!existsSync(path)) return [];
  let catalog: ReturnType<typeof Catalog.open>;
  try {
    catalog = Catalog.open(path, { readonly: true, check: false });
  } catch (e) {
    const err = e instanceof LifeboatError ? e : new LifeboatError('CATALOG_READONLY', String(e));
    throw new LifeboatError(
      err.code,
      `The catalog's pinned keys cannot be read to check WAL signatures: ${err.message}`,
      { hint: "Pass the signer's public key with --trust-key <file>." },
    );
  }
  try {
    return trustedKeys(catalog);
  } finally {
    catalog.close();
  }
}

export async function walFetchCommand(io: CliIo, name: string, dest: string, opts: WalFetchOptions): Promise<void> {
  const trust = { trusted: await walTrustedKeys(opts.trustKey ?? []), allowUnsigned: Boolean(opts.allowUnsignedWal) };
  const got = await fetchWal(
    await openMedium(opts.from),
    { system: opts.system, identities: readIdentities(opts.identity ?? []), trust },
    name,
    dest,
  );
  // Absent files are normal at the end of recovery: a quiet non-zero exit, as PostgreSQL expects.
  if (!got) process.exitCode = 1;
  // The acceptance is the operator's: PostgreSQL's log keeps this line.
  else if (got.signature.state !== 'signed')
    io.stderr.write(
      `lifeboat: ${name} accepted with --allow-unsigned-wal (${got.signature.state}: ${got.signature.reason})\n`,
    );
}

export async function planCommand(io: CliIo, opts: PlanOptions): Promise<void> {
  const { planPitr } = await import('../../engine/pitr/plan');
  const trust = { trusted: await walTrustedKeys([]), allowUnsigned: Boolean(opts.allowUnsignedWal) };
  const plan = await planPitr(await openMedium(opts.from), opts.system, {
    targetTime: opts.targetTime,
    identities: readIdentities(opts.identity ?? []),
    trust,
    pgBinDir: opts.pgBin,
    pgbrKeys: await pgbrKeysFor(opts.system, { passphraseFile: opts.passphraseFile }),
  });
  if (opts.json) {
    printJson(io, plan);
  } else {
    io.stdout.write(`PITR plan for ${plan.system} on ${plan.medium}\n`);
    io.stdout.write(`  base backups: ${plan.bases.length ? '' : 'none'}\n`);
    for (const b of plan.bases)
      io.stdout.write(
        `    ${b.setId}  timeline ${b.timeline}  ${b.startLsn} → ${b.stopLsn}  finished ${b.finishedAt}\n`,
      );
    io.stdout.write(
      `  timelines: ${plan.timelines.map((t) => `${t.timeline}${t.parent ? ` (from ${t.parent} at ${t.switchLsn})` : ''}: ${t.segments} segments ${t.first ?? ''}…${t.last ?? ''}`).join('; ') || 'none archived'}\n`,
    );
    const s = plan.signatures;
    if (plan.origin === 'pgbackrest')
      io.stdout.write('  archive: pgBackRest (foreign): each WAL file is proven by the SHA-1 in its name when read\n');
    else
      io.stdout.write(
        `  WAL signatures: ${s.signed} signed by a pinned key, ${s.unsigned} unsigned, ${s.untrusted} by a key not pinned, ${s.invalid} not matching their file\n`,
      );
    for (const w of plan.windows)
      io.stdout.write(
        `  recoverable window from ${w.base}: ${w.from} → ${w.to ?? '—'} (${w.toBasis}; ${w.segments} contiguous segments to ${w.lastSegment}, timeline ${w.timeline})\n`,
      );
    if (plan.target) {
      io.stdout.write(
        `  target ${plan.target.time}: ${plan.target.inside ? 'INSIDE the window' : 'OUTSIDE the window'}${plan.target.base ? `; base ${plan.target.base} + ${plan.target.segments.length} segments` : ''}\n`,
      );
      for (const w of plan.target.warnings) io.stdout.write(`    warning: ${w}\n`);
      for (const r of plan.target.refused.slice(0, 20))
        io.stdout.write(`    REFUSED ${r.name}: ${r.state} (${r.reason})\n`);
    }
    for (const w of plan.warnings) io.stdout.write(`  warning: ${w}\n`);
  }
  if (plan.target && (!plan.target.inside || plan.target.refused.length > 0)) process.exitCode = 1;
}

export async function restorePitrCommand(io: CliIo, opts: PitrRestoreOptions): Promise<void> {
  const { restorePitr } = await import('../../engine/restore/restore-pitr');
  const { trustedKeys } = await import('../../engine/catalog/trust');
  const { withCliEngine } = await import('../engine');
  const { runAsJob } = await import('../run-job');
  if (opts.port !== undefined && (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535))
    throw new LifeboatError('BAD_INPUT', '--port takes a port number.');
  const identities = readIdentities(opts.identity ?? []);
  await withCliEngine(async (engine) => {
    const { foreignBaseAdmission } = await import('../../engine/restore/pg-pitr');
    const keys = await pgbrKeysFor(opts.system, { passphraseFile: opts.passphraseFile, keychain: engine.credentials });
    const medium = await openMedium(opts.from);
    const r = await runAsJob(engine, io, { kind: 'restore', title: `PITR of ${opts.system}` }, (ctx) =>
      restorePitr(
        {
          medium,
          system: opts.system,
          targetTime: opts.targetTime,
          dataDir: opts.dataDir,
          identities,
          trusted: trustedKeys(engine.catalog),
          allowUnsignedWal: Boolean(opts.allowUnsignedWal),
          port: opts.port,
          pgBinDir: opts.pgBin ?? (engine.settings().pgBinDir || undefined),
          stopAfter: Boolean(opts.stop),
          pgbrKeys: keys,
          admitForeignBase: foreignBaseAdmission(engine.catalog, opts.system, Boolean(opts.allowUnsigned)),
        },
        ctx,
      ),
    );
    if (opts.json) {
      const { plan, ...rest } = r;
      printJson(io, { ok: true, ...rest, window: plan.windows.find((w) => w.base === r.base) ?? null });
      return;
    }
    io.stdout.write(
      `Recovered ${opts.system} to ${r.targetTime} from ${r.base} + ${r.segments} WAL files in ${formatDuration(r.durationMs / 1000)}\n`,
    );
    io.stdout.write(
      `  last replayed transaction: ${r.replayedTo ?? 'none (no commit after the base backup)'}; timeline ${r.timeline ?? '?'}\n`,
    );
    for (const w of r.warnings) io.stdout.write(`  warning: ${w}\n`);
    io.stdout.write(
      r.running
        ? `  PostgreSQL runs on 127.0.0.1:${r.port} with data in ${r.dataDir}; stop it with: ${r.stopCommand}\n`
        : `  data in ${r.dataDir} (server stopped)\n`,
    );
  });
}
