import { z } from 'zod';
import { LifeboatError } from '../errors';

/**
 * The file index of a files/config set: every entry of the tree as of this set (also those
 * whose content lives in a parent set of an incremental chain), one JSON object per line.
 */
export const FileEntrySchema = z.object({
  path: z.string(),
  type: z.enum(['file', 'dir', 'symlink']),
  size: z.number().int().nonnegative(),
  mtime_ms: z.number(),
  mode: z.number().int(),
  sha256: z.string().nullable(),
  target: z.string().nullable(),
  /** The set whose tar holds this entry's content. */
  in: z.string(),
});
export type FileEntry = z.infer<typeof FileEntrySchema>;

export function serializeIndex(entries: FileEntry[]): Buffer {
  return Buffer.from(entries.map((e) => JSON.stringify(e)).join('\n') + (entries.length ? '\n' : ''), 'utf8');
}

export function parseIndex(bytes: Buffer): FileEntry[] {
  const out: FileEntry[] = [];
  const lines = bytes.toString('utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const parsed = FileEntrySchema.safeParse(JSON.parse(line));
    if (!parsed.success) throw new LifeboatError('FORMAT_INVALID', `File index line ${i + 1} is invalid: ${parsed.error.issues[0]?.message ?? ''}`);
    out.push(parsed.data);
  }
  return out;
}
