import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LifeboatError } from '../../errors';
import type { Medium } from '../../storage/medium';
import { openRange, plainStages } from './decode';
import { blockIncrContent } from './block-incr';
import { locate, storedRaw, type BackupInfo, type BackupManifest } from './repo';

/**
 * The plain content of one file of a backup, as a restore writes it: found in this backup's folder or
 * the referenced prior backup's, in its own repository file or a bundle, decrypted and decompressed.
 * `manifests` must hold the backup's manifest and those of the backups it references (loadManifests).
 * Block-incremental files are assembled from their block maps. The content is not checked here against the
 * manifest's checksum: a restore hashes what it writes (compare with the file's `checksum`).
 */
export async function openPlainFile(
  medium: Medium,
  root: string,
  info: BackupInfo,
  manifests: Map<string, BackupManifest>,
  label: string,
  name: string,
): Promise<Readable> {
  const manifest = manifests.get(label);
  if (!manifest) throw new LifeboatError('NOT_FOUND', `the manifest of ${label} was not loaded`);
  const f = manifest.files.find((x) => x.name === name);
  if (!f) throw new LifeboatError('NOT_FOUND', `${name} is not a file of pgBackRest backup ${label}`);
  const storedBy = manifests.get(f.reference ?? label);
  if (!storedBy)
    throw new LifeboatError('NOT_FOUND', `the manifest of ${f.reference} (referenced by ${name}) was not loaded`);
  const loc = locate(root, info.stanza, label, f, storedBy);
  const out = new PassThrough();
  if (!loc) {
    out.end();
    return out;
  }
  const cipherPass = info.encrypted ? storedBy.cipherPass : null;
  if (f.blockIncrMapSize > 0) {
    // Assembled block by block from the block map, with back-pressure: one super block decoded at a time.
    const source = {
      medium,
      root,
      stanza: info.stanza,
      manifest,
      storedBy,
      cipherPass,
      path: loc.path,
      offset: loc.offset,
    };
    blockIncrContent(source, f, async (b) => {
      if (!out.write(b)) await once(out, 'drain');
    }).then(
      () => out.end(),
      (e: unknown) => out.destroy(e instanceof Error ? e : new Error(String(e))),
    );
    return out;
  }
  const src = await openRange(medium, loc.path, loc.offset, loc.length);
  const stages = plainStages(
    { compressType: storedBy.compressType, raw: storedRaw(f, storedBy), cipherPass },
    `${loc.path}:${name}`,
    f.size,
  );
  pipeline([src, ...stages, out]).catch((e: unknown) => out.destroy(e instanceof Error ? e : new Error(String(e))));
  return out;
}
