import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../fs/atomic-write';

/**
 * The locations of every medium ever scanned, kept beside the catalog (not inside it), so a
 * damaged catalog can be rebuilt from the media it knew.
 */
const FILE = 'known-media.json';

export function readKnownMedia(dataDir: string): string[] {
  try {
    const parsed = JSON.parse(readFileSync(join(dataDir, FILE), 'utf8')) as unknown;
    return Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

export function rememberMedium(dataDir: string, location: string): void {
  const all = new Set(readKnownMedia(dataDir));
  if (all.has(location)) return;
  all.add(location);
  const path = join(dataDir, FILE);
  writeFileAtomicSync(path, `${JSON.stringify([...all].sort(), null, 2)}\n`);
}

/** Drop a location from the list (`lifeboat media remove`), written durably as rememberMedium does. */
export function forgetMedium(dataDir: string, location: string): void {
  const all = readKnownMedia(dataDir);
  if (!all.includes(location)) return;
  writeFileAtomicSync(join(dataDir, FILE), `${JSON.stringify(all.filter((l) => l !== location).sort(), null, 2)}\n`);
}
