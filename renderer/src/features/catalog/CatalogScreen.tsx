import { useEffect, useMemo, useRef, useState } from 'react';
import { SET_KINDS } from '../../../../shared/domain/kinds';
import type { SetRow } from '../../../../shared/domain/catalog';
import { VERIFY_LEVELS } from '../../../../shared/domain/verify';
import type { WireError } from '../../../../shared/errors';
import { formatBytes, formatDurationMs, formatLocalTime, formatTimeWithAge } from '../../../../shared/format';
import { ErrorBox } from '../../components/ErrorBox';
import { TrendChart } from '../../components/TrendChart';
import { CliCommand, JobProgress } from '../../components/JobProgress';
import { getApi } from '../../lib/api';
import { setHashParams } from '../../lib/hash';
import { useJob } from '../../lib/use-job';
import { useResult } from '../../lib/use-result';
import { evidenceName, formatEvidence } from '../runbooks/evidence';
import { openStartForm } from '../runbooks/start-link';

const ROW = 34;
const VIEW = 480;

/**
 * A virtualized table: only the rows in view are in the DOM, so 10,000+ sets scroll smoothly. Keyboard: one row is
 * in the tab order (roving tabindex); the arrows, Home and End move between rows; Enter or Space opens one.
 */
function SetTable({
  rows,
  selected,
  onSelect,
}: {
  rows: SetRow[];
  selected: string | null;
  onSelect: (key: string) => void;
}): React.JSX.Element {
  const [top, setTop] = useState(0);
  const [active, setActive] = useState(() =>
    Math.max(
      0,
      rows.findIndex((r) => r.key === selected),
    ),
  );
  const scroller = useRef<HTMLDivElement>(null);
  const want = useRef<number | null>(null);
  const first = Math.max(0, Math.floor(top / ROW) - 5);
  const last = Math.min(rows.length, Math.ceil((top + VIEW) / ROW) + 5);
  useEffect(() => {
    // After a keyboard move, focus the row once it is rendered (scrolling brought it into the window).
    if (want.current === null) return;
    const el = scroller.current?.querySelector<HTMLElement>(`[data-index="${want.current}"]`);
    if (el) {
      el.focus();
      want.current = null;
    }
  });
  const move = (to: number): void => {
    const i = Math.max(0, Math.min(rows.length - 1, to));
    setActive(i);
    want.current = i;
    const box = scroller.current;
    if (box && (i * ROW < box.scrollTop || (i + 1) * ROW > box.scrollTop + box.clientHeight)) {
      box.scrollTop = Math.max(0, i * ROW - box.clientHeight / 2);
      setTop(box.scrollTop);
    }
  };
  return (
    <div
      className="vtable-wrap"
      role="grid"
      aria-label="Backup sets (arrows move, Enter opens)"
      aria-rowcount={rows.length + 1}
    >
      <div role="rowgroup">
        <div className="vrow head" role="row" aria-rowindex={1} style={{ position: 'relative' }}>
          <span role="columnheader">Set</span>
          <span role="columnheader">Kind</span>
          <span role="columnheader">Created</span>
          <span role="columnheader">Size</span>
          <span role="columnheader">Media</span>
          <span role="columnheader">Trust</span>
        </div>
      </div>
      <div
        className="vtable"
        ref={scroller}
        style={{ height: Math.min(VIEW, rows.length * ROW + 2) }}
        onScroll={(e) => setTop(e.currentTarget.scrollTop)}
        role="rowgroup"
        data-testid="sets-table"
      >
        <div style={{ height: rows.length * ROW, position: 'relative' }}>
          {rows.slice(first, last).map((r, i) => (
            <div
              key={r.key}
              role="row"
              aria-rowindex={first + i + 2}
              aria-selected={selected === r.key}
              aria-label={`${r.key}, ${r.kind}, made ${formatTimeWithAge(r.createdAt)}${r.suspicious.length ? ', suspicious (ransomware indicator)' : ''}`}
              tabIndex={first + i === active ? 0 : -1}
              data-index={first + i}
              className={selected === r.key ? 'vrow selected' : 'vrow'}
              style={{ top: (first + i) * ROW }}
              data-testid="set-row"
              onClick={() => {
                setActive(first + i);
                onSelect(r.key);
              }}
              onKeyDown={(e) => {
                const at = first + i;
                if (e.key === 'Enter' || e.key === ' ') {
                  e.preventDefault();
                  setActive(at);
                  onSelect(r.key);
                } else if (e.key === 'ArrowDown') {
                  e.preventDefault();
                  move(at + 1);
                } else if (e.key === 'ArrowUp') {
                  e.preventDefault();
                  move(at - 1);
                } else if (e.key === 'Home') {
                  e.preventDefault();
                  move(0);
                } else if (e.key === 'End') {
                  e.preventDefault();
                  move(rows.length - 1);
                }
              }}
            >
              <span role="gridcell" className="mono" title={r.key}>
                {r.key}
              </span>
              <span role="gridcell">{r.kind}</span>
              <span role="gridcell">{formatLocalTime(r.createdAt)}</span>
              <span role="gridcell">{formatBytes(r.bytes)}</span>
              <span role="gridcell">
                {r.media}
                {r.missingFrom ? ` (+${r.missingFrom} missing)` : ''}
              </span>
              <span role="gridcell">
                {r.suspicious.length > 0 && (
                  <>
                    <span className="status status-red" title={r.suspicious.join('; ')} data-testid="suspicious-badge">
                      suspicious
                    </span>{' '}
                  </>
                )}
                {r.verified ? (
                  <span className="status status-green">verified</span>
                ) : (
                  <span className="status status-amber">unverified</span>
                )}{' '}
                {r.signed ? '✍' : ''}
              </span>
            </div>
          ))}
        </div>
      </div>
    </div>
  );
}

/** The Catalog's system view: the system's trends and the ransomware indicator's verdict (`lifeboat systems --trend`). */
function SystemTrendCard({ system }: { system: string }): React.JSX.Element | null {
  const api = getApi();
  const [trends] = useResult(() => api.getTrends({ system }), [system]);
  // A system with only other tools' sets has no trend (NOT_FOUND): nothing to draw.
  if (trends.state !== 'ready' || !trends.value[0]) return null;
  return (
    <article className="card" aria-labelledby="trend-title">
      <h2 id="trend-title">Trends of {system}</h2>
      <TrendChart trend={trends.value[0]} />
      <CliCommand args={['lifeboat', 'systems', '--trend', '--system', system]} />
    </article>
  );
}

/** Which built-in runbook restores a set of this kind (pg-base goes through the PITR planner). */
const RESTORE_RUNBOOK: Partial<Record<string, string>> = {
  'pg-logical': 'restore-database',
  files: 'restore-files',
  config: 'restore-files',
  stream: 'restore-stream',
  mysql: 'restore-mysql',
};

/** Verify this set now (deep by default), with its progress here. */
function VerifyHere({ setKey }: { setKey: string }): React.JSX.Element {
  const api = getApi();
  const [open, setOpen] = useState(false);
  const [level, setLevel] = useState<(typeof VERIFY_LEVELS)[number]>('deep');
  const [identity, setIdentity] = useState('');
  const [error, setError] = useState<WireError | null>(null);
  const { job, track } = useJob(null);
  const field = useRef<HTMLSelectElement>(null);
  useEffect(() => {
    if (open) field.current?.focus();
  }, [open]);
  if (!open)
    return (
      <button type="button" className="secondary" data-testid="set-verify" onClick={() => setOpen(true)}>
        Verify {setKey}…
      </button>
    );
  return (
    <form
      className="form"
      aria-label={`Verify ${setKey}`}
      data-testid="set-verify-form"
      onSubmit={(e) => {
        e.preventDefault();
        setError(null);
        void api
          .startVerify({
            target: setKey,
            level,
            identityFiles: identity.trim() ? [identity.trim()] : [],
            onlyNew: false,
            olderThanDays: null,
            jobs: 2,
          })
          .then((r) => (r.ok ? track(r.value) : setError(r.error)));
      }}
    >
      <div className="row">
        <label>
          Level
          <select
            ref={field}
            value={level}
            onChange={(e) => setLevel(e.target.value as (typeof VERIFY_LEVELS)[number])}
            data-testid="set-verify-level"
          >
            {VERIFY_LEVELS.map((l) => (
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <label>
          Age identity file (deep and restore levels decrypt)
          <input
            type="text"
            value={identity}
            onChange={(e) => setIdentity(e.target.value)}
            data-testid="set-verify-identity"
            placeholder="/path/to/laptop.age"
          />
        </label>
        <button type="submit" className="primary" disabled={job?.status === 'running'}>
          Start verifying {setKey}
        </button>
        <button type="button" className="link" onClick={() => setOpen(false)}>
          Close
        </button>
      </div>
      {job && <JobProgress job={job} label={`Verification of ${setKey}`} />}
      {job && job.status !== 'running' && (
        <p data-testid="set-verify-result" role="status">
          {verifySummary(job.result)}
        </p>
      )}
      {error && <ErrorBox error={error} />}
      <CliCommand
        command={`lifeboat verify ${setKey} --level ${level}${identity.trim() ? ` --identity '${identity.trim().replace(/'/g, `'\\''`)}'` : ''}`}
      />
    </form>
  );
}

/** A verification report's headline: pass or fail in words (never a green "succeeded" above failures). */
function verifySummary(result: unknown): string {
  const r = result as { results?: Array<{ verdict: string; detail?: string | null }> } | null;
  const first = r?.results?.[0];
  if (!first) return 'No result.';
  return first.verdict === 'ok'
    ? 'Passed.'
    : `Did not pass: ${first.verdict}${first.detail ? ` — ${first.detail}` : ''}.`;
}

function SetDetail({ setKey }: { setKey: string }): React.JSX.Element {
  const api = getApi();
  const [where] = useResult(() => api.whereIsSet({ set: setKey }));
  const [detail] = useResult(() => api.getSetDetail({ set: setKey }));
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  const mediumName = (id: string): string =>
    where.state === 'ready'
      ? (where.value.rows.find((w) => w.mediumId === id)?.label ??
        where.value.rows.find((w) => w.mediumId === id)?.location ??
        id)
      : id;
  const d = detail.state === 'ready' ? detail.value : null;
  const unsigned = d ? !d.signer || !d.signer.pinned : false;
  const restoreWith = d ? RESTORE_RUNBOOK[d.set.kind] : undefined;
  return (
    <article className="card wide" data-testid="set-detail" aria-labelledby="set-detail-title">
      <h2 id="set-detail-title" ref={heading} tabIndex={-1}>
        {setKey}
      </h2>
      {detail.state === 'error' && <ErrorBox error={detail.error} />}
      {d && d.set.suspicious.length > 0 && (
        <p className="trend-alert" role="note" data-testid="set-suspicious">
          <span className="status status-red">Suspicious</span> The ransomware indicator flagged this set:{' '}
          {d.set.suspicious.join('; ')}. Restore from an earlier set unless you know why its data changed: the system's
          trends (choose it under System above) name the clean candidate.
        </p>
      )}
      {d && (
        <div className="actions" data-testid="set-actions">
          {restoreWith && (
            <button
              type="button"
              className="primary"
              data-testid="set-restore"
              onClick={() =>
                openStartForm(restoreWith, {
                  inputs: {
                    system: d.set.system,
                    set: setKey,
                    ...(restoreWith === 'restore-database'
                      ? { database: `${d.set.system.replace(/[^A-Za-z0-9_]/g, '_')}_restored` }
                      : {}),
                  },
                  unsigned,
                  purpose:
                    restoreWith === 'restore-database'
                      ? `Restore ${setKey} into a new database`
                      : `Restore the files of ${setKey} into a folder`,
                })
              }
            >
              Restore {setKey}…
            </button>
          )}
          {d.set.kind === 'redis' && (
            <CliCommand args={['lifeboat', 'restore', 'redis', setKey, '--scratch', '--identity', '<identity>']} />
          )}
          {d.set.kind === 'pg-base' && (
            <button
              type="button"
              className="primary"
              data-testid="set-pitr"
              onClick={() => setHashParams({ screen: 'pitr', system: d.set.system, run: null })}
            >
              Plan a point-in-time restore of {d.set.system}…
            </button>
          )}
          <button
            type="button"
            className="secondary"
            data-testid="set-runbook"
            onClick={() =>
              openStartForm(null, {
                inputs: { system: d.set.system, set: setKey },
                unsigned,
                purpose: `Start a runbook with ${setKey}`,
              })
            }
          >
            Start a runbook with {setKey}…
          </button>
          <VerifyHere setKey={setKey} />
        </div>
      )}
      {d && (
        <>
          <dl className="facts">
            <dt>Kind</dt>
            <dd>
              {d.set.kind} ({d.set.origin})
            </dd>
            <dt>Made</dt>
            <dd>
              {formatTimeWithAge(d.set.createdAt)}
              {d.finishedAt ? ` → ${formatLocalTime(d.finishedAt)}` : ''}
            </dd>
            <dt>Signer</dt>
            <dd data-testid="set-signer">
              {d.signer ? (
                <>
                  <span className="mono">{d.signer.keyId}</span>{' '}
                  {d.signer.pinned ? (
                    <span className="status status-green">pinned{d.signer.label ? `: ${d.signer.label}` : ''}</span>
                  ) : (
                    <span className="status status-amber">not pinned: authenticity cannot pass</span>
                  )}
                </>
              ) : (
                <span className="status status-amber">unsigned</span>
              )}
            </dd>
            <dt>Encrypted</dt>
            <dd>{d.set.encrypted ? 'yes (age)' : 'no'}</dd>
            {Object.entries(d.facts)
              .filter(([k, v]) => (typeof v === 'string' || typeof v === 'number') && k !== 'lifeboat_version')
              .slice(0, 8)
              .map(([k, v]) => (
                <FactRow key={k} name={evidenceName(k)} value={formatEvidence(k, v) ?? ''} />
              ))}
          </dl>
          <h3>Artifacts</h3>
          <table className="table" data-testid="set-artifacts">
            <thead>
              <tr>
                <th scope="col">Path</th>
                <th scope="col">Role</th>
                <th scope="col">Size</th>
                <th scope="col">SHA-256 (stored)</th>
                <th scope="col">SHA-256 (decoded)</th>
              </tr>
            </thead>
            <tbody>
              {d.artifacts.map((a) => (
                <tr key={a.path}>
                  <td className="mono">{a.path}</td>
                  <td>
                    {a.role}
                    {a.encodings ? ` (${a.encodings})` : ''}
                  </td>
                  <td>{formatBytes(a.bytes)}</td>
                  <td className="mono hash" title={a.sha256 ?? ''}>
                    {a.sha256 ?? '—'}
                  </td>
                  <td className="mono hash" title={a.plainSha256 ?? ''}>
                    {a.plainSha256 ?? '—'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <h3>Verification history</h3>
          {d.verifications.length === 0 ? (
            <p className="hint">Never verified: run at least integrity, better deep.</p>
          ) : (
            <table className="table" data-testid="set-verifications">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Level</th>
                  <th scope="col">Verdict</th>
                  <th scope="col">Medium</th>
                  <th scope="col">Took</th>
                  <th scope="col">Detail</th>
                </tr>
              </thead>
              <tbody>
                {d.verifications.map((v) => (
                  <tr key={`${v.at}${v.mediumId}${v.level}`}>
                    <td>{formatTimeWithAge(v.at)}</td>
                    <td>{v.level}</td>
                    <td>
                      <span className={`status status-${v.verdict === 'ok' ? 'green' : 'red'}`}>{v.verdict}</span>
                    </td>
                    <td>{mediumName(v.mediumId)}</td>
                    <td>{formatDurationMs(v.durationMs)}</td>
                    <td>{v.detail ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
      <h3>Copies</h3>
      {where.state === 'error' && <ErrorBox error={where.error} />}
      {where.state === 'ready' && (
        <table className="table" data-testid="set-copies">
          <thead>
            <tr>
              <th scope="col">Medium</th>
              <th scope="col">Location</th>
              <th scope="col">Last seen</th>
              <th scope="col">Verification there</th>
            </tr>
          </thead>
          <tbody>
            {where.value.rows.map((w) => (
              <tr key={w.mediumId}>
                <td>{w.label ?? w.location}</td>
                <td className="mono">
                  {w.location}/{w.setPath}
                </td>
                <td>
                  {w.missingSince ? (
                    <span className="status status-red">missing since {formatTimeWithAge(w.missingSince)}</span>
                  ) : (
                    formatTimeWithAge(w.lastSeen)
                  )}
                </td>
                <td>
                  {w.lastVerification
                    ? `${w.lastVerification.verdict} at ${w.lastVerification.level} (${formatTimeWithAge(w.lastVerification.at)})`
                    : 'never'}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <CliCommand command={`lifeboat where ${setKey}`} />
    </article>
  );
}

function FactRow({ name, value }: { name: string; value: string }): React.JSX.Element {
  return (
    <>
      <dt>{name}</dt>
      <dd className="mono">{value}</dd>
    </>
  );
}

/** A datetime-local value (the operator's local time) as ISO 8601 UTC, or undefined. */
function isoOf(local: string): string | undefined {
  if (!local) return undefined;
  const t = new Date(local);
  return Number.isNaN(t.getTime()) ? undefined : t.toISOString();
}

/** The catalog: every set on every medium seen, filtered in the engine (as `lifeboat sets`); a set's detail; file search. */
export function CatalogScreen(): React.JSX.Element {
  const api = getApi();
  const [filter, setFilter] = useState({
    system: '',
    kind: '',
    since: '',
    until: '',
    medium: '',
    verified: false,
    signed: false,
  });
  const [selected, setSelected] = useState<string | null>(null);
  const query = useMemo(
    () => ({
      ...(filter.system ? { system: filter.system } : {}),
      ...(filter.kind ? { kind: filter.kind as (typeof SET_KINDS)[number] } : {}),
      ...(isoOf(filter.since) ? { since: isoOf(filter.since) } : {}),
      ...(isoOf(filter.until) ? { until: isoOf(filter.until) } : {}),
      ...(filter.medium ? { medium: filter.medium } : {}),
      ...(filter.verified ? { verified: true } : {}),
      ...(filter.signed ? { signed: true } : {}),
    }),
    [filter],
  );
  const [sets] = useResult(() => api.listSets(query), [query]);
  const [systems] = useResult(() => api.listSystems({}));
  const [media] = useResult(() => api.listMedia({}));
  const [glob, setGlob] = useState('');
  const [hits, setHits] = useState<Array<{
    setKey: string;
    system: string;
    path: string;
    size: number;
    createdAt: string;
  }> | null>(null);
  const [findError, setFindError] = useState<WireError | null>(null);
  const hitsHeading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (hits) hitsHeading.current?.focus();
  }, [hits]);
  const rows = sets.state === 'ready' ? sets.value : [];
  const cli = [
    'lifeboat sets',
    query.system && `--system ${query.system}`,
    query.kind && `--kind ${query.kind}`,
    query.since && `--since ${query.since}`,
    query.until && `--until ${query.until}`,
    query.medium && `--medium ${query.medium}`,
    query.verified && '--verified',
    query.signed && '--signed',
  ]
    .filter(Boolean)
    .join(' ');
  const set =
    (k: keyof typeof filter) =>
    (e: React.ChangeEvent<HTMLInputElement | HTMLSelectElement>): void =>
      setFilter({
        ...filter,
        [k]: e.target instanceof HTMLInputElement && e.target.type === 'checkbox' ? e.target.checked : e.target.value,
      });
  return (
    <section aria-labelledby="screen-title">
      <h1 id="screen-title">Catalog</h1>
      <div className="form" data-testid="catalog-filters">
        <div className="row">
          <label>
            System
            <select value={filter.system} onChange={set('system')} data-testid="filter-system">
              <option value="">all</option>
              {systems.state === 'ready' &&
                systems.value.map((x) => (
                  <option key={x.system} value={x.system}>
                    {x.system}
                  </option>
                ))}
            </select>
          </label>
          <label>
            Kind
            <select value={filter.kind} onChange={set('kind')} data-testid="filter-kind">
              <option value="">all</option>
              {SET_KINDS.map((k) => (
                <option key={k} value={k}>
                  {k}
                </option>
              ))}
            </select>
          </label>
          <label>
            Medium
            <select value={filter.medium} onChange={set('medium')} data-testid="filter-medium">
              <option value="">any</option>
              {media.state === 'ready' &&
                media.value.map((m) => (
                  <option key={m.id} value={m.id}>
                    {m.label ?? m.location}
                  </option>
                ))}
            </select>
          </label>
        </div>
        <div className="row">
          <label>
            Made from
            <input type="datetime-local" value={filter.since} onChange={set('since')} data-testid="filter-since" />
          </label>
          <label>
            until
            <input type="datetime-local" value={filter.until} onChange={set('until')} data-testid="filter-until" />
          </label>
          <label className="row">
            <input type="checkbox" checked={filter.verified} onChange={set('verified')} data-testid="filter-verified" />{' '}
            verified only
          </label>
          <label className="row">
            <input type="checkbox" checked={filter.signed} onChange={set('signed')} data-testid="filter-signed" />{' '}
            signed only
          </label>
        </div>
        <CliCommand command={cli} />
      </div>
      {filter.system && <SystemTrendCard key={filter.system} system={filter.system} />}
      {sets.state === 'error' && <ErrorBox error={sets.error} />}
      {sets.state === 'ready' && (
        <>
          <p className="muted" data-testid="sets-count">
            {rows.length} of {systems.state === 'ready' ? systems.value.reduce((n, x) => n + x.sets, 0) : '…'} sets
          </p>
          <SetTable rows={rows} selected={selected} onSelect={setSelected} />
        </>
      )}
      {selected && <SetDetail key={selected} setKey={selected} />}
      <article className="card">
        <h2>Find a file</h2>
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            setFindError(null);
            void api.findFiles({ glob }).then((r) => {
              if (!r.ok) return setFindError(r.error);
              setHits(
                r.value.map((h) => ({
                  setKey: h.setKey,
                  system: h.system,
                  path: h.path,
                  size: h.size,
                  createdAt: h.createdAt,
                })),
              );
            });
          }}
        >
          <label>
            Path pattern
            <input
              type="search"
              value={glob}
              onChange={(e) => setGlob(e.target.value)}
              placeholder="*/invoices/*.pdf"
              data-testid="find-pattern"
            />
          </label>
          <button
            type="submit"
            className="secondary"
            disabled={!glob}
            data-testid="find-submit"
            aria-describedby={glob ? undefined : 'find-why'}
          >
            Find
          </button>
          {!glob && (
            <span className="muted" id="find-why">
              Type a path pattern first.
            </span>
          )}
        </form>
        {findError && <ErrorBox error={findError} />}
        {hits && (
          <>
            <h3 ref={hitsHeading} tabIndex={-1} data-testid="find-count">
              {hits.length === 0
                ? 'No indexed file matches'
                : `${hits.length} match${hits.length === 1 ? '' : 'es'}${hits.length > 200 ? ' (first 200 shown)' : ''}`}
            </h3>
            <ul className="hits" data-testid="find-hits">
              {hits.slice(0, 200).map((h) => (
                <li key={`${h.setKey}:${h.path}`} data-testid="find-hit">
                  <span className="mono">{h.path}</span> — {h.setKey}, made {formatTimeWithAge(h.createdAt)} (
                  {formatBytes(h.size)}){' '}
                  <button
                    type="button"
                    className="secondary"
                    data-testid="restore-hit"
                    aria-label={`Restore this file/folder: ${h.path} from ${h.setKey}`}
                    onClick={() =>
                      openStartForm('restore-files', {
                        inputs: { system: h.system, set: h.setKey, path: h.path },
                        purpose: `Restore ${h.path} from ${h.setKey}`,
                      })
                    }
                  >
                    Restore this file/folder
                  </button>
                </li>
              ))}
            </ul>
          </>
        )}
      </article>
    </section>
  );
}
