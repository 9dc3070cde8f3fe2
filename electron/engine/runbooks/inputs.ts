import { resolve } from 'node:path';
import type { Catalog } from '../catalog/catalog';
import { whereIs } from '../catalog/queries';
import { systemHasSets } from '../catalog/runbook-store';
import { LifeboatError } from '../errors';
import { parsePgUrl } from '../postgres/connection';
import type { Runbook } from './format';

type RunbookInput = Runbook['inputs'][number];

/** One input's value checked and normalised for its declared type. */
function normaliseInput(catalog: Catalog, input: RunbookInput, given: string, now: Date): string {
  const v = given.trim();
  switch (input.type) {
    case 'datetime': {
      const t = v === 'now' ? now.getTime() : Date.parse(v);
      if (Number.isNaN(t))
        throw new LifeboatError(
          'BAD_INPUT',
          `${input.id}: "${v}" is not a date and time (use ISO 8601, e.g. 2026-11-21T14:30:00Z, or now).`,
        );
      return new Date(t).toISOString();
    }
    case 'system':
      if (!systemHasSets(catalog, v))
        throw new LifeboatError('NOT_FOUND', `${input.id}: the catalog knows no system ${v}.`, {
          hint: 'See lifeboat systems; scan the media first.',
        });
      return v;
    case 'backup-set': {
      const found = whereIs(catalog, v);
      if (!found) throw new LifeboatError('NOT_FOUND', `${input.id}: the catalog knows no set ${v}.`);
      return found.key;
    }
    case 'postgres-target': {
      const t = parsePgUrl(v);
      if (t.password !== null)
        throw new LifeboatError('BAD_INPUT', `${input.id}: a target must not carry its password (runs are stored).`, {
          hint: 'Use a keychain credential, PGPASSWORD or ~/.pgpass.',
        });
      return t.url;
    }
    case 'directory':
      return resolve(v);
    case 'text':
      return v;
  }
}

/** Check and normalise a run's inputs against the runbook's declared ones (defaults filled in, unknown refused). */
export function resolveInputs(
  catalog: Catalog,
  rb: Runbook,
  given: Record<string, string>,
  now: Date,
): Record<string, string> {
  const unknown = Object.keys(given).filter((k) => !rb.inputs.some((i) => i.id === k));
  if (unknown.length)
    throw new LifeboatError('BAD_INPUT', `The runbook ${rb.id} has no input ${unknown.join(', ')}.`, {
      hint: `Its inputs: ${rb.inputs.map((i) => i.id).join(', ') || 'none'}.`,
    });
  const out: Record<string, string> = {};
  const missing: string[] = [];
  for (const input of rb.inputs) {
    const v = given[input.id] ?? input.default;
    if (v === undefined || v === '') {
      if (input.required) missing.push(`${input.id} (${input.label})`);
      continue;
    }
    out[input.id] = normaliseInput(catalog, input, v, now);
  }
  if (missing.length)
    throw new LifeboatError('BAD_INPUT', `Missing input${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}.`, {
      hint: 'Give them with --input key=value.',
    });
  return out;
}
