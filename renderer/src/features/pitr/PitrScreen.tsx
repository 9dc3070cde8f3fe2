import { useEffect, useMemo, useRef, useState } from 'react';
import type { PitrPlanView } from '../../../../shared/domain/catalog';
import { formatLocalTime, formatTimeWithAge } from '../../../../shared/format';
import { ErrorBox } from '../../components/ErrorBox';
import { CliCommand } from '../../components/JobProgress';
import { getApi } from '../../lib/api';
import { setHashParams, useHashParam } from '../../lib/hash';
import { useResult } from '../../lib/use-result';
import { isoFromLocal, localFromIso } from '../runbooks/RunbooksScreen';
import { openStartForm } from '../runbooks/start-link';

/** The planner's answer for a target time (electron/engine/pitr/plan.ts `target`). */
interface PlanTarget {
  time: string;
  inside: boolean;
  base: string | null;
  segments: string[];
  warnings: string[];
  refused: Array<{ name: string; state: string; reason: string }>;
}

const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;
const W = 1000;
const H = 96;

/**
 * The recoverable stretch of time on a real-width line: base backups as ticks, recoverable windows as green bars,
 * what no window covers hatched, the chosen time as a line (green inside, red outside). A click picks a time; the
 * datetime field beside it is the keyboard's way (and the screen reader's).
 */
function Timeline({
  plan,
  target,
  onPick,
}: {
  plan: PitrPlanView;
  target: string | null;
  onPick: (iso: string) => void;
}): React.JSX.Element {
  const times = [
    ...plan.bases.flatMap((b) => [b.startedAt, b.finishedAt]),
    ...plan.windows.flatMap((w) => [w.from, w.to ?? w.from]),
    ...(target ? [target] : []),
  ]
    .map((t) => Date.parse(t))
    .filter(Number.isFinite);
  const empty = times.length === 0;
  // With nothing dated to show, the line spans the last hour; the clock is read outside render (render stays pure).
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!empty) return;
    const t = setInterval(() => setNow(Date.now()), 30_000);
    return () => clearInterval(t);
  }, [empty]);
  const lo0 = empty ? now - 3600_000 : Math.min(...times);
  // At least ten seconds wide, so a short window (a demo's) is not a sliver nor stretched over an empty minute.
  const hi0 = empty ? now : Math.max(...times, lo0 + 10_000);
  const pad = (hi0 - lo0) * 0.04;
  const lo = lo0 - pad;
  const hi = hi0 + pad;
  const x = (t: string | number): number => ((Number(typeof t === 'string' ? Date.parse(t) : t) - lo) / (hi - lo)) * W;
  const inside = target
    ? plan.windows.some(
        (w) => Date.parse(target) >= Date.parse(w.from) && Date.parse(target) <= Date.parse(w.to ?? w.from),
      )
    : null;
  const described = plan.windows.length
    ? plan.windows
        .map((w) => `recoverable from ${formatLocalTime(w.from)} to ${w.to ? formatLocalTime(w.to) : 'unknown'}`)
        .join('; ')
    : 'no recoverable window';
  return (
    <svg
      className="pitr-timeline"
      viewBox={`0 0 ${W} ${H}`}
      width="100%"
      height={H}
      preserveAspectRatio="none"
      role="img"
      aria-label={`Timeline of ${plan.system}: ${described}${target ? `; chosen time ${formatLocalTime(target)} ${inside ? 'inside' : 'outside'} the window` : ''}`}
      data-testid="pitr-timeline"
      onClick={(e) => {
        const box = e.currentTarget.getBoundingClientRect();
        const t = lo + ((e.clientX - box.left) / box.width) * (hi - lo);
        onPick(new Date(Math.round(t / 1000) * 1000).toISOString());
      }}
    >
      <defs>
        <pattern id="pitr-hatch" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
          <rect width="8" height="8" fill="#1b2630" />
          <line x1="0" y1="0" x2="0" y2="8" stroke="#5a2a2a" strokeWidth="3" />
        </pattern>
      </defs>
      <rect x={0} y={30} width={W} height={26} fill="url(#pitr-hatch)" />
      {plan.windows.map((w) => (
        <rect
          key={w.base}
          className="timeline-window"
          data-testid="timeline-window"
          x={x(w.from)}
          y={30}
          width={Math.max(3, x(w.to ?? w.from) - x(w.from))}
          height={26}
          fill="#2f9e5b"
        />
      ))}
      {plan.bases.map((b) => (
        <g key={b.setId}>
          <line
            className="timeline-base"
            x1={x(b.finishedAt)}
            x2={x(b.finishedAt)}
            y1={22}
            y2={64}
            stroke="#7cb7ff"
            strokeWidth={3}
          />
          <text x={x(b.finishedAt)} y={16} fill="#b9c7d6" fontSize={11} textAnchor="middle">
            base
          </text>
        </g>
      ))}
      {target && (
        <line
          data-testid="timeline-target"
          x1={x(target)}
          x2={x(target)}
          y1={4}
          y2={72}
          stroke={inside ? '#5fe08f' : '#ff6b61'}
          strokeWidth={3}
        />
      )}
      <text x={4} y={90} fill="#b9c7d6" fontSize={11}>
        {formatLocalTime(lo)}
      </text>
      <text x={W - 4} y={90} fill="#b9c7d6" fontSize={11} textAnchor="end">
        {formatLocalTime(hi)}
      </text>
    </svg>
  );
}

/** The engine's warnings name times in ISO (UTC, for the CLI and logs); the operator reads them in local time with zone. */
function localTimes(text: string): string {
  return text.replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})/g, (iso) =>
    formatLocalTime(iso),
  );
}

/** The PITR planner: a system, a time (on the line or typed), inside or outside, the base, segments, warnings, then start. */
export function PitrScreen(): React.JSX.Element {
  const api = getApi();
  const fromHash = useHashParam('system');
  const [bases] = useResult(() => api.listSets({ kind: 'pg-base' }));
  const systems = useMemo(
    () => (bases.state === 'ready' ? [...new Set(bases.value.map((s) => s.system))].sort() : []),
    [bases],
  );
  const [picked, setSystem] = useState(fromHash ?? '');
  // Nothing picked and only one system to pick: that one (derived, not copied into state by an effect).
  const system = picked || (systems.length === 1 ? systems[0]! : '');
  const [local, setLocal] = useState('');
  const target = isoFromLocal(local) || null;
  const [plan] = useResult(
    () =>
      system
        ? api.planPitr({ system, ...(target ? { targetTime: target } : {}) })
        : Promise.resolve({ ok: true as const, value: null }),
    [system, target],
  );
  const heading = useRef<HTMLHeadingElement>(null);
  const planSystem = plan.state === 'ready' ? plan.value?.system : null;
  // Focus goes to the plan's heading when another system's plan arrives, not on every new target time.
  useEffect(() => heading.current?.focus(), [planSystem]);
  const p = plan.state === 'ready' ? plan.value : null;
  const t = (p?.target ?? null) as PlanTarget | null;
  const unsignedWal = t ? t.refused.filter((r) => r.state !== 'duplicate') : [];
  const why = !system
    ? 'choose a system'
    : !target
      ? 'choose a time'
      : t && !t.inside
        ? 'the time is outside every recoverable window'
        : '';
  return (
    <section aria-labelledby="screen-title">
      <h1 id="screen-title">PITR planner</h1>
      <p className="muted">
        Point-in-time recovery: pick a system and a time; see whether its base backups and archived WAL reach it.
      </p>
      <article className="card wide">
        <div className="form">
          <div className="row">
            <label>
              System
              <select
                value={system}
                data-testid="pitr-system"
                onChange={(e) => {
                  setSystem(e.target.value);
                  setHashParams({ system: e.target.value || null });
                }}
              >
                <option value="">— a system with base backups —</option>
                {systems.map((s) => (
                  <option key={s} value={s}>
                    {s}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Recover to (local time, {ZONE})
              <input
                type="datetime-local"
                step={1}
                value={local}
                onChange={(e) => setLocal(e.target.value)}
                data-testid="pitr-time"
              />
            </label>
          </div>
          {bases.state === 'ready' && systems.length === 0 && (
            <p className="hint">
              No base backups in the catalog: scan a medium holding pg-base sets and their WAL archive.
            </p>
          )}
        </div>
      </article>
      {bases.state === 'error' && <ErrorBox error={bases.error} />}
      {plan.state === 'error' && <ErrorBox error={plan.error} />}
      {system && plan.state === 'loading' && <p className="muted">Reading the WAL archive of {system}…</p>}
      {p && (
        <article className="card wide" data-testid="pitr-plan" aria-labelledby="pitr-plan-title">
          <h2 id="pitr-plan-title" ref={heading} tabIndex={-1}>
            {p.system} on {p.medium}
          </h2>
          <Timeline plan={p} target={target} onPick={(iso) => setLocal(localFromIso(iso))} />
          <p className="muted small" aria-hidden="true">
            Green: recoverable · blue tick: a base backup · hatched: not recoverable · vertical line: the chosen time
            (click the line to pick one)
          </p>
          <h3>Recoverable windows</h3>
          <ul>
            {p.windows.map((w) => (
              <li key={w.base} data-testid="pitr-window">
                From <strong>{formatLocalTime(w.from)}</strong> to{' '}
                <strong>{w.to ? formatTimeWithAge(w.to) : '—'}</strong> on timeline {w.timeline} (base {w.base};{' '}
                {w.segments} contiguous WAL segments; end from {w.toBasis}){' '}
                <button
                  type="button"
                  className="link"
                  onClick={() => setLocal(localFromIso(w.to ?? w.from))}
                  aria-label={`Pick the end of the window of base ${w.base}`}
                >
                  Pick the end of the window of base {w.base}
                </button>
              </li>
            ))}
            {p.windows.length === 0 && (
              <li className="hint">No recoverable window: no base backup with its WAL on a reachable medium.</li>
            )}
            {p.gaps.map((g) => (
              <li key={`${g.timeline}${g.from}`}>
                <span className="status status-red">Gap</span> on timeline {g.timeline}: WAL {g.from}
                {g.from !== g.to ? ` … ${g.to}` : ''} missing: nothing after it can be replayed from an earlier base
              </li>
            ))}
          </ul>
          {t && (
            <div data-testid="pitr-target" data-inside={String(t.inside)}>
              <h3>{formatLocalTime(t.time)}</h3>
              <p>
                {t.inside ? (
                  <span className="status status-green">inside the window</span>
                ) : (
                  <span className="status status-red">outside every window</span>
                )}
                {t.base ? ` · base backup ${t.base}` : ''} · {t.segments.length} WAL segment
                {t.segments.length === 1 ? '' : 's'} to replay
              </p>
              {unsignedWal.length > 0 && (
                <p className="hint" data-testid="pitr-unsigned">
                  {unsignedWal.length} WAL file{unsignedWal.length === 1 ? ' is' : 's are'} not signed by a pinned key (
                  {unsignedWal
                    .slice(0, 3)
                    .map((r) => r.name)
                    .join(', ')}
                  {unsignedWal.length > 3 ? '…' : ''}): the restore stops on them unless you allow unsigned files for
                  the run.
                </p>
              )}
              {t.warnings.length > 0 && (
                <ul>
                  {t.warnings.map((w) => (
                    <li key={w} className="hint">
                      {localTimes(w)}
                    </li>
                  ))}
                </ul>
              )}
            </div>
          )}
          {p.warnings.length > 0 && (
            <ul data-testid="pitr-warnings">
              {p.warnings.map((w) => (
                <li key={w} className="hint">
                  {localTimes(w)}
                </li>
              ))}
            </ul>
          )}
          <div className="actions">
            <button
              type="button"
              className="primary"
              data-testid="pitr-start"
              disabled={Boolean(why)}
              aria-describedby={why ? 'pitr-why' : undefined}
              onClick={() =>
                target &&
                openStartForm('pitr-restore', {
                  inputs: { system: p.system, target_time: target },
                  unsigned: unsignedWal.length > 0,
                  purpose: `Recover ${p.system} to ${formatLocalTime(target)}`,
                })
              }
            >
              Start PITR restore of {p.system}…
            </button>
            {why && (
              <span className="muted" id="pitr-why">
                To start: {why}.
              </span>
            )}
            <CliCommand
              command={`lifeboat pitr plan --system ${p.system} --from ${p.medium}${target ? ` --target-time ${target}` : ''} --identity <key file>`}
            />
          </div>
        </article>
      )}
    </section>
  );
}
