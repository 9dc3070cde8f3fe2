import { formatBytes, formatDurationMs, formatLocalTime } from '../../../../shared/format';

/** Human names for the evidence keys actions record (never `bytes_per_second 53246969.7` on screen). */
const NAMES: Record<string, string> = {
  key: 'Set',
  set: 'Set',
  dir: 'Folder',
  files: 'Files',
  bytes: 'Size',
  chain: 'Sets read',
  restore_ms: 'Restore time',
  duration_ms: 'Took',
  waited_ms: 'Waited',
  bytes_per_second: 'Rate',
  created_at: 'Set made',
  set_created_at: 'Restored point',
  verdict: 'Verdict',
  level: 'Level',
  medium: 'Medium',
  database: 'Database',
  tables: 'Tables',
  host: 'Host',
  port: 'Port',
  path: 'Report file',
  copies: 'Copies',
  sha256: 'SHA-256',
  replayed_to: 'Replayed to',
  target_time: 'Target time',
  base: 'Base backup',
  segments: 'WAL segments',
  data_dir: 'Data directory',
  stop_command: 'Stop it with',
  sent_by: 'Sent by',
  sent_via: 'Sent via',
  sent_at: 'Sent at',
  available: 'Possible',
  reason: 'Why',
  window_from: 'Window from',
  window_to: 'Window to',
};

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

/** One evidence value, formatted for people: sizes, durations, rates, times, lists. */
export function formatEvidence(key: string, v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (Array.isArray(v)) {
    if (v.length === 0) return null;
    return v.map((x) => (typeof x === 'string' || typeof x === 'number' ? String(x) : JSON.stringify(x))).join(', ');
  }
  if (typeof v === 'number') {
    if (key.endsWith('_ms')) return formatDurationMs(v);
    if (key === 'bytes_per_second') return `${formatBytes(v)}/s`;
    if (key === 'bytes' || key.endsWith('_bytes')) return formatBytes(v);
    return Number.isInteger(v) ? String(v) : v.toFixed(1);
  }
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'string') return ISO.test(v) ? formatLocalTime(v) : v;
  return null;
}

export function evidenceName(key: string): string {
  const n = NAMES[key] ?? key.replace(/_/g, ' ');
  return n.charAt(0).toUpperCase() + n.slice(1);
}

/** A step's output as a short definition list; nested records (artifacts, checks) are summarised by the report. */
export function Evidence({
  output,
  skip = [],
}: {
  output: Record<string, unknown>;
  skip?: string[];
}): React.JSX.Element {
  const rows = Object.entries(output)
    .filter(([k]) => !skip.includes(k))
    .map(([k, v]) => [k, formatEvidence(k, v)] as const)
    .filter((r): r is readonly [string, string] => r[1] !== null && r[1].length < 400);
  return (
    <dl className="facts" data-testid="step-output">
      {rows.map(([k, v]) => (
        <div key={k} style={{ display: 'contents' }}>
          <dt>{evidenceName(k)}</dt>
          <dd className="mono">{v}</dd>
        </div>
      ))}
    </dl>
  );
}
