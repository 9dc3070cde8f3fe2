import type { FileEntry, FileEntryType } from '../../format/file-index';
import { LifeboatError, mapError } from '../../errors';
import { findRestic, resticScope, runRestic, streamRestic, type ResticRun } from './cli';

/** At most this many entries of one snapshot are indexed for `find` (the rest is said in the log). */
export const RESTIC_INDEX_LIMIT = 2_000_000;

interface ResticNode {
  struct_type?: string;
  type?: string;
  path?: string;
  size?: number;
  mode?: number;
  mtime?: string;
  uid?: number;
  gid?: number;
  linktarget?: string;
}

const TYPES: Record<string, FileEntryType> = {
  file: 'file',
  dir: 'dir',
  symlink: 'symlink',
  fifo: 'fifo',
  chardev: 'char',
  dev: 'block',
};

/**
 * A snapshot's tree as a file index (for `find`), streamed from `restic ls --json <id>` line by
 * line, bounded: past `limit` entries restic is stopped and `truncated` says so. restic records no
 * SHA-256 per file (its content hashes are of chunks): sha256 is null.
 */
export async function resticFileIndex(
  r: ResticRun,
  snapshot: string,
  setId: string,
  limit = RESTIC_INDEX_LIMIT,
): Promise<{ entries: FileEntry[]; truncated: boolean }> {
  const entries: FileEntry[] = [];
  const { stopped } = await streamRestic(r, ['ls', '--json', snapshot], (line) => {
    let n: ResticNode;
    try {
      n = JSON.parse(line) as ResticNode;
    } catch {
      return true;
    }
    if (n.struct_type !== 'node' || !n.path || !n.type) return true;
    const type = TYPES[n.type];
    const path = n.path.replace(/^\/+/, '');
    if (!type || !path) return true;
    entries.push({
      path,
      type,
      size: type === 'file' ? (n.size ?? 0) : 0,
      mtime_ms: n.mtime ? Date.parse(n.mtime) : 0,
      // Go's os.FileMode: the permission and setuid/setgid/sticky bits are the low 12 once the type bits are dropped.
      mode: (n.mode ?? 0) & 0o777,
      uid: n.uid,
      gid: n.gid,
      sha256: null,
      target: n.linktarget ?? null,
      in: setId,
    });
    return entries.length < limit;
  });
  return { entries, truncated: stopped };
}

/**
 * `restic check`: the repository's structure (index, packs, trees, snapshots); with `readData`
 * every pack is read and its blobs' SHA-256 checked (`--read-data`), or a subset (`--read-data-subset
 * 1/10`, `5%`). Resolves with restic's last line; a repository with errors is CHECKSUM_MISMATCH.
 */
export async function resticCheck(r: ResticRun, readData: boolean | string): Promise<string> {
  const args = [
    'check',
    ...(readData === true ? ['--read-data'] : typeof readData === 'string' ? [`--read-data-subset=${readData}`] : []),
  ];
  try {
    const out = await runRestic(r, args);
    return out.trim().split('\n').filter(Boolean).pop() ?? 'no errors were found';
  } catch (e) {
    const err = mapError(e);
    if (
      err.code === 'TOOL_FAILED' &&
      /contains errors|error for tree|pack .* (?:contains|not found)|ciphertext verification failed|hash does not match|invalid data/i.test(
        err.message,
      )
    ) {
      throw new LifeboatError(
        'CHECKSUM_MISMATCH',
        err.message.replace(/^restic failed on /, 'restic check found errors in '),
        { cause: e },
      );
    }
    throw err;
  }
}

/** `restic restore <id> --target <staging> [--include …]`: into a fresh private folder the caller made (it moves the tree into place). */
export async function resticRestore(r: ResticRun, snapshot: string, staging: string, include: string[]): Promise<void> {
  const patterns = include.map((p) => `/${p.replace(/^\/+/, '')}`);
  await runRestic(r, ['restore', snapshot, '--target', staging, ...patterns.flatMap((p) => ['--include', p])]);
}

/**
 * A restic repository's verdict at a verification level: integrity is `restic check` (structure,
 * index, trees), deep adds `--read-data` (every pack read, every blob's hash checked) or the
 * subset asked. Errors in the repository are `corrupted`; no CLI, no password or the wrong one is
 * `not-checked` with the reason (a fact about this laptop, not about the set).
 */
export async function resticVerdict(
  repoAbs: string | null,
  password: () => Promise<string | null>,
  deep: boolean,
  subset: string | null,
  signal: AbortSignal,
): Promise<{ verdict: 'ok' | 'corrupted' | 'not-checked'; detail: string }> {
  const restic = findRestic();
  if (!repoAbs)
    return { verdict: 'not-checked', detail: 'restic check runs on a folder: this repository is not on one' };
  if (!restic) return { verdict: 'not-checked', detail: 'the restic CLI is not installed here (apt install restic)' };
  const pw = await password();
  if (!pw)
    return {
      verdict: 'not-checked',
      detail: `no password for the restic repository ${repoAbs} (--password-file, or lifeboat credentials add restic ${resticScope(repoAbs)} --from-file <file>)`,
    };
  const how = deep
    ? subset
      ? `restic check --read-data-subset=${subset}`
      : 'restic check --read-data'
    : 'restic check';
  try {
    const last = await resticCheck({ restic, repo: repoAbs, password: pw, signal }, deep ? (subset ?? true) : false);
    return { verdict: 'ok', detail: `${how}: ${last}` };
  } catch (e) {
    const err = mapError(e);
    if (err.code === 'CANCELLED') throw err;
    if (err.code === 'CHECKSUM_MISMATCH' || err.code === 'TOOL_FAILED' || err.code === 'FORMAT_INVALID')
      return { verdict: 'corrupted', detail: `${how}: ${err.message}` };
    return { verdict: 'not-checked', detail: `${how} could not run: ${err.message}` };
  }
}
