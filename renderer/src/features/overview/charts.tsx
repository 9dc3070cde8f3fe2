import type { Recoverability } from '../../../../shared/domain/recoverability';
import { formatBytes, formatDuration, formatLocalTime } from '../../../../shared/format';

const COLORS = { green: 'var(--green)', amber: 'var(--amber)', red: 'var(--red)', muted: 'var(--muted)' } as const;
export type Tone = keyof typeof COLORS;

/**
 * How far a measured value is from its objective, drawn: the bar is the value, the tick the objective (at the middle;
 * twice the objective fills the bar). The text beside it says the same in words, so the picture is aria-hidden.
 */
export function ObjectiveBar({
  value,
  objective,
  tone,
}: {
  value: number | null;
  objective: number | null;
  tone: Tone;
}): React.JSX.Element {
  const w = 120;
  const ratio = value === null || objective === null || objective <= 0 ? null : Math.min(value / objective, 2) / 2;
  return (
    <svg className="objective-bar" width={w} height={12} viewBox={`0 0 ${w} 12`} aria-hidden="true" focusable="false">
      <rect x={0} y={2} width={w} height={8} rx={4} fill="var(--panel-2)" />
      {ratio !== null && <rect x={0} y={2} width={Math.max(4, ratio * w)} height={8} rx={4} fill={COLORS[tone]} />}
      {objective !== null && <rect x={w / 2 - 1} y={0} width={2} height={12} fill="var(--text)" />}
    </svg>
  );
}

/** Backup size (bars) and duration (line) of the newest sets, oldest on the left, with a text alternative. */
export function HistoryChart({
  system,
  history,
}: {
  system: string;
  history: Recoverability['history'];
}): React.JSX.Element | null {
  if (history.length < 2) return null;
  const w = 220;
  const h = 48;
  const maxBytes = Math.max(1, ...history.map((p) => p.bytes));
  const durations = history.map((p) => p.durationSeconds);
  const maxDur = Math.max(1e-3, ...durations.map((d) => d ?? 0));
  const step = w / history.length;
  const line = durations
    .map((d, i) => (d === null ? null : `${(i + 0.5) * step},${h - 2 - (d / maxDur) * (h - 6)}`))
    .filter((p): p is string => p !== null)
    .join(' ');
  const first = history[0]!;
  const last = history[history.length - 1]!;
  const durs = durations.filter((d): d is number => d !== null);
  const label =
    `${system}: ${history.length} sets from ${formatLocalTime(first.createdAt)} to ${formatLocalTime(last.createdAt)}; ` +
    `size from ${formatBytes(first.bytes)} to ${formatBytes(last.bytes)} (largest ${formatBytes(maxBytes)})` +
    (durs.length ? `; backup time ${formatDuration(Math.min(...durs))} to ${formatDuration(Math.max(...durs))}` : '');
  return (
    <figure className="history">
      <svg
        width={w}
        height={h}
        viewBox={`0 0 ${w} ${h}`}
        role="img"
        aria-label={label}
        data-testid={`history-${system}`}
      >
        {history.map((p, i) => {
          const bh = Math.max(1, (p.bytes / maxBytes) * (h - 4));
          return (
            <rect
              key={`${p.createdAt}-${i}`}
              x={i * step + 1}
              y={h - bh}
              width={Math.max(1, step - 2)}
              height={bh}
              fill="#2c5472"
            />
          );
        })}
        {line && <polyline points={line} fill="none" stroke="var(--amber)" strokeWidth={1.5} />}
      </svg>
      <figcaption className="muted small">
        <span className="legend legend-size" aria-hidden="true" /> size{' '}
        <span className="legend legend-time" aria-hidden="true" /> backup time
      </figcaption>
    </figure>
  );
}
