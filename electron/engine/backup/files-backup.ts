import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AgeIdentity } from '../crypto/age';
import { LifeboatError } from '../errors';
import { parseManifest, type Manifest } from '../format/manifest';
import type { JobContext } from '../jobs/job-manager';
import { readDecoded } from '../pipeline/artifact-pipeline';
import type { Medium } from '../storage/medium';
import { parseIndex, serializeIndex, type FileEntry } from './file-index';
import { DEFAULT_EXCLUDES, ExcludeMatcher } from './glob';
import { writeSet, type SetPlan, type WrittenSet } from './set-writer';
import { hashFile, tarSource, walkTrees, type WalkedEntry } from './tree';

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
  const sets = (await medium.listSets()).filter((s) => s.system === system && s.setId.includes(`-${kind}`)).sort((a, b) => b.setId.localeCompare(a.setId));
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
    throw new LifeboatError('PRECONDITION_FAILED', `The parent set ${parent.set_id} has an encrypted file index and this machine has no copy of it.`, {
      hint: `Pass --identity with the key it was encrypted to (key id ${artifact.recipients.join(', ')}), or make a full backup (without --incremental).`,
    });
  }
  const plain = await readDecoded(await medium.openRead(`sets/${parent.system}/${parent.set_id}/${artifact.path}`), artifact.encodings, input.identities);
  return parseIndex(plain);
}

function writeCache(stateDir: string, system: string, setId: string, index: Buffer): void {
  const path = cachePath(stateDir, system, setId);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(`${path}.tmp`, index, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

/**
 * A files or config set: a pax tar of the given trees (modes, mtimes, symlinks as links),
 * plus a full file index. Incremental sets store only what changed since the newest set of the
 * system (size and mtime, then content hash for files only touched) and name it as parent.
 */
export async function backupFiles(input: FilesBackupInput, ctx: JobContext): Promise<WrittenSet & { index: FileEntry[] }> {
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
      parentIndex = new Map((await loadParentIndex(input, parent)).map((e) => [e.path, e]));
    } else {
      ctx.log('info', 'no earlier set of this system: making a full one');
    }
  }

  // Decide what goes into this set's tar.
  const toStore: WalkedEntry[] = [];
  const reused = new Map<string, FileEntry>();
  for (const e of walked.entries) {
    const prev = parentIndex.get(e.path);
    if (prev && prev.type === e.type && e.type !== 'file' && prev.target === e.target && prev.mode === e.mode && prev.mtime_ms === e.mtimeMs) {
      reused.set(e.path, prev);
      continue;
    }
    if (prev && e.type === 'file' && prev.type === 'file' && prev.size === e.size) {
      if (prev.mtime_ms === e.mtimeMs && prev.mode === e.mode) {
        reused.set(e.path, prev);
        continue;
      }
      // Same size, new mtime: touched or changed? The content hash decides.
      const sha = await hashFile(e.abs);
      if (sha !== null && sha === prev.sha256) {
        reused.set(e.path, { ...prev, mtime_ms: e.mtimeMs, mode: e.mode });
        continue;
      }
    }
    toStore.push(e);
  }
  // Directories are always written, so a restore of this set alone recreates the tree shape.
  const storedPaths = new Set(toStore.map((e) => e.path));
  for (const e of walked.entries) if (e.type === 'dir' && !storedPaths.has(e.path)) toStore.push(e);
  toStore.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

  const totalBytes = toStore.reduce((n, e) => n + e.size, 0);
  ctx.progress({ bytesTotal: totalBytes, bytesDone: 0, itemsTotal: toStore.filter((e) => e.type === 'file').length, itemsDone: 0 });
  const results = { hashes: new Map<string, string>(), warnings: [...walked.warnings], skipped: new Set<string>() };
  let filesDone = 0;
  const plan: SetPlan = { ...input, kind: input.kind, parent: parent?.set_id ?? null, startedAt };
  let index: FileEntry[] = [];
  let indexBytes: Buffer = Buffer.alloc(0);
  const written = await writeSet(plan, ctx, async (add, setId) => {
    const tar = tarSource(toStore, results, (path) => ctx.progress({ itemsDone: ++filesDone, current: path }));
    await add({ name: 'files.tar', role: 'files-tar', source: tar, onPlainBytes: (n) => ctx.progress({ bytesDone: Math.min(n, totalBytes) }) });
    index = walked.entries
      .filter((e) => !results.skipped.has(e.path))
      .map((e): FileEntry => {
        const prev = reused.get(e.path);
        if (prev) return prev;
        return { path: e.path, type: e.type, size: e.type === 'file' ? e.size : 0, mtime_ms: e.mtimeMs, mode: e.mode, sha256: e.type === 'file' ? (results.hashes.get(e.path) ?? null) : null, target: e.target, in: setId };
      });
    indexBytes = serializeIndex(index);
    await add({ name: 'index.jsonl', role: 'file-index', source: indexBytes });
    return {
      source: {
        paths: walked.roots.map((r) => ({ path: r.path, name: r.name })),
        excludes: excludes.patterns,
        incremental: input.incremental,
        entries: index.length,
        stored_entries: toStore.length,
        stored_bytes: totalBytes,
      },
      warnings: results.warnings,
    };
  });
  writeCache(input.stateDir, input.system, written.manifest.set_id, indexBytes);
  return { ...written, index };
}
