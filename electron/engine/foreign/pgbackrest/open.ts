import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LifeboatError } from '../../errors';
import type { Medium } from '../../storage/medium';
import { openRange, plainStages } from './decode';
import { locate, type BackupInfo, type BackupManifest } from './repo';

/**
 * The plain content of one file of a backup, as a restore writes it: found in this backup's folder or
 * the referenced prior backup's, in its own repository file or a bundle, decrypted and decompressed.
 * `manifests` must hold the backup's manifest and those of the backups it references (loadManifests).
 * The content is not checked here against the manifest's checksum: a restore hashes what it writes.
 */
export async function openPlainFile(medium: Medium, root: string, info: BackupInfo, manifests: Map<string, BackupManifest>, label: string, name: string): Promise<Readable> {
  const manifest = manifests.get(label);
  if (!manifest) throw new LifeboatError('NOT_FOUND', `the manifest of ${label} was not loaded`);
  const f = manifest.files.find((x) => x.name === name);
  if (!f) throw new LifeboatError('NOT_FOUND', `${name} is not a file of pgBackRest backup ${label}`);
  if (f.blockIncrMapSize > 0) {
    throw new LifeboatError('FORMAT_UNSUPPORTED', `${name} of ${label} is stored block-incrementally, which this build does not decode.`, {
      hint: 'Restore this backup with pgbackrest restore, or take a backup without repo1-block.',
    });
  }
  const storedBy = manifests.get(f.reference ?? label);
  if (!storedBy) throw new LifeboatError('NOT_FOUND', `the manifest of ${f.reference} (referenced by ${name}) was not loaded`);
  const loc = locate(root, info.stanza, label, f, storedBy);
  const out = new PassThrough();
  if (!loc) {
    out.end();
    return out;
  }
  const src = await openRange(medium, loc.path, loc.offset, loc.length);
  const stages = plainStages({ compressType: storedBy.compressType, raw: storedBy.bundleRaw, cipherPass: info.encrypted ? storedBy.cipherPass : null }, `${loc.path}:${name}`, f.size);
  pipeline([src, ...stages, out]).catch((e: unknown) => out.destroy(e instanceof Error ? e : new Error(String(e))));
  return out;
}
