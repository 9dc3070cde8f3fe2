import { FolderMedium } from './folder-medium';
import type { Medium } from './medium';
import { S3Medium } from './s3-medium';
import type { S3Options } from './s3-client';

/** A folder path or an s3:// URL. S3 settings not given come from the standard AWS sources. */
export function openMedium(location: string, s3?: S3Options): Medium {
  return location.startsWith('s3://') ? new S3Medium(location, s3) : new FolderMedium(location);
}
