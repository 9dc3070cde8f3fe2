import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type pg from 'pg';
import { parsePgUrl, withPgClient } from '../postgres/connection';
import type { AgeIdentity } from '../crypto/age';
import { loadPublicKey, parseSignature, verifySignature } from '../crypto/signing';
import type { TrustedKey } from '../catalog/trust';
import { writeFileAtomic } from '../fs/atomic-write';
import { LifeboatError, mapError } from '../errors';
import { parseManifest, type Artifact, type Manifest } from '../format/manifest';
import type { JobContext } from '../jobs/job-manager';
import { chownTree, findPgBinDir, freePort, postgresRunAs, runPgTool } from '../postgres/scratch-cluster';
import { gateStages, specOf } from './gate';
import { extractTar } from './extract';
import type { Medium } from '../storage/medium';
import { pickWalSource, planPitr, type BaseBackup, type PitrPlan } from '../pitr/plan';
import type { WalReader } from '../pitr/wal-archive';
import type { PgbrWalSource } from '../pitr/pgbackrest-source';
import { restorePgbrBackup } from './pgbackrest';
import type { PgbrKeys } from '../foreign/pgbackrest/wal';
import { refusal } from '../pitr/wal-signature';
import { BackupManifestTap, describeProblems, manifestAlgorithms } from '../pitr/backup-manifest';

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

function majorOf(binDir: string): number {
  const out = execFileSync(join(binDir, 'postgres'), ['--version'], { encoding: 'utf8' });
  return Number(/\s(\d+)(?:\.\d+)?/.exec(out)?.[1] ?? 0);
}

/** WAL files fetched ahead while the base backup is still being extracted. */
const PREFETCH_DURING_EXTRACTION = 4;

/**
 * Point-in-time recovery into an empty data directory: the planner picks the base backup and
 * the segments; the base backup is checked (stored and plaintext hashes, signature by a pinned
 * key when it is signed) while it is extracted; every needed segment is fetched, decrypted,
 * decompressed and hash-checked into a local spool while PostgreSQL replays (its
 * restore_command is a local copy of a proven file), to the target, then promotes.
 */
export async function restorePitr(
  input: PitrRestoreInput,
  ctx: Pick<JobContext, 'signal' | 'progress' | 'step' | 'log'>,
): Promise<PitrRestoreResult> {
  const started = Date.now();
  const dataDir = resolve(input.dataDir);
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    throw new LifeboatError(
      'PRECONDITION_FAILED',
      `${dataDir} is not empty. A point-in-time restore needs an empty (or absent) data directory.`,
      { hint: 'Choose a new folder; never restore over a data directory that may be in use.' },
    );
  }
  ctx.step('planning');
  const reader: WalReader = {
    system: input.system,
    identities: input.identities,
    trust: { trusted: input.trusted, allowUnsigned: Boolean(input.allowUnsignedWal) },
  };
  // Lifeboat's own archive, or a pgBackRest stanza of this name (pickWalSource): the same planning and replay.
  const source = await pickWalSource(input.medium, input.system, reader, input.pgbrKeys);
  const archive = await source.list();
  const plan = await planPitr(input.medium, input.system, {
    targetTime: input.targetTime,
    identities: input.identities,
    trust: reader.trust,
    pgBinDir: input.pgBinDir,
    archive,
    source,
  });
  const target = plan.target!;
  // Refused before anything is extracted: a WAL file the policy refuses would stop replay midway.
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
  const base = plan.bases.find((b) => b.setId === target.base)!;
  const binDir = findPgBinDir(input.pgBinDir);
  const major = majorOf(binDir);
  if (base.serverMajor && major !== base.serverMajor) {
    throw new LifeboatError(
      'TOOL_VERSION_MISMATCH',
      `The base backup is of PostgreSQL ${base.serverMajor}; the server binaries in ${binDir} are ${major}. A physical backup restores only with the same major version.`,
      { hint: `Install PostgreSQL ${base.serverMajor} server binaries and point --pg-bin at them.` },
    );
  }
  const warnings = [...target.warnings];
  const needs = new Set([...target.segments, ...archive.filter((w) => w.kind === 'history').map((w) => w.name)]);
  const accepted = reader.trust.allowUnsigned
    ? plan.signatures.problems
        .filter((p) => needs.has(p.name) && (p.state === 'unsigned' || p.state === 'untrusted-signer'))
        .map(({ name, state }) => ({ name, state }))
    : [];
  if (accepted.length) {
    // The operator's explicit acceptance is part of the record of the run.
    const line = `--allow-unsigned-wal: ${accepted.length} WAL files not signed by a pinned key were accepted (${accepted
      .slice(0, 5)
      .map((p) => `${p.name}: ${p.state}`)
      .join('; ')}${accepted.length > 5 ? '; …' : ''})`;
    ctx.log('warn', line);
    warnings.push(line);
  }

  // A Lifeboat base: its manifest signed by a pinned key when it is signed at all. A pgBackRest
  // backup has no Lifeboat signature: it is trusted by its manifest's checksums, every file checked
  // against them before it is put in place (foreign/pgbackrest/restore.ts).
  let lifeboatBase: { manifest: Manifest; artifact: Artifact } | null = null;
  if (source.origin === 'lifeboat') {
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
    lifeboatBase = { manifest, artifact };
  } else {
    const admitted = input.admitForeignBase ? await input.admitForeignBase(base, input.medium.location) : null;
    const state = admitted
      ? `${admitted.text}${admitted.overridden ? '; accepted with the override (--allow-unsigned)' : ''}`
      : 'trust not judged: no catalog';
    if (admitted?.overridden) ctx.log('warn', `${base.setId}: ${state}`);
    warnings.push(
      `${base.setId} is a pgBackRest backup (foreign; ${state}): every file is checked against its manifest's checksums, WAL against the SHA-1 in each name`,
    );
  }

  const runAs = postgresRunAs();
  const spool = mkdtempSync(join(tmpdir(), 'lifeboat-wal-spool-'));
  chmodSync(spool, 0o755);
  let started_ok = false;
  let stopFetching = false;
  let fetching: Promise<void> = Promise.resolve();
  let releaseFetch = (): void => undefined;
  try {
    // WAL is fetched, decrypted, decompressed and hash-checked into the spool while the base is
    // extracted and while PostgreSQL replays (each file renamed into place only once proven), so
    // decoding overlaps both. The restore_command waits for the next file; a fetch failure stops
    // the server (below), and PostgreSQL itself refuses to promote short of the target.
    const wanted = new Set(target.segments);
    const needed = [...archive.filter((w) => w.kind === 'history'), ...archive.filter((w) => wanted.has(w.name))];
    // Files the archive does not hold are answered at once: PostgreSQL probes for newer timelines'
    // history files before replaying anything, and must not wait for the whole fetch to end.
    writeFileSync(join(spool, '.expected'), needed.map((w) => `${w.name}\n`).join(''), { mode: 0o644 });
    writeFileSync(
      join(spool, 'restore.sh'),
      `#!/bin/sh\n# Lifeboat restore_command: a file the archive does not hold is absent now; any other is waited for until verified.\ngrep -qxF "$1" "${spool}/.expected" || exit 1\nwhile [ ! -f "${spool}/$1" ] && [ ! -f "${spool}/.done" ] && [ ! -f "${spool}/.failed" ]; do sleep 0.02; done\n[ -f "${spool}/$1" ] || exit 1\nexec cp "${spool}/$1" "$2"\n`,
      { mode: 0o755 },
    );
    if (runAs) chownTree(spool, runAs);
    let fetchError: unknown = null;
    let fetched = 0;
    ctx.progress({ itemsTotal: needed.length, itemsDone: 0 });
    // During the extraction only the first few files are fetched (replay can start at once);
    // the rest would compete with the extraction for this thread, and replay is slower than
    // fetching, so fetching the rest during replay keeps ahead of it.
    const extraction = new Promise<void>((r) => (releaseFetch = r));
    fetching = (async () => {
      for (const [i, w] of needed.entries()) {
        if (i === PREFETCH_DURING_EXTRACTION) await extraction;
        if (stopFetching) return;
        if (ctx.signal.aborted) throw new LifeboatError('CANCELLED', 'Cancelled.');
        const bytes = await source.read(w);
        await writeFileAtomic(join(spool, w.name), bytes, {
          owner: runAs ? { uid: runAs.uid, gid: runAs.gid } : undefined,
        });
        ctx.progress({ itemsDone: ++fetched, current: w.name });
      }
    })().then(
      () => writeFileSync(join(spool, '.done'), ''),
      (e: unknown) => {
        fetchError = e;
        try {
          writeFileSync(join(spool, '.failed'), '');
        } catch {
          // the spool is already gone: the restore is over
        }
      },
    );
    ctx.step(`extracting ${base.setId}`);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    if (lifeboatBase) {
      const { manifest, artifact } = lifeboatBase;
      ctx.progress({ bytesTotal: artifact.plain_bytes, bytesDone: 0 });
      warnings.push(
        ...(await extractBase(
          input,
          base.setId,
          `${base.setPath}/${artifact.path}`,
          artifact,
          manifest.source,
          dataDir,
          ctx,
        )),
      );
    } else {
      const pgbr = source as PgbrWalSource;
      ctx.progress({ bytesTotal: base.bytes || null, bytesDone: 0 });
      await restorePgbrBackup({
        medium: input.medium,
        stanza: pgbr.stanza,
        label: base.setId,
        repoPassphrase: pgbr.keys.repoPassphrase,
        dataDir,
        signal: ctx.signal,
        onBytes: (n) => ctx.progress({ bytesDone: n }),
      });
    }
    ctx.progress({ bytesTotal: null, bytesDone: 0 });
    releaseFetch();

    const fetchFailure = (): LifeboatError | null => {
      if (!fetchError) return null;
      const e = fetchError instanceof LifeboatError ? fetchError : mapError(fetchError);
      return new LifeboatError(
        e.code,
        `${e.message} The restore stopped; PostgreSQL was stopped before the data directory could be used.`,
        { hint: e.hint },
      );
    };

    ctx.step('configuring recovery');
    const port = input.port ?? (await freePort());
    appendFileSync(
      join(dataDir, 'postgresql.auto.conf'),
      [
        '',
        `# Added by Lifeboat for a point-in-time restore to ${target.time} (base ${base.setId}).`,
        `restore_command = '${spool}/restore.sh "%f" "%p"'`,
        `recovery_target_time = '${target.time.replace('T', ' ').replace('Z', '+00')}'`,
        "recovery_target_action = 'promote'",
        "recovery_target_timeline = 'latest'",
        "archive_mode = 'off'",
        '',
      ].join('\n'),
    );
    writeFileSync(join(dataDir, 'recovery.signal'), '');
    rmSync(join(dataDir, 'postmaster.pid'), { force: true });
    chmodSync(dataDir, 0o700);
    if (runAs) chownTree(dataDir, runAs);

    ctx.step(`replaying WAL to ${target.time}`);
    const log = join(dataDir, 'lifeboat-recovery.log');
    // pg_ctl hands -o to a shell: the folder is quoted (a data directory may hold spaces).
    const o = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${shellWord(dataDir)}`;
    const start = await runPgTool(
      join(binDir, 'pg_ctl'),
      ['-D', dataDir, '-l', log, '-w', '-t', String(input.timeoutSeconds ?? 600), '-o', o, 'start'],
      { runAs },
    );
    const logTail = (): string =>
      existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').slice(-4).join(' / ') : '';
    started_ok = true;
    if (fetchFailure()) throw fetchFailure()!;
    if (start.code !== 0)
      throw new LifeboatError(
        'DB_RESTORE_FAILED',
        `PostgreSQL did not start for recovery: ${logTail() || start.stderr.trim()}`,
      );
    // The recovered server: trust on 127.0.0.1 is the base backup's own pg_hba (a restore target is not shared).
    const recovered = parsePgUrl(`postgres://postgres@127.0.0.1:${port}/postgres`);
    const client = <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => withPgClient(recovered, fn);
    const deadline = Date.now() + (input.timeoutSeconds ?? 600) * 1000;
    for (;;) {
      ctx.signal.throwIfAborted();
      if (fetchFailure()) throw fetchFailure()!;
      let inRecovery: boolean;
      try {
        inRecovery = await client(
          async (c) => (await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r,
        );
      } catch {
        const status = await runPgTool(join(binDir, 'pg_ctl'), ['-D', dataDir, 'status'], { runAs });
        if (status.code !== 0)
          throw (
            fetchFailure() ??
            new LifeboatError('DB_RESTORE_FAILED', `PostgreSQL stopped during recovery: ${logTail()}`, {
              hint: 'The WAL may end before the target, or a segment is missing; see lifeboat pitr plan.',
            })
          );
        inRecovery = true;
      }
      if (!inRecovery) {
        // Promoted: every file replay needed was fetched and proven (a failure would have stopped it).
        await fetching;
        if (fetchFailure()) throw fetchFailure()!;
        break;
      }
      if (Date.now() > deadline)
        throw new LifeboatError(
          'DB_RESTORE_FAILED',
          `Recovery did not finish within ${input.timeoutSeconds ?? 600} s.`,
          { hint: `See ${log}.` },
        );
      await new Promise((r) => setTimeout(r, 200));
    }
    const facts = await client(async (c) => {
      const r = await c.query<{ at: Date | null; tli: number }>(
        'SELECT pg_last_xact_replay_timestamp() AS at, (SELECT timeline_id FROM pg_control_checkpoint()) AS tli',
      );
      return r.rows[0]!;
    });
    let running = true;
    if (input.stopAfter) {
      await runPgTool(join(binDir, 'pg_ctl'), ['-D', dataDir, '-m', 'fast', '-w', 'stop'], { runAs });
      running = false;
    }
    return {
      dataDir,
      port,
      base: base.setId,
      segments: needed.length,
      targetTime: target.time,
      replayedTo: facts.at ? facts.at.toISOString() : null,
      timeline: facts.tli ?? null,
      durationMs: Date.now() - started,
      running,
      stopCommand: `${runAs ? 'runuser -u postgres -- ' : ''}${shellWord(join(binDir, 'pg_ctl'))} -D ${shellWord(dataDir)} stop`,
      warnings,
      unsignedWalAccepted: accepted,
      plan,
    };
  } catch (e) {
    if (started_ok)
      await runPgTool(join(binDir, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], { runAs }).catch(
        () => undefined,
      );
    throw e;
  } finally {
    // The spool holds decrypted WAL: it goes as soon as replay is over (or failed).
    stopFetching = true;
    releaseFetch();
    await fetching.catch(() => undefined);
    rmSync(spool, { recursive: true, force: true });
  }
}

/** A path as one shell word, for a command printed for the operator to paste. */
function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}
