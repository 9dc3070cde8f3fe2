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
export function treeState(root: string, o: { mtimeResolutionNs?: number } = {}): Record<string, EntryState> {
  // Node sets times as a double of seconds: a restore through it is exact to about a microsecond, GNU tar to the nanosecond.
  const res = BigInt(o.mtimeResolutionNs ?? 1);
  const mtimeOf = (ns: bigint): string => String(((ns + res / 2n) / res) * res);
  const out: Record<string, EntryState> = {};
  const walk = (abs: Buffer, rel: Buffer | null): void => {
    for (const name of readdirSync(abs, { encoding: 'buffer' }).sort((a, b) => Buffer.compare(a, b))) {
      const childAbs = Buffer.concat([abs, Buffer.from('/'), name]);
      const childRel = rel ? Buffer.concat([rel, Buffer.from('/'), name]) : name;
      const st = lstatSync(childAbs, { bigint: true });
      const base = { mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), mtime: mtimeOf(st.mtimeNs) };
      const key = childRel.toString('hex');
      if (st.isSymbolicLink()) out[key] = { ...base, type: 'symlink', mtime: '-', target: readlinkSync(childAbs, { encoding: 'buffer' }).toString('hex') };
      else if (st.isDirectory()) {
        out[key] = { ...base, type: 'dir' };
        walk(childAbs, childRel);
      } else if (st.isFile()) out[key] = { ...base, type: 'file', nlink: Number(st.nlink), sha256: createHash('sha256').update(readFileSync(childAbs)).digest('hex') };
      else if (st.isFIFO()) out[key] = { ...base, type: 'fifo' };
      else if (st.isCharacterDevice() || st.isBlockDevice()) out[key] = { ...base, type: st.isCharacterDevice() ? 'char' : 'block', rdev: String(st.rdev) };
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
