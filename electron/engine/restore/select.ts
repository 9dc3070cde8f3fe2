import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileEntry } from '../format/file-index';
import { LifeboatError } from '../errors';
import { globMatcher } from '../format/glob';

/**
 * The entries of a file index that `--path GLOB` selects: an entry matches when its path or one
 * of its ancestors matches a glob (so `etc/nginx` brings the whole subtree), and the folders
 * leading to a selected entry are kept so it lands at its own path. No glob: everything.
 */
export function selectEntries(index: FileEntry[], globs: readonly string[]): FileEntry[] {
  if (globs.length === 0) return index;
  const matches = pathSelector(globs);
  const chosen = new Set<string>();
  for (const e of index) {
    if (!matches(e.path)) continue;
    chosen.add(e.path);
    const parts = e.path.split('/');
    for (let i = 1; i < parts.length; i++) chosen.add(parts.slice(0, i).join('/'));
  }
  const out = index.filter((e) => chosen.has(e.path));
  if (!out.some((e) => e.type !== 'dir' || matches(e.path))) throw nothingSelected(globs);
  return out;
}

/**
 * Whether a path is selected by `--path` globs (Lifeboat's dialect, format/glob.ts): the path itself
 * or one of its folders matches one.
 */
export function pathSelector(globs: readonly string[]): (path: string) => boolean {
  const matchers = globs.map((g) => globMatcher(g.replace(/^\.?\/+/, '')));
  return (path) => {
    const parts = path.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (matchers.some((m) => m(prefix))) return true;
    }
    return false;
  };
}

export function nothingSelected(globs: readonly string[]): LifeboatError {
  return new LifeboatError('NOT_FOUND', `No entry of the set matches ${globs.join(', ')}.`, {
    hint: 'Paths are relative to the backed-up folder, e.g. --path "etc/nginx" or --path "*.conf" (lifeboat find lists them).',
  });
}

/**
 * `--into-existing` without `--overwrite`: before anything is moved out of staging, refuse when
 * an entry that is not a folder on both sides already exists at its final path. Nothing moved.
 */
export async function refuseOverwrites(staging: string, into: string): Promise<void> {
  const clashes: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const d of await readdir(join(staging, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      const there = await lstat(join(into, r)).catch(() => null);
      if (!there) continue;
      if (d.isDirectory() && there.isDirectory()) await walk(r);
      else clashes.push(r);
      if (clashes.length >= 20) return;
    }
  };
  await walk('');
  if (clashes.length) {
    throw new LifeboatError(
      'ALREADY_EXISTS',
      `${clashes.length}${clashes.length >= 20 ? '+' : ''} entries already exist in ${into}: ${clashes.slice(0, 5).join(', ')}${clashes.length > 5 ? '…' : ''}. Nothing was moved into it.`,
      {
        hint: 'Add --overwrite to replace them, restore into an empty folder, or narrow the restore with --path.',
      },
    );
  }
}
