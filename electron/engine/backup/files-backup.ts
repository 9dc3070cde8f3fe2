import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AgeIdentity } from '../crypto/age';
import { LifeboatError } from '../errors';
import { writeFileAtomicSync } from '../fs/atomic-write';
import { parseManifest, type Manifest } from '../format/manifest';
import { nameFields } from '../format/names';
import type { JobContext } from '../jobs/job-manager';
import { readDecoded } from '../pipeline/artifact-pipeline';
import type { Medium } from '../storage/medium';
import {
  entryPathBytes,
  entryTargetBytes,
  nameKey,
  parseIndex,
  serializeIndex,
  type FileEntry,
} from '../format/file-index';
import { DEFAULT_EXCLUDES, ExcludeMatcher } from './glob';
import { writeSet, type SetMeasureExtra, type SetPlan, type WrittenSet } from './set-writer';
import { tarSource, walkTrees, type WalkedEntry } from './tree';

export interface FilesBackupInput extends Omit<SetPlan, 'kind' | 'parent' | 'startedAt'> {
  paths: string[];
  excludes: string[];
  kind: 'files' | 'config';
  incremental: boolean;
  allowPlaintext: boolean;
  /** For reading an encrypted parent index from the medium when no local copy exists. */
  identities: AgeIdentity[];
  /** Where the last index of each system is cached (the data dir), so incrementals need no key. */
  stateDir: string;
}

function cachePath(stateDir: string, system: string, setId: string): string {
  return join(stateDir, 'file-index', system, `${setId}.jsonl`);
}

/** Newest complete set of the system and kind on the first medium (the parent of an incremental). */
async function newestSet(medium: Medium, system: string, kind: string): Promise<Manifest | null> {
  const sets = (await medium.listSets())
    .filter((s) => s.system === system && s.setId.includes(`-${kind}`))
    .sort((a, b) => b.setId.localeCompare(a.setId));
  for (const s of sets) {
    try {
      const m = parseManifest(await medium.readFile(`${s.path}/manifest.json`));
      if (m.kind === kind) return m;
    } catch {
      continue;
    }
  }
  return null;
}

async function loadParentIndex(input: FilesBackupInput, parent: Manifest): Promise<FileEntry[]> {
  const cached = cachePath(input.stateDir, parent.system, parent.set_id);
  try {
    return parseIndex(readFileSync(cached));
  } catch {
    // not cached here: read it from the medium
  }
  const artifact = parent.artifacts.find((a) => a.role === 'file-index');
  if (!artifact) throw new LifeboatError('FORMAT_INVALID', `The parent set ${parent.set_id} has no file index.`);
  const medium = input.media[0]!;
  if (artifact.encodings.includes('age') && input.identities.length === 0) {
    throw new LifeboatError(
      'PRECONDITION_FAILED',
      `The parent set ${parent.set_id} has an encrypted file index and this machine has no copy of it.`,
      {
        hint: `Pass --identity with the key it was encrypted to (key id ${artifact.recipients.join(', ')}), or make a full backup (without --incremental).`,
      },
    );
  }
  const plain = await readDecoded(
    await medium.openRead(`sets/${parent.system}/${parent.set_id}/${artifact.path}`),
    artifact.encodings,
    input.identities,
    {
      plainLimit: artifact.plain_bytes,
      what: `The file index of the parent set ${parent.set_id}`,
    },
  );
  return parseIndex(plain);
}

function writeCache(stateDir: string, system: string, setId: string, index: Buffer): void {
  const path = cachePath(stateDir, system, setId);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileAtomicSync(path, index);
}

/**
 * Whether an entry is exactly as the parent set recorded it, by the rule of restic and Kopia:
 * same type, size, mtime, ctime, inode and device (and link target or device numbers). ctime
 * cannot be set back by a user, so a same-size change whose mtime was put back is still seen;
 * a v1 parent entry (no ctime or inode) never matches.
 */
function unchanged(prev: FileEntry | undefined, e: WalkedEntry): prev is FileEntry {
  if (!prev || prev.type !== e.type || prev.ctime_ns === undefined) return false;
  if (
    prev.size !== e.size ||
    prev.mtime_ms !== e.mtimeMs ||
    prev.ctime_ns !== e.ctimeNs ||
    prev.ino !== e.ino ||
    prev.dev !== e.dev
  )
    return false;
  if (e.type === 'file') return prev.sha256 !== null;
  if (e.type === 'symlink') return e.target !== null && entryTargetBytes(prev)?.equals(e.target) === true;
  if (e.type === 'char' || e.type === 'block') return prev.rdev?.[0] === e.rdev?.[0] && prev.rdev?.[1] === e.rdev?.[1];
  return e.type === 'fifo';
}

/**
 * The files measure of a set (trends, the ransomware indicator): regular files in the tree, and how
 * many are new or changed since the previous set. An incremental compares with its parent; a full
 * set with the newest set's index when it can be read without a key (the local cache, or an
 * unencrypted index on the medium), else its change count is unknown (null), not zero.
 */
async function changedFiles(
  input: FilesBackupInput,
  entries: WalkedEntry[],
  parentIndex: Map<string, FileEntry> | null,
  ctx: Pick<JobContext, 'log'>,
): Promise<SetMeasureExtra> {
  let previous = parentIndex;
  if (!previous) {
    try {
      const newest = await newestSet(input.media[0]!, input.system, input.kind);
      if (newest)
        previous = new Map(
          (await loadParentIndex({ ...input, identities: [] }, newest)).map((e) => [nameKey(entryPathBytes(e)), e]),
        );
    } catch (e) {
      ctx.log('info', `changed files not counted (the previous index could not be read: ${(e as Error).message})`);
    }
  }
  const files = entries.filter((e) => e.type === 'file');
  return {
    files_total: files.length,
    files_changed: previous ? files.filter((e) => !unchanged(previous.get(e.key), e)).length : null,
  };
}

/** The index line of an entry stored in this set. */
function indexEntry(e: WalkedEntry, sha256: string | null, setId: string): FileEntry {
  const path = nameFields(e.path);
  const target = e.target ? nameFields(e.target) : null;
  return {
    path: path.text,
    ...(path.b64 !== null ? { path_b64: path.b64 } : {}),
    type: e.type,
    size: e.type === 'file' ? e.size : 0,
    mtime_ms: e.mtimeMs,
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    sha256: e.type === 'file' ? sha256 : null,
    target: target ? target.text : null,
    ...(target && target.b64 !== null ? { target_b64: target.b64 } : {}),
    ...(e.rdev ? { rdev: e.rdev } : {}),
    dev: e.dev,
    ino: e.ino,
    ctime_ns: e.ctimeNs,
    in: setId,
  };
}

/**
 * A files or config set: a pax tar of the given trees (modes, owners, mtimes, symlinks as links,
 * hardlinks as links, FIFOs and device nodes), plus the index: the complete state of the tree
 * at this time. An incremental set stores in its tar what is new or changed since the newest set
 * of the system (see unchanged()), plus every directory and hardlink (headers only, so that the
 * newest set's tar gives every directory its final mode and mtime); each index line's `in` names
 * the set whose tar holds that entry.
 */
export async function backupFiles(
  input: FilesBackupInput,
  ctx: JobContext,
): Promise<WrittenSet & { index: FileEntry[] }> {
  if (input.kind === 'config' && input.recipients.length === 0 && !input.allowPlaintext) {
    throw new LifeboatError('BAD_INPUT', 'A config set holds secrets and is written encrypted: give --recipient.', {
      hint: 'Or pass --allow-plaintext if you really mean to store it unencrypted.',
    });
  }
  if (input.paths.length === 0) throw new LifeboatError('BAD_INPUT', 'Give at least one --path to back up.');
  ctx.step('scanning files');
  const excludes = new ExcludeMatcher([...DEFAULT_EXCLUDES, ...input.excludes]);
  const walked = await walkTrees(input.paths, excludes);
  const startedAt = new Date();

  let parent: Manifest | null = null;
  let parentIndex = new Map<string, FileEntry>();
  if (input.incremental) {
    parent = await newestSet(input.media[0]!, input.system, input.kind);
    if (parent) {
      ctx.step(`comparing with ${parent.set_id}`);
      parentIndex = new Map((await loadParentIndex(input, parent)).map((e) => [nameKey(entryPathBytes(e)), e]));
    } else {
      ctx.log('info', 'no earlier set of this system: making a full one');
    }
  }

  // Decide what goes into this set's tar, in walk order (a hardlink comes after its file).
  const reused = new Map<string, FileEntry>();
  const toStore: WalkedEntry[] = [];
  for (const e of walked.entries) {
    const prev = parentIndex.get(e.key);
    if (e.type !== 'dir' && e.type !== 'hardlink' && unchanged(prev, e)) reused.set(e.key, prev);
    else toStore.push(e);
  }
  const measure = await changedFiles(input, walked.entries, parent ? parentIndex : null, ctx);

  const totalBytes = toStore.reduce((n, e) => n + e.size, 0);
  ctx.progress({
    bytesTotal: totalBytes,
    bytesDone: 0,
    itemsTotal: toStore.filter((e) => e.type === 'file').length,
    itemsDone: 0,
  });
  const results = { hashes: new Map<string, string>(), warnings: [...walked.warnings], skipped: new Set<string>() };
  let filesDone = 0;
  const plan: SetPlan = { ...input, kind: input.kind, parent: parent?.set_id ?? null, startedAt };
  let index: FileEntry[] = [];
  let indexBytes: Buffer = Buffer.alloc(0);
  const written = await writeSet(plan, ctx, async (add, setId) => {
    const tar = tarSource(toStore, results, (path) => ctx.progress({ itemsDone: ++filesDone, current: path }));
    await add({
      name: 'files.tar',
      role: 'files-tar',
      source: tar,
      onPlainBytes: (n) => ctx.progress({ bytesDone: Math.min(n, totalBytes) }),
    });
    index = walked.entries
      .filter((e) => !results.skipped.has(e.key))
      .map((e) => reused.get(e.key) ?? indexEntry(e, results.hashes.get(e.key) ?? null, setId));
    indexBytes = serializeIndex(index);
    await add({ name: 'index.jsonl', role: 'file-index', source: indexBytes });
    return {
      source: {
        paths: walked.roots.map((r) => ({ path: r.path, name: r.name })),
        excludes: excludes.patterns,
        incremental: input.incremental,
        entries: index.length,
        stored_entries: toStore.length - results.skipped.size,
        stored_bytes: totalBytes,
      },
      warnings: results.warnings,
      measure,
    };
  });
  writeCache(input.stateDir, input.system, written.manifest.set_id, indexBytes);
  return { ...written, index };
}
