import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/**
 * `mkdir -p` one folder at a time: Node's recursive mkdir retries forever where mkdir answers
 * ENOENT under a folder that exists (`--to /proc/x`, /sys, some FUSE mounts), spinning a restore
 * at full CPU that not even a cancel reaches. Here that is the error it is.
 */
export async function makeFolders(path: string, mode = 0o777): Promise<void> {
  const missing: string[] = [];
  for (let p = resolve(path); !existsSync(p); p = dirname(p)) {
    missing.unshift(p);
    if (dirname(p) === p) break;
  }
  for (const p of missing) {
    try {
      await mkdir(p, { mode });
    } catch (e) {
      if ((e as { code?: unknown }).code !== 'EEXIST') throw e;
    }
  }
}
