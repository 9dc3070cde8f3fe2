import type { Forecast } from '../../../shared/domain/runs';
import type { Catalog } from '../catalog/catalog';
import {
  newestSetSize,
  recentRunStates,
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

/** The steps whose time grows with the size of the set they read: restores and verifications. */
const SIZED = new Set(['restore.pg-logical', 'restore.files', 'restore.pg-pitr', 'verify.set']);

/** A finished step of an earlier run: the whole step's time over the stored bytes of the set it read. */
interface Measured {
  /** The action, with the level for verify.set (`verify.set:deep`): each level does different work. */
  what: string;
  system: string;
  bytes: number;
  seconds: number;
}

type StateOfRun = Pick<RunRecord['state'], 'runbook' | 'steps'>;

/** What a step is, for matching measurements: the action, and the level of a verification. */
function whatOf(step: Step, level: unknown): string {
  if (step.kind !== 'action') return step.kind;
  return step.action === 'verify.set' ? `verify.set:${typeof level === 'string' ? level : 'deep'}` : step.action;
}

/**
 * How long the restore and verify steps of the newest runs (drills, live runs, the short runs of
 * `lifeboat restore pg|files`) took, whole — reading the medium, decrypting, decompressing,
 * checking, writing or pg_restore, a drill's scratch server — against the stored size of the set
 * each read (a recovery: its base backup). What these paths really do, measured on this laptop.
 */
function measuredSteps(catalog: Catalog): Measured[] {
  const out: Measured[] = [];
  for (const r of recentRunStates<StateOfRun>(catalog)) {
    for (const step of r.state.runbook.steps) {
      if (step.kind !== 'action' || !SIZED.has(step.action)) continue;
      const st = r.state.steps[step.id];
      if (st?.status !== 'done' || !st.startedAt || !st.finishedAt || !st.output) continue;
      const seconds = (Date.parse(st.finishedAt) - Date.parse(st.startedAt)) / 1000;
      const o = st.output;
      const key =
        step.action === 'restore.pg-pitr'
          ? typeof o.system === 'string' && typeof o.base === 'string'
            ? `${o.system}/${o.base}`
            : null
          : typeof o.set === 'string'
            ? o.set
            : typeof o.key === 'string'
              ? o.key
              : null;
      const size = key ? setSize(catalog, key) : null;
      if (!size || size.bytes <= 0 || !(seconds > 0)) continue;
      out.push({ what: whatOf(step, o.level), system: size.key.split('/')[0]!, bytes: size.bytes, seconds });
    }
  }
  return out;
}

/** The median rate of earlier steps doing the same work: of the same system when there are any (its data compresses and restores alike), else of any. */
function measuredRate(measured: Measured[], what: string, system: string): Rate {
  const same = measured.filter((m) => m.what === what);
  const own = same.filter((m) => m.system === system);
  const pool = own.length ? own : same;
  const bps = median(pool.map((m) => m.bytes / m.seconds));
  if (!bps) return null;
  return {
    bps,
    basis: `the whole step at ${(bps / 1048576).toFixed(1)} MiB/s of stored set, as ${pool.length} earlier ${what} step${pool.length === 1 ? '' : 's'} of ${own.length ? system : 'any system'} took`,
  };
}

/** The base backup a recovery step will most likely start from: the newest of its system before the target time. */
function likelyBase(catalog: Catalog, run: RunRecord, step: Step): SetSize | null {
  if (step.kind !== 'action') return null;
  try {
    const p = render(step.with, { inputs: run.inputs }, 'forecast') as { system?: string; target_time?: string };
    return p.system ? newestSetSize(catalog, p.system, 'pg-base', p.target_time ?? null) : null;
  } catch {
    return null;
  }
}

/** One step's expected seconds and how they were reached. */
function partOf(catalog: Catalog, run: RunRecord, step: Step, restoreRate: Rate, measured: Measured[]): Part {
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
      : step.action === 'restore.pg-pitr'
        ? likelyBase(catalog, run, step)
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
  const rate = measuredRate(measured, whatOf(step, step.with.level), set.key.split('/')[0]!);
  if (rate)
    return {
      step: step.id,
      seconds: Math.max(1, Math.round(set.bytes / rate.bps)),
      basis: `${set.key}: ${(set.bytes / 1048576).toFixed(1)} MiB; ${rate.basis}`,
    };
  // Nothing measured yet: a recovery keeps its planned time; the others the medium's read speed (and a drill's pg_restore rate).
  if (step.action === 'restore.pg-pitr')
    return {
      step: step.id,
      seconds: step.expected ?? null,
      basis: `${set.key}: no recovery measured yet${step.expected ? ' (planned time in the runbook)' : ''}`,
    };
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
 * The expected duration of a run before it starts: each restore or verify step's set size ÷ the
 * rate at which earlier steps doing the same work (same action, same level; the same system when
 * measured) took, whole; before any was measured, the media's read speed plus the pg_restore rate
 * of the last drill; plus the planned time of people's steps — against the runbook's RTO. Parts
 * that cannot be estimated say so instead of guessing.
 */
export function computeForecast(catalog: Catalog, run: RunRecord): Forecast {
  const restoreRate = drillRestoreRate(catalog);
  const measured = measuredSteps(catalog);
  const parts = run.state.runbook.steps.map((step) => partOf(catalog, run, step, restoreRate, measured));
  const known = parts.filter((p) => p.seconds !== null);
  const seconds = known.length ? known.reduce((n, p) => n + p.seconds!, 0) : null;
  const rtoSeconds = run.state.runbook.objectives.rto;
  return { seconds, rtoSeconds, fits: seconds === null ? null : seconds <= rtoSeconds, parts };
}
