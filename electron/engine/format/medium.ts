import { hostname } from 'node:os';
import { ulid } from 'ulid';
import { LifeboatError } from '../errors';
import { LIFEBOAT_VERSION } from '../version';

export const MEDIUM_FILE = 'lifeboat-medium.json';
export const MEDIUM_FORMAT_V1 = 'lifeboat-medium/1';

export interface MediumInfo {
  format: typeof MEDIUM_FORMAT_V1;
  id: string;
  label: string;
  created_at: string;
  created_by: string;
}

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/**
 * Checked by hand rather than with zod: every CLI call that touches a medium reads this file,
 * including \`wal-push\`, which PostgreSQL starts once per WAL segment — loading zod would cost
 * more than the work itself.
 */
function mediumInfoProblem(json: unknown): string | null {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return '(root): an object';
  const o = json as Record<string, unknown>;
  const extra = Object.keys(o).filter((k) => !['format', 'id', 'label', 'created_at', 'created_by'].includes(k));
  if (extra.length) return `(root): unknown key ${extra[0]}`;
  if (o.format !== MEDIUM_FORMAT_V1) return `format: ${MEDIUM_FORMAT_V1}`;
  if (typeof o.id !== 'string' || !ULID.test(o.id)) return 'id: a ULID';
  if (typeof o.label !== 'string' || o.label.length < 1 || o.label.length > 100) return 'label: 1 to 100 characters';
  if (typeof o.created_at !== 'string') return 'created_at: a string';
  if (typeof o.created_by !== 'string') return 'created_by: a string';
  return null;
}

export function newMediumInfo(label: string, now = new Date()): MediumInfo {
  const clean = label.trim();
  if (clean.length === 0 || clean.length > 100)
    throw new LifeboatError('BAD_INPUT', 'A medium label must be 1 to 100 characters.');
  return {
    format: MEDIUM_FORMAT_V1,
    id: ulid(now.getTime()),
    label: clean,
    created_at: now.toISOString(),
    created_by: `lifeboat ${LIFEBOAT_VERSION} on ${hostname()}`,
  };
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
    throw new LifeboatError(
      'FORMAT_UNSUPPORTED',
      `This medium uses format ${format}; this Lifeboat reads ${MEDIUM_FORMAT_V1}.`,
    );
  }
  const problem = mediumInfoProblem(json);
  if (problem)
    throw new LifeboatError('FORMAT_INVALID', `${MEDIUM_FILE} is invalid at ${problem.replace(': ', ': expected ')}`);
  return json as MediumInfo;
}
