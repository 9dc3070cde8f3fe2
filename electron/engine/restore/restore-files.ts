import { existsSync, readdirSync } from 'node:fs';
import { lstat, mkdir, readdir, rm, rmdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Transform } from 'node:stream';
import { setOrigin } from '../catalog/lookups';
import { chainKeys } from '../catalog/queries';
import { LifeboatError } from '../errors';
import { mergeMove } from './extract';
import { makeFolders } from '../storage/make-folders';
import { applyMetadata, extractSeedTarball, restoreTree } from './files';
import { restoreSecrets, openSeedCopy, logExpected, type SeedCopy } from './seed-copy';
import { openVerifiedArtifact, untilVerified, type VerifiedArtifact } from './gate';
import { IndexStore } from './index-store';
import { SafeTree } from './safe-tree';
import { refuseOverwrites } from './select';
import { findRestic, resticRestore, resticScope } from '../foreign/restic';
import { foreignSecrets, needsSecret } from '../foreign/secrets';
import { openCopy, openTrustedCopy, type TrustedSetCopy } from './set-access';
import { ConfirmationNeeded, type RestoreContext } from './context';

const STAGING = (runId: string): string => `.lifeboat-restore-${runId}`;

/**
 * restore.files of a restic snapshot: the copy passes the one trust rule (openCopy: without a prior
 * successful verification only with allow_unsigned, journaled), restic restores the chosen paths
 * into a fresh private staging folder inside the target (restic never writes into the target
 * itself, so never through a link planted there), then the tree is moved in as Lifeboat's own
 * restores are (refuseOverwrites, mergeMove: a link in the target is replaced, never followed).
 */
async function restoreResticSnapshot(
  ctx: RestoreContext,
  p: { set: string; paths: string[]; keep_existing: boolean; allow_unsigned: boolean },
  into: string,
  staging: string,
): Promise<Record<string, unknown>> {
  const copy = await openCopy(ctx.deps.catalog, p.set, { allowUnsigned: p.allow_unsigned, open: ctx.deps.openMedium });
  if (copy.origin !== 'restic') throw new LifeboatError('FORMAT_INVALID', `${copy.key} is not a restic snapshot.`);
  if (copy.decision.state === 'accepted-unsigned')
    ctx.log('warn', `reading a foreign set not verified here because the step allows it: ${copy.decision.why}`);
  else ctx.log('info', `${copy.key}: ${copy.trust.text}`);
  const repo = copy.medium.localPath(copy.setPath || '.');
  const restic = findRestic();
  if (!repo)
    throw new LifeboatError('FORMAT_UNSUPPORTED', `${copy.key} is in a restic repository that is not on a folder.`);
  if (!restic)
    throw new LifeboatError('TOOL_MISSING', 'restic is not installed here: it reads its own repositories.', {
      hint: 'apt install restic (or restore by hand: docs/foreign-formats.md).',
    });
  const password = await foreignSecrets({ files: ctx.deps.foreignFiles, keychain: ctx.deps.credentials }).get(
    'restic-password',
    resticScope(repo),
  );
  if (!password)
    throw new LifeboatError('CREDENTIAL_UNAVAILABLE', `No password for the restic repository of ${copy.key}.`, {
      hint: `Give ${needsSecret('restic-password', resticScope(repo))}.`,
    });
  const counted = await stageInto(ctx, into, staging, p.keep_existing, async () => {
    await resticRestore({ restic, repo, password, signal: ctx.signal }, String(copy.facts.snapshot), staging, p.paths);
    const tree = await countTree(staging);
    if (p.paths.length > 0 && tree.entries === 0)
      throw new LifeboatError('NOT_FOUND', `No entry of ${copy.key} matches ${p.paths.join(', ')}.`, {
        hint: 'lifeboat find <glob> lists the paths of a snapshot.',
      });
    return tree;
  });
  ctx.log('info', `moving the restored tree into ${into}`);
  await mergeMove(staging, into);
  await rm(staging, { recursive: true, force: true });
  return {
    set: copy.key,
    dir: into,
    entries: counted.entries,
    files: counted.files,
    bytes: counted.bytes,
    chain: [copy.setId],
    hashes_checked: 0,
    owners_restored: false,
    restored_by: 'restic restore',
  };
}

/**
 * The one way a files restore stages its tree: a non-empty target needs the typed confirmation of
 * its path; the staging folder (private, inside the target) is made afresh and `stage` fills it;
 * with `keepExisting` an entry that already exists in the target refuses the restore. On any
 * failure nothing was put in place: the staged part goes and the target is as it was (absent again
 * when this made it).
 */
async function stageInto<T>(
  ctx: RestoreContext,
  into: string,
  staging: string,
  keepExisting: boolean,
  stage: () => Promise<T>,
): Promise<T> {
  const existing = existsSync(into) ? readdirSync(into).filter((n) => n !== basename(staging)) : [];
  if (existing.length > 0 && ctx.confirmation !== into) {
    throw new ConfirmationNeeded(
      `${into} is not empty (${existing.length} entries): restoring over it replaces files and folders of the same names.`,
      into,
      ctx.confirmation !== null,
    );
  }
  // A new target folder gets the usual mode (umask): only the staging folder inside it is private.
  const madeInto = !existsSync(into);
  await makeFolders(into);
  await rm(staging, { recursive: true, force: true });
  await makeFolders(staging, 0o700);
  try {
    const staged = await stage();
    if (keepExisting) await refuseOverwrites(staging, into);
    return staged;
  } catch (e) {
    await rm(staging, { recursive: true, force: true });
    if (madeInto) await rmdir(into).catch(() => undefined);
    throw e;
  }
}

/** Files, bytes and entries of a staged tree (links not followed). */
async function countTree(dir: string): Promise<{ files: number; bytes: number; entries: number }> {
  const out = { files: 0, bytes: 0, entries: 0 };
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      out.entries++;
      if (e.isDirectory()) await walk(join(d, e.name));
      else if (e.isFile()) {
        out.files++;
        out.bytes += (await lstat(join(d, e.name))).size;
      }
    }
  };
  await walk(dir);
  return out;
}

/**
 * The plaintext of one artifact of a set, through the gate (restore/gate.ts): the manifest was
 * judged by the trust rule when the copy was opened; sizes are hard stops and the hashes fail the
 * stream before its end. The one place this action turns stored bytes into content.
 */
async function openArtifact(ctx: RestoreContext, copy: TrustedSetCopy, role: string): Promise<VerifiedArtifact> {
  const artifact = copy.manifest.artifacts.find((a) => a.role === role);
  if (!artifact)
    throw new LifeboatError(
      'FORMAT_INVALID',
      role === 'file-index'
        ? `${copy.key} has no file index: it is not a files or config set.`
        : `${copy.key} has no files tar.`,
    );
  if (copy.trust.state === 'accepted-unsigned')
    ctx.log('warn', `reading an untrusted set because the step allows it: ${copy.trust.why}`);
  return openVerifiedArtifact(copy, artifact, {
    identities: ctx.deps.identities,
    trust: copy.trust,
    signal: ctx.signal,
  });
}

/** The set's file index, streamed through the gate into a throw-away store in the run's folder (never whole in memory). */
async function loadIndex(
  ctx: RestoreContext,
  set: string,
  allowUnsigned: boolean,
): Promise<{ key: string; store: IndexStore }> {
  const copy = await openTrustedCopy(ctx.deps.catalog, set, { allowUnsigned, open: ctx.deps.openMedium });
  const index = await openArtifact(ctx, copy, 'file-index');
  await mkdir(ctx.workDir, { recursive: true, mode: 0o700 });
  const file = join(ctx.workDir, `index-${ctx.stepId}.sqlite`);
  const store = await untilVerified(
    index,
    IndexStore.load(index.stream, [], file, { signal: ctx.signal, nativeBinding: ctx.deps.catalog.nativeBinding }),
  );
  return { key: copy.key, store };
}

/** A files restore's parameters (the restore.files step's, after parsing). */
export interface FilesRestoreParams {
  set: string;
  /** Globs of paths (a match brings its subtree); none: the whole set. */
  paths: string[];
  /** Into a non-empty folder: refuse (before moving anything) when an entry already exists there. */
  keep_existing: boolean;
  /** Restore a set not signed by a pinned key (journaled with the step's parameters). */
  allow_unsigned: boolean;
  /** As root: do not restore owners and groups (setuid/setgid bits are then cleared). */
  no_same_owner: boolean;
}

/** What a stopped files restore left in its target, for the step's condition. */
export function filesRestoreCondition(into: string | undefined, checkpoint: unknown, drill: boolean): string {
  return drill
    ? 'the scratch folder is removed when the run ends'
    : (checkpoint as { phase?: string } | null)?.phase === 'moving'
      ? `files were being moved into ${into}: some are in place, the rest wait in its ${'.lifeboat-restore-*'} folder; resume to finish`
      : `${into} is as it was: the restore was staged in a hidden .lifeboat-restore-* folder inside it, removed when the step runs again`;
}

/**
 * A files or config set into a folder (the restore.files step, `lifeboat restore files`). The set's file index names, for every
 * entry, the set whose tar holds its content, so an incremental chain is rebuilt by reading each
 * set of the chain once, and only the entries of the final index exist afterwards (deleted and
 * renamed ones are absent, type changes are right). Every artifact is read through the gate (the
 * set must be signed by a pinned key unless allow_unsigned, journaled with the step). Everything is
 * built in a staging folder inside the target first, never following a link (restore/safe-tree.ts),
 * every file's hash checked against the index; only then is it moved into place. An empty or
 * absent target is the default, a non-empty one needs a typed confirmation of its path. As root,
 * owners and groups are restored unless no_same_owner (then, as without root, setuid/setgid bits
 * are cleared).
 */
export async function restoreFiles(
  p: FilesRestoreParams,
  ctx: RestoreContext,
  into: string,
): Promise<Record<string, unknown>> {
  const staging = join(into, STAGING(ctx.runId));
  // A restic snapshot: restic restores into the same private staging folder, moved in by the same rules (foreign/restic).
  if (setOrigin(ctx.deps.catalog, p.set) === 'restic') return restoreResticSnapshot(ctx, p, into, staging);
  const checkpoint = ctx.checkpoint as { phase?: string } | null;
  const root = process.getuid?.() === 0;
  const sameOwner = root && !p.no_same_owner;
  // A seed script's tarball: no file index, restored whole through the same staging and checks.
  const seed = await openSeedCopy(ctx.deps.catalog, p.set, {
    allowUnsigned: p.allow_unsigned,
    open: ctx.deps.openMedium,
  });
  if (seed) return restoreSeedFiles(p, seed, ctx, into, staging);
  const { key, store } = await loadIndex(ctx, p.set, p.allow_unsigned);
  try {
    store.select(p.paths);
    let report: Awaited<ReturnType<typeof restoreTree>> | null = null;
    if (checkpoint?.phase !== 'moving') {
      report = await stageInto(ctx, into, staging, p.keep_existing, async () => {
        const system = key.split('/')[0]!;
        const chain = chainKeys(ctx.deps.catalog, key);
        const totals = store.totals();
        ctx.progress({ bytesTotal: totals.bytes, bytesDone: 0, itemsTotal: totals.files, itemsDone: 0 });
        return restoreTree({
          store,
          staging,
          openTar: async (setId) => {
            const copy = await openTrustedCopy(ctx.deps.catalog, chain.get(setId) ?? `${system}/${setId}`, {
              allowUnsigned: p.allow_unsigned,
              open: ctx.deps.openMedium,
            });
            const gated = await openArtifact(ctx, copy, 'files-tar');
            return {
              source: gated.stream,
              stages: [] as Transform[],
              label: copy.key,
              consumed: (reading: Promise<void>) => untilVerified(gated, reading),
            };
          },
          sameOwner,
          canMakeDevices: root,
          deferFolders: true,
          signal: ctx.signal,
          log: (level, message) => ctx.log(level, message),
          progress: (x) => ctx.progress(x),
        });
      });
      ctx.saveCheckpoint({ phase: 'moving' });
    }
    ctx.log('info', `moving the restored tree into ${into}`);
    await mergeMove(staging, into);
    await rm(staging, { recursive: true, force: true });
    // Folders get their modes, owners and mtimes now (moving entries into them touched their mtimes).
    await applyMetadata(new SafeTree(into), store, { sameOwner, which: 'dirs' });
    const totals = store.totals();
    return {
      set: key,
      dir: into,
      entries: totals.entries,
      files: totals.files,
      bytes: totals.bytes,
      chain: store.sets(false),
      hashes_checked: totals.hashed,
      owners_restored: sameOwner,
      ...(report ? { links_outside_tree: report.linksOutside, devices_not_created: report.notCreated.count } : {}),
    };
  } finally {
    store.close();
  }
}

/** restore.files of a seed script's `.tar.gz`: staged inside the target (restore/files.ts extractSeedTarball), then moved into place. */
async function restoreSeedFiles(
  p: { set: string; paths: string[]; keep_existing: boolean; allow_unsigned: boolean },
  copy: SeedCopy,
  ctx: RestoreContext,
  into: string,
  staging: string,
): Promise<Record<string, unknown>> {
  if (copy.kind !== 'files' && copy.kind !== 'config')
    throw new LifeboatError(
      'FORMAT_INVALID',
      `${copy.key} (${copy.path}) is a database dump: restore it with lifeboat restore pg.`,
    );
  if (p.paths.length)
    throw new LifeboatError('BAD_INPUT', `${copy.path} is a seed script's tarball: it is restored whole (no paths).`);
  logExpected(copy, (l, m) => ctx.log(l, m));
  const cp = ctx.checkpoint as { phase?: string; files?: number } | null;
  let files = cp?.files ?? null;
  if (cp?.phase !== 'moving') {
    files = await stageInto(ctx, into, staging, p.keep_existing, async () => {
      ctx.progress({ bytesTotal: copy.bytes, bytesDone: 0, current: copy.path });
      const r = await extractSeedTarball(copy, staging, {
        secrets: restoreSecrets(ctx.deps),
        signal: ctx.signal,
        progress: (x) => ctx.progress(x),
      });
      ctx.log('info', `${copy.path}: ${r.files} files (${r.bytes} bytes) staged`);
      return r.files;
    });
    ctx.saveCheckpoint({ phase: 'moving', files });
  }
  await mergeMove(staging, into);
  await rm(staging, { recursive: true, force: true });
  return {
    set: copy.key,
    file: copy.path,
    dir: into,
    files,
    bytes: copy.bytes,
    chain: [copy.key.split('/')[1]],
    trust: copy.expected ? `${copy.trust}; bytes matched the SHA-256 from ${copy.expected.source}` : copy.trust,
  };
}
