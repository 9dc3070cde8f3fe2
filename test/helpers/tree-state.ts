import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface EntryState {
  type: 'file' | 'dir' | 'symlink' | 'fifo' | 'char' | 'block' | 'other';
  mode: number;
  uid: number;
  gid: number;
  /** Nanoseconds since 1970, as text (exact). */
  mtime: string;
  nlink?: number;
  sha256?: string;
  /** Link target bytes as hex (names are bytes). */
  target?: string;
  rdev?: string;
}

/**
 * Every entry of a tree by its name bytes (hex, relative, '/'-joined): type, mode, owner, mtime
 * (ns), content hash, link target, link count. Symlinks' own mtimes are left out: `tar` and
 * `cp` do not all set them.
 */
export function treeState(root: string): Record<string, EntryState> {
  const mtimeOf = (ns: bigint): string => String(ns);
  const out: Record<string, EntryState> = {};
  const walk = (abs: Buffer, rel: Buffer | null): void => {
    for (const name of readdirSync(abs, { encoding: 'buffer' }).sort((a, b) => Buffer.compare(a, b))) {
      const childAbs = Buffer.concat([abs, Buffer.from('/'), name]);
      const childRel = rel ? Buffer.concat([rel, Buffer.from('/'), name]) : name;
      const st = lstatSync(childAbs, { bigint: true });
      const base = {
        mode: Number(st.mode & 0o7777n),
        uid: Number(st.uid),
        gid: Number(st.gid),
        mtime: mtimeOf(st.mtimeNs),
      };
      const key = childRel.toString('hex');
      if (st.isSymbolicLink())
        out[key] = {
          ...base,
          type: 'symlink',
          mtime: '-',
          target: readlinkSync(childAbs, { encoding: 'buffer' }).toString('hex'),
        };
      else if (st.isDirectory()) {
        out[key] = { ...base, type: 'dir' };
        walk(childAbs, childRel);
      } else if (st.isFile())
        out[key] = {
          ...base,
          type: 'file',
          nlink: Number(st.nlink),
          sha256: createHash('sha256').update(readFileSync(childAbs)).digest('hex'),
        };
      else if (st.isFIFO()) out[key] = { ...base, type: 'fifo' };
      else if (st.isCharacterDevice() || st.isBlockDevice())
        out[key] = { ...base, type: st.isCharacterDevice() ? 'char' : 'block', rdev: String(st.rdev) };
      else out[key] = { ...base, type: 'other' };
    }
  };
  walk(Buffer.from(root), null);
  return out;
}

/** The fenced `sh` blocks of the given `## ` sections of a markdown file, in order. */
export function shellBlocks(markdown: string, sections: RegExp): string[] {
  const blocks: string[] = [];
  let inSection = false;
  let current: string[] | null = null;
  for (const line of markdown.split('\n')) {
    if (current) {
      if (line === '```') {
        blocks.push(current.join('\n'));
        current = null;
      } else current.push(line);
      continue;
    }
    if (line.startsWith('## ')) inSection = sections.test(line.slice(3));
    else if (inSection && line === '```sh') current = [];
  }
  return blocks;
}

/** A path of bytes: the parts (text as UTF-8) joined with '/'. */
export function bjoin(...parts: Array<string | Buffer>): Buffer {
  const out: Buffer[] = [];
  parts.forEach((p, i) => {
    if (i > 0) out.push(Buffer.from('/'));
    out.push(typeof p === 'string' ? Buffer.from(p, 'utf8') : p);
  });
  return Buffer.concat(out);
}

/**
 * `actual` with each mtime that is within `toleranceNs` of `expected`'s replaced by it, for a
 * comparison of whole states: Node sets times as a double of seconds, so a restore through it is
 * exact to about a microsecond (GNU tar: to the nanosecond). Anything further off stays and shows.
 */
export function withMtimesWithin(
  expected: Record<string, EntryState>,
  actual: Record<string, EntryState>,
  toleranceNs: number,
): Record<string, EntryState> {
  const out: Record<string, EntryState> = {};
  for (const [k, v] of Object.entries(actual)) {
    const want = expected[k];
    const close =
      want &&
      want.mtime !== '-' &&
      v.mtime !== '-' &&
      Math.abs(Number(BigInt(want.mtime) - BigInt(v.mtime))) <= toleranceNs;
    out[k] = close ? { ...v, mtime: want.mtime } : v;
  }
  return out;
}

/**
 * A tree with its root folder's own state: a sentinel beside a restore target, compared before and
 * after, shows anything created, changed or chmod-ed there (the root's mode and mtime included).
 */
export function sentinelState(root: string): Record<string, EntryState> {
  const st = lstatSync(root, { bigint: true });
  return {
    '.': {
      type: 'dir',
      mode: Number(st.mode & 0o7777n),
      uid: Number(st.uid),
      gid: Number(st.gid),
      mtime: String(st.mtimeNs),
    },
    ...treeState(root),
  };
}
