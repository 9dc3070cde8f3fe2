import { setHashParams, hashParam } from '../../lib/hash';

/**
 * "Restore", "Restore this file", "Start PITR restore", "Start a runbook with this set": each opens the Runbooks
 * screen's start form for a runbook, pre-filled. The hash carries the runbook and the values (never a secret), so a
 * reload keeps the form.
 */
export interface Prefill {
  inputs: Record<string, string>;
  /** The set is not signed by a pinned key: the form offers the override, as an explicit confirmed choice. */
  unsigned?: boolean;
  /** Why the form was opened (shown above it): "Restore shop/2026… into a new database". */
  purpose?: string;
}

export function openStartForm(runbook: string | null, prefill: Prefill): void {
  setHashParams({ screen: 'runbooks', run: null, start: runbook, prefill: JSON.stringify(prefill) });
}

export function clearStartForm(): void {
  setHashParams({ start: null, prefill: null, runbook: null, system: null });
}

export function readPrefill(): Prefill | null {
  const raw = hashParam('prefill');
  if (!raw) return null;
  try {
    const v = JSON.parse(raw) as Partial<Prefill>;
    const inputs = Object.fromEntries(
      Object.entries(v.inputs ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string'),
    );
    return { inputs, unsigned: v.unsigned === true, purpose: typeof v.purpose === 'string' ? v.purpose : undefined };
  } catch {
    return null;
  }
}
