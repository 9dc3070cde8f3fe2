import { existsSync } from 'node:fs';
import { mkdir, rmdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/**
 * `mkdir -p` one folder at a time: Node's recursive mkdir retries forever where mkdir answers
 * ENOENT under a folder that exists (`--to /proc/x`, /sys, some FUSE mounts), spinning a restore
 * at full CPU that not even a cancel reaches. Here that is the error it is.
 * Returns the folders this call created, outermost first, so a failed writer can remove exactly
 * those (and nothing another writer made or uses: see removeEmptyFolders).
 */
export async function makeFolders(path: string, mode = 0o777): Promise<string[]> {
  const missing: string[] = [];
  for (let p = resolve(path); !existsSync(p); p = dirname(p)) {
    missing.unshift(p);
    if (dirname(p) === p) break;
  }
  const created: string[] = [];
  for (const p of missing) {
    try {
      await mkdir(p, { mode });
      created.push(p);
    } catch (e) {
      if ((e as { code?: unknown }).code !== 'EEXIST') throw e;
    }
  }
  return created;
}

/**
 * Remove folders made by makeFolders, innermost first, each only while it is empty: rmdir is the
 * test and the removal in one step, so a folder another writer has put something in meanwhile
 * stays (ENOTEMPTY), and so do its parents. Never throws: this is cleanup after a failure.
 */
export async function removeEmptyFolders(created: readonly string[]): Promise<void> {
  for (const p of [...created].reverse()) {
    try {
      await rmdir(p);
    } catch (e) {
      // Gone already (another writer's cleanup): its parent may still be ours to remove.
      if ((e as { code?: unknown }).code !== 'ENOENT') return;
    }
  }
}
