import type { SystemTrend, TrendPoint } from '../../../shared/domain/trends';
import { formatBytes, formatDurationMs, formatLocalTime } from '../../../shared/format';

const pct = (x: number | null): string => (x === null ? 'not recorded' : `${Math.round(x * 100)}%`);

/** One set's values in words (the bar's tooltip). */
function describe(p: TrendPoint): string {
  return [
    `${p.setId}${p.incremental ? ' (incremental)' : ''}`,
    `${formatBytes(p.storedBytes)} stored`,
    p.ratio === null ? null : `ratio ${p.ratio.toFixed(2)}×`,
    `does not compress: ${pct(p.incompressibleShare)}`,
    p.filesChanged !== null && p.filesTotal !== null ? `${p.filesChanged} of ${p.filesTotal} files changed` : null,
    p.durationMs === null ? null : `took ${formatDurationMs(p.durationMs)}`,
    p.suspicious ? `SUSPICIOUS: ${p.reasons.join('; ')}` : null,
  ]
    .filter(Boolean)
    .join(', ');
}

/** One small chart: bars (or a line, broken at gaps) of one measurement per set, suspicious sets in red. */
function Spark({
  name,
  values,
  suspicious,
  line,
  max,
  text,
  testId,
}: {
  name: string;
  values: Array<number | null>;
  suspicious: boolean[];
  line?: boolean;
  /** The top of the scale (default the largest value). */
  max?: number;
  /** The values in words (aria-label). */
  text: string;
  testId: string;
}): React.JSX.Element {
  const w = 104;
  const h = 30;
  const step = w / values.length;
  const top = max ?? Math.max(1e-9, ...values.map((v) => v ?? 0));
  const y = (v: number): number => h - 1 - (Math.min(v, top) / top) * (h - 3);
  const segments: Array<Array<[number, number]>> = [[]];
  values.forEach((v, i) => {
    if (v === null) {
      if (segments[segments.length - 1]!.length) segments.push([]);
    } else segments[segments.length - 1]!.push([(i + 0.5) * step, y(v)]);
  });
  return (
    <div className="spark">
      <svg
        width={w}
        height={h}
        viewBox={`0 0 ${w} ${h}`}
        role="img"
        aria-label={`${name}: ${text}`}
        data-testid={testId}
      >
        <rect x={0} y={0} width={w} height={h} fill="var(--panel-2)" rx={3} />
        {!line &&
          values.map((v, i) =>
            v === null ? null : (
              <rect
                key={i}
                x={i * step + 0.5}
                y={y(v)}
                width={Math.max(1, step - 1)}
                height={Math.max(1, h - 1 - y(v))}
                fill={suspicious[i] ? 'var(--red)' : '#2c5472'}
              />
            ),
          )}
        {line &&
          segments
            .filter((seg) => seg.length > 0)
            .map((seg, i) => (
              <polyline
                key={i}
                points={seg.map(([x, yy]) => `${x},${yy}`).join(' ')}
                fill="none"
                stroke="var(--amber)"
                strokeWidth={1.5}
              />
            ))}
        {line &&
          values.map((v, i) =>
            v === null ? null : (
              <circle
                key={i}
                cx={(i + 0.5) * step}
                cy={y(v)}
                r={suspicious[i] ? 2.5 : 1.5}
                fill={suspicious[i] ? 'var(--red)' : 'var(--amber)'}
              />
            ),
          )}
      </svg>
      <span className="muted small">{name}</span>
    </div>
  );
}

function range(values: Array<number | null>, show: (v: number) => string): string {
  const known = values.filter((v): v is number => v !== null);
  const gaps = values.length - known.length;
  if (known.length === 0) return 'not recorded';
  return `${show(Math.min(...known))} to ${show(Math.max(...known))}${gaps ? ` (${gaps} not recorded)` : ''}`;
}

/**
 * The trend of a system's sets, oldest on the left, as four small charts (plain SVG): stored size,
 * backup time, compression ratio and the share of data that does not compress (0 to 100%). A set that
 * did not record a value leaves a gap, never a zero; sets the ransomware indicator flagged are red.
 * The badge says which set is suspicious and which one is the clean candidate; each chart has its
 * values in words (aria-label).
 */
export function TrendChart({
  trend,
  max = 30,
}: {
  trend: SystemTrend;
  /** The newest sets shown. */
  max?: number;
}): React.JSX.Element | null {
  const points = trend.points.slice(-max);
  if (points.length === 0) return null;
  const bad = points.map((p) => p.suspicious === true);
  const sys = trend.system;
  const clean = trend.cleanCandidate;
  const candidate = clean?.key ? trend.points.find((p) => p.key === clean.key) : undefined;
  const firstBad = clean ? trend.points.find((p) => p.key === clean.firstSuspicious) : undefined;
  const sizes = points.map((p) => p.storedBytes);
  const times = points.map((p) => p.durationMs);
  const ratios = points.map((p) => p.ratio);
  const shares = points.map((p) => p.incompressibleShare);
  return (
    <figure className="history trend" data-testid={`trend-${sys}`}>
      {clean && (
        <p className="trend-alert" data-testid={`suspicious-${sys}`}>
          <span className="status status-red">Suspicious</span>{' '}
          {firstBad ? `${firstBad.setId}: ${firstBad.reasons.join('; ')}. ` : ''}
          {candidate
            ? `Clean candidate: ${candidate.setId} (${formatLocalTime(candidate.createdAt)}), the last set before it.`
            : 'No earlier set to propose as clean.'}
        </p>
      )}
      <div className="sparks">
        <Spark
          name="size"
          values={sizes}
          suspicious={bad}
          text={`${points.length} sets from ${formatLocalTime(points[0]!.createdAt)}: ${range(sizes, formatBytes)}`}
          testId={`trend-size-${sys}`}
        />
        <Spark
          name="backup time"
          values={times}
          suspicious={bad}
          text={range(times, formatDurationMs)}
          testId={`trend-time-${sys}`}
        />
        <Spark
          name="compression"
          values={ratios}
          suspicious={bad}
          line
          text={range(ratios, (v) => `${v.toFixed(1)}×`)}
          testId={`trend-ratio-${sys}`}
        />
        <Spark
          name="does not compress"
          values={shares}
          suspicious={bad}
          line
          max={1}
          text={range(shares, (v) => pct(v))}
          testId={`trend-share-${sys}`}
        />
      </div>
      <details className="small">
        <summary>Sets in the trend</summary>
        <ul className="trend-sets" data-testid={`trend-sets-${sys}`}>
          {points.map((p) => (
            <li key={p.key} className={p.suspicious ? 'bad' : undefined}>
              {describe(p)}
            </li>
          ))}
        </ul>
      </details>
    </figure>
  );
}
