import { hostname } from 'node:os';
import { ulid } from 'ulid';
import { z } from 'zod';
import { LifeboatError } from '../errors';
import { LIFEBOAT_VERSION } from '../version';

export const MEDIUM_FILE = 'lifeboat-medium.json';
export const MEDIUM_FORMAT_V1 = 'lifeboat-medium/1';

export const MediumInfoSchema = z
  .object({
    format: z.literal(MEDIUM_FORMAT_V1),
    id: z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, 'a ULID'),
    label: z.string().min(1).max(100),
    created_at: z.string(),
    created_by: z.string(),
  })
  .strict();
export type MediumInfo = z.infer<typeof MediumInfoSchema>;

export function newMediumInfo(label: string, now = new Date()): MediumInfo {
  const clean = label.trim();
  if (clean.length === 0 || clean.length > 100) throw new LifeboatError('BAD_INPUT', 'A medium label must be 1 to 100 characters.');
  return { format: MEDIUM_FORMAT_V1, id: ulid(now.getTime()), label: clean, created_at: now.toISOString(), created_by: `lifeboat ${LIFEBOAT_VERSION} on ${hostname()}` };
}

export function parseMediumInfo(bytes: Buffer): MediumInfo {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new LifeboatError('FORMAT_INVALID', `${MEDIUM_FILE} is not valid JSON.`);
  }
  const format = (json as { format?: unknown } | null)?.format;
  if (typeof format === 'string' && format.startsWith('lifeboat-medium/') && format !== MEDIUM_FORMAT_V1) {
    throw new LifeboatError('FORMAT_UNSUPPORTED', `This medium uses format ${format}; this Lifeboat reads ${MEDIUM_FORMAT_V1}.`);
  }
  const parsed = MediumInfoSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new LifeboatError('FORMAT_INVALID', `${MEDIUM_FILE} is invalid at ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}
