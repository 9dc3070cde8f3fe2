import { stat } from 'node:fs/promises';
import { LifeboatError } from '../errors';
import { FolderMedium } from './folder-medium';
import type { Medium } from './medium';
import type { AzureOptions } from './azure-client';
import type { S3Options } from './s3-client';

/** Opens a medium by its location; the engine's opener adds the S3 settings and keys the operator saved. */
export type MediumOpener = (location: string) => Promise<Medium>;

/**
 * A folder path, an s3:// URL or an azure:// URL. S3 settings not given come from the standard
 * AWS sources, Azure ones from the AZURE_STORAGE_* variables. The cloud SDKs are loaded only when
 * such a medium is used: they are large, and most runs never need them.
 */
export async function openMedium(location: string, s3?: S3Options, azure?: AzureOptions): Promise<Medium> {
  if (location.startsWith('azure://')) {
    const [{ AzureMedium }, { azureOptionsFromEnv }] = await Promise.all([
      import('./azure-medium'),
      import('./azure-client'),
    ]);
    return new AzureMedium(location, azure ?? azureOptionsFromEnv());
  }
  if (!location.startsWith('s3://')) {
    // A file given where a medium folder belongs (`--to backup.tar`) is a usage error, said as such.
    const st = await stat(location).catch(() => null);
    if (st && !st.isDirectory()) {
      throw new LifeboatError('BAD_INPUT', `${location} is a file, not a medium folder.`, {
        hint: 'Name a folder (a mounted drive, a NAS share), s3://bucket/prefix or azure://container/prefix.',
      });
    }
    return new FolderMedium(location);
  }
  const { S3Medium } = await import('./s3-medium');
  return new S3Medium(location, s3);
}
