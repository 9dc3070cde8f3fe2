import type { Forecast } from '../../../shared/domain/runs';
import type { Catalog } from '../catalog/catalog';
import {
  newestSetSize,
  setSize,
  succeededDrillStates,
  verificationReadSpeeds,
  type SetSize,
} from '../catalog/runbook-store';
import type { Step } from './format';
import type { RunRecord } from './types';
import { render } from './template';

type Part = Forecast['parts'][number];
type Rate = { bps: number; basis: string } | null;

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** The set a step will most likely use: a given key, or the newest set a select step would consider. */
function likelySet(catalog: Catalog, run: RunRecord, setParam: unknown): SetSize | null {
  const ctx = { inputs: run.inputs };
  if (typeof setParam !== 'string') return null;
  const ref = /^\{\{\s*steps\.([\w-]+)\.output\.key\s*\}\}$/.exec(setParam);
  if (ref) {
    const select = run.state.runbook.steps.find(
      (s) => s.id === ref[1] && s.kind === 'action' && s.action === 'catalog.select-set',
    );
    if (!select || select.kind !== 'action') return null;
    try {
      const p = render(select.with, ctx, 'forecast') as { system?: string; kind?: string; before?: string };
      return newestSetSize(catalog, p.system ?? '', p.kind ?? 'pg-logical', p.before ?? null);
    } catch {
      return null;
    }
  }
  try {
    return setSize(catalog, String(render(setParam, ctx, 'forecast')));
  } catch {
    return null;
  }
}

/** Median read speed measured by verifications on the media holding the set (or on any medium). */
function readSpeed(catalog: Catalog, key: string): { bps: number; basis: string } | null {
  const onItsMedia = verificationReadSpeeds(catalog, key);
  const m = median(onItsMedia);
  if (m)
    return {
      bps: m,
      basis: `read at ${(m / 1048576).toFixed(0)} MiB/s (median of ${onItsMedia.length} verification reads on its media)`,
    };
  const any = verificationReadSpeeds(catalog, null);
  const a = median(any);
  return a
    ? {
        bps: a,
        basis: `read at ${(a / 1048576).toFixed(0)} MiB/s (median of ${any.length} verification reads on any medium)`,
      }
    : null;
}

/** The restore rate of the last finished drill that restored a database (bytes of dump per second). */
function drillRestoreRate(catalog: Catalog): Rate {
  const rows = succeededDrillStates<{ steps: Record<string, { output: Record<string, unknown> | null }> }>(catalog);
  for (const r of rows) {
    for (const s of Object.values(r.state.steps)) {
      const rate = s.output?.restore_bytes_per_second;
      if (typeof rate === 'number' && rate > 0)
        return { bps: rate, basis: `restored at ${(rate / 1048576).toFixed(1)} MiB/s in drill ${r.id}` };
    }
  }
  return null;
}

/** One step's expected seconds and how they were reached. */
function partOf(catalog: Catalog, run: RunRecord, step: Step, restoreRate: Rate): Part {
  if (step.kind !== 'action')
    return {
      step: step.id,
      seconds: step.expected ?? null,
      basis: step.expected ? 'planned time in the runbook' : 'no planned time',
    };
  // A verify step whose deep check runs with the restore reads no artifact: its reading time is the restore's.
  if (step.action === 'verify.set' && step.with.one_pass === true)
    return {
      step: step.id,
      seconds: 1,
      basis: 'manifest, signature and sizes only; the deep check runs with the restore, in one pass',
    };
  const set =
    step.action === 'restore.pg-logical' || step.action === 'restore.files' || step.action === 'verify.set'
      ? likelySet(catalog, run, step.with.set)
      : null;
  if (!set) {
    const lookup = step.action === 'catalog.select-set' || step.action === 'report.write';
    return {
      step: step.id,
      seconds: step.expected ?? (lookup ? 1 : null),
      basis: step.expected
        ? 'planned time in the runbook'
        : lookup
          ? 'a catalog lookup'
          : 'no measurement to estimate from',
    };
  }
  const read = readSpeed(catalog, set.key);
  if (!read)
    return {
      step: step.id,
      seconds: step.expected ?? null,
      basis: `${set.key}: no read speed measured yet (verify the medium once)`,
    };
  let seconds = set.bytes / read.bps;
  let basis = `${set.key}: ${(set.bytes / 1048576).toFixed(1)} MiB ${read.basis}`;
  if (step.action === 'restore.pg-logical') {
    if (restoreRate) {
      seconds += set.bytes / restoreRate.bps;
      basis += `; ${restoreRate.basis}`;
    } else basis += '; no drill has measured a restore rate yet (reading time only)';
  }
  return { step: step.id, seconds: Math.max(1, Math.round(seconds)), basis };
}

/**
 * The expected duration of a run before it starts: set sizes ÷ the media's measured read speed,
 * plus the restore rate measured in the last drill, plus the planned time of people's steps —
 * against the runbook's RTO. Parts that cannot be estimated say so instead of guessing.
 */
export function computeForecast(catalog: Catalog, run: RunRecord): Forecast {
  const restoreRate = drillRestoreRate(catalog);
  const parts = run.state.runbook.steps.map((step) => partOf(catalog, run, step, restoreRate));
  const known = parts.filter((p) => p.seconds !== null);
  const seconds = known.length ? known.reduce((n, p) => n + p.seconds!, 0) : null;
  const rtoSeconds = run.state.runbook.objectives.rto;
  return { seconds, rtoSeconds, fits: seconds === null ? null : seconds <= rtoSeconds, parts };
}
