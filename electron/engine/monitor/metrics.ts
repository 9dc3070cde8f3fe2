import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../fs/atomic-write';

/**
 * Prometheus text-format files for node_exporter's textfile collector (docs/monitoring.md lists
 * every metric). A command rewrites only its own samples: the file's other samples (another
 * system, another command pointed at the same file) are kept, so one file can serve a server.
 * Written whole and atomically (fs/atomic-write.ts): the collector never reads half a file.
 */

export type MetricType = 'gauge' | 'counter';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Every metric Lifeboat writes: its type and help line (the documentation's table is the same list). */
export const METRICS: Record<string, { type: MetricType; help: string }> = {
  lifeboat_backup_last_success_timestamp_seconds: {
    type: 'gauge',
    help: 'When the last successful backup of the system finished (Unix time).',
  },
  lifeboat_backup_last_failure_timestamp_seconds: {
    type: 'gauge',
    help: 'When the last failed backup of the system stopped (Unix time).',
  },
  lifeboat_backup_last_run_success: { type: 'gauge', help: '1 when the last backup run succeeded, 0 when it failed.' },
  lifeboat_backup_failures_total: { type: 'counter', help: 'Failed backup runs counted in this file.' },
  lifeboat_backup_successes_total: { type: 'counter', help: 'Successful backup runs counted in this file.' },
  lifeboat_backup_duration_seconds: { type: 'gauge', help: 'How long the last successful backup took.' },
  lifeboat_backup_bytes_stored: { type: 'gauge', help: 'Bytes the last successful backup stored on each medium.' },
  lifeboat_backup_bytes_read: { type: 'gauge', help: 'Bytes the last successful backup read from the source.' },
  lifeboat_backup_compression_ratio: { type: 'gauge', help: 'Bytes read divided by bytes stored, last backup.' },
  lifeboat_backup_suspicious: {
    type: 'gauge',
    help: "1 when the ransomware indicator flagged the last backup's set (docs/trends.md), else 0.",
  },
  lifeboat_wal_push_last_success_timestamp_seconds: {
    type: 'gauge',
    help: 'When a WAL file of the system was last archived (Unix time).',
  },
  lifeboat_wal_push_last_run_success: { type: 'gauge', help: '1 when the last WAL push succeeded, 0 when it failed.' },
  lifeboat_wal_push_failures_total: { type: 'counter', help: 'Failed WAL pushes counted in this file.' },
  lifeboat_wal_push_successes_total: { type: 'counter', help: 'Successful WAL pushes counted in this file.' },
  lifeboat_wal_archiver_pushed: { type: 'gauge', help: 'WAL files the last archiver run pushed.' },
  lifeboat_wal_archiver_failed: { type: 'gauge', help: 'WAL files the last archiver run failed to push.' },
  lifeboat_verify_last_run_timestamp_seconds: { type: 'gauge', help: 'When the last verification ended (Unix time).' },
  lifeboat_verify_last_run_success: {
    type: 'gauge',
    help: '1 when every set passed the last verification, 0 otherwise.',
  },
  lifeboat_verify_sets: { type: 'gauge', help: 'Sets of the last verification by result (ok, failed, not_checked).' },
  lifeboat_verify_bytes_read: { type: 'gauge', help: 'Bytes the last verification read.' },
  lifeboat_verify_duration_seconds: { type: 'gauge', help: 'How long the last verification took.' },
  lifeboat_newest_set_timestamp_seconds: { type: 'gauge', help: "When the system's newest set was made (Unix time)." },
  lifeboat_newest_verified_set_timestamp_seconds: {
    type: 'gauge',
    help: "When the system's newest verified set was made (Unix time).",
  },
  lifeboat_rpo_seconds: { type: 'gauge', help: "The system's recovery point objective (its tier, or --max-age)." },
  lifeboat_check_status: { type: 'gauge', help: 'The last check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.' },
  lifeboat_check_last_run_timestamp_seconds: { type: 'gauge', help: 'When the last check ran (Unix time).' },
  lifeboat_replica_replay_lag_seconds: {
    type: 'gauge',
    help: 'How far the standby replays behind (0 when it has replayed all it received).',
  },
  lifeboat_replica_replay_lag_bytes: { type: 'gauge', help: 'WAL bytes received by the standby and not yet replayed.' },
  lifeboat_replica_streaming: { type: 'gauge', help: '1 when the standby streams from its primary, 0 otherwise.' },
};

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const escapeLabel = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function sampleKey(s: Pick<Sample, 'name' | 'labels'>): string {
  return `${s.name}{${Object.keys(s.labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(s.labels[k])}`)
    .join(',')}}`;
}

/** The text format: a HELP and TYPE line per metric, then its samples (labels sorted, so the file is stable). */
export function formatMetrics(samples: Sample[]): string {
  const byName = new Map<string, Sample[]>();
  for (const s of samples) {
    if (!NAME.test(s.name)) throw new Error(`not a metric name: ${s.name}`);
    for (const k of Object.keys(s.labels)) if (!LABEL.test(k)) throw new Error(`not a label name: ${k}`);
    byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
  }
  const out: string[] = [];
  for (const name of [...byName.keys()].sort()) {
    const meta = METRICS[name];
    if (meta) out.push(`# HELP ${name} ${meta.help}`, `# TYPE ${name} ${meta.type}`);
    const rows = byName.get(name)!.sort((a, b) => (sampleKey(a) < sampleKey(b) ? -1 : 1));
    for (const s of rows) {
      const keys = Object.keys(s.labels).sort();
      const labels = keys.length ? `{${keys.map((k) => `${k}="${escapeLabel(s.labels[k]!)}"`).join(',')}}` : '';
      out.push(`${name}${labels} ${formatValue(s.value)}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** The samples of a file this module wrote (comments skipped; a line it cannot read is dropped, not fatal). */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
    const body = m[2] ?? '';
    let lm: RegExpExecArray | null;
    let end = 0;
    while ((lm = re.exec(body))) {
      labels[lm[1]!] = lm[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      end = re.lastIndex;
    }
    if (end !== body.length) continue;
    const v = m[3]!;
    const value = v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v);
    if (Number.isNaN(value) && v !== 'NaN') continue;
    samples.push({ name: m[1]!, labels, value });
  }
  return samples;
}

export interface MetricsUpdate {
  /** Samples to set (replacing the same name and labels). */
  set: Sample[];
  /** Counters to raise by one (created at 1). */
  increment?: Array<Pick<Sample, 'name' | 'labels'>>;
  /** Counters to create at 0 when absent (so `increase()` sees the first failure). */
  ensure?: Array<Pick<Sample, 'name' | 'labels'>>;
}

/** Read the file (absent is empty), apply the update, write it back atomically (mode 0644: the collector reads it). */
export async function updateMetricsFile(path: string, update: MetricsUpdate): Promise<void> {
  let previous = '';
  try {
    previous = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const samples = new Map<string, Sample>();
  for (const s of parseMetrics(previous)) samples.set(sampleKey(s), s);
  for (const s of update.set) samples.set(sampleKey(s), s);
  for (const c of update.increment ?? []) {
    const key = sampleKey(c);
    samples.set(key, { ...c, value: (samples.get(key)?.value ?? 0) + 1 });
  }
  for (const c of update.ensure ?? []) if (!samples.has(sampleKey(c))) samples.set(sampleKey(c), { ...c, value: 0 });
  await writeFileAtomic(path, formatMetrics([...samples.values()]), { mode: 0o644 });
}

export const unixSeconds = (d: Date | string | number): number => Math.round(new Date(d).getTime() / 1000);
