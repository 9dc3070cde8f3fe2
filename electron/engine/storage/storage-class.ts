import { LifeboatError } from '../errors';

/** Storage classes a set's artifacts may be written in (`--storage-class`); the small files stay STANDARD. */
export const STORAGE_CLASSES = [
  'STANDARD',
  'STANDARD_IA',
  'ONEZONE_IA',
  'INTELLIGENT_TIERING',
  'GLACIER_IR',
  'GLACIER',
  'DEEP_ARCHIVE',
] as const;
/** Classes whose objects need a restore request before a GET (GLACIER_IR and the IA classes read at once). */
export const COLD_CLASSES = new Set(['GLACIER', 'DEEP_ARCHIVE']);

export function assertStorageClass(c: string): void {
  if (!(STORAGE_CLASSES as readonly string[]).includes(c))
    throw new LifeboatError('BAD_INPUT', `--storage-class ${c} is not an S3 storage class Lifeboat writes.`, {
      hint: `Use one of ${STORAGE_CLASSES.join(', ')}.`,
    });
}
