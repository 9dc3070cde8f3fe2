import { stat } from 'node:fs/promises';
import { LifeboatError } from '../errors';
import { FolderMedium } from './folder-medium';
import type { Medium } from './medium';
import type { S3Options } from './s3-client';

/** Opens a medium by its location; the engine's opener adds the S3 settings and keys the operator saved. */
export type MediumOpener = (location: string) => Promise<Medium>;

/**
 * A folder path or an s3:// URL. S3 settings not given come from the standard AWS sources.
 * The AWS SDK is loaded only when an S3 medium is used: it is large, and most runs never need it.
 */
export async function openMedium(location: string, s3?: S3Options): Promise<Medium> {
  if (!location.startsWith('s3://')) {
    // A file given where a medium folder belongs (`--to backup.tar`) is a usage error, said as such.
    const st = await stat(location).catch(() => null);
    if (st && !st.isDirectory()) {
      throw new LifeboatError('BAD_INPUT', `${location} is a file, not a medium folder.`, {
        hint: 'Name a folder (a mounted drive, a NAS share) or s3://bucket/prefix.',
      });
    }
    return new FolderMedium(location);
  }
  const { S3Medium } = await import('./s3-medium');
  return new S3Medium(location, s3);
}
