import { useMemo, useState } from 'react';
import { SET_KINDS } from '../../../../shared/domain/kinds';
import type { SetRow } from '../../../../shared/domain/catalog';
import { formatBytes } from '../../../../shared/format';
import { ErrorBox } from '../../components/ErrorBox';
import { CliCommand } from '../../components/JobProgress';
import { getApi } from '../../lib/api';
import { useResult } from '../../lib/use-result';

const ROW = 34;
const VIEW = 480;

/** A virtualized table: only the rows in view are in the DOM, so 10,000+ sets scroll smoothly. */
function SetTable({ rows, selected, onSelect }: { rows: SetRow[]; selected: string | null; onSelect: (key: string) => void }): React.JSX.Element {
  const [top, setTop] = useState(0);
  const first = Math.max(0, Math.floor(top / ROW) - 5);
  const last = Math.min(rows.length, Math.ceil((top + VIEW) / ROW) + 5);
  return (
    <div className="vtable-wrap" role="grid" aria-label="Backup sets" aria-rowcount={rows.length + 1}>
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
      <div className="vtable" style={{ height: Math.min(VIEW, rows.length * ROW + 2) }} onScroll={(e) => setTop(e.currentTarget.scrollTop)} role="rowgroup" data-testid="sets-table" tabIndex={0} aria-label="Sets (scroll for more)">
        <div style={{ height: rows.length * ROW, position: 'relative' }}>
          {rows.slice(first, last).map((r, i) => (
            <div
              key={r.key}
              role="row"
              aria-rowindex={first + i + 2}
              aria-selected={selected === r.key}
              tabIndex={-1}
              className={selected === r.key ? 'vrow selected' : 'vrow'}
              style={{ top: (first + i) * ROW }}
              data-testid="set-row"
              onClick={() => onSelect(r.key)}
              onKeyDown={(e) => {
                if (e.key === 'Enter' || e.key === ' ') onSelect(r.key);
              }}
            >
              <span role="gridcell" className="mono" title={r.key}>{r.key}</span>
              <span role="gridcell">{r.kind}</span>
              <span role="gridcell">{r.createdAt.replace('T', ' ').slice(0, 19)}</span>
              <span role="gridcell">{formatBytes(r.bytes)}</span>
              <span role="gridcell">{r.media}{r.missingFrom ? ` (+${r.missingFrom} missing)` : ''}</span>
              <span role="gridcell">
                {r.verified ? <span className="status status-green">verified</span> : <span className="status status-amber">unverified</span>} {r.signed ? '✍' : ''}
              </span>
            </div>
          ))}
        </div>
      </div>
    </div>
  );
}

/** The recoverable window of a PITR system on a line: base backups as ticks, the window as a bar, gaps in red. */
function PitrTimeline({ system }: { system: string }): React.JSX.Element {
  const api = getApi();
  const [plan] = useResult(() => api.planPitr({ system }));
  if (plan.state === 'loading') return <p className="muted">Reading the WAL archive of {system}…</p>;
  if (plan.state === 'error') return <ErrorBox error={plan.error} />;
  const p = plan.value;
  const times = [...p.bases.flatMap((b) => [b.startedAt, b.finishedAt]), ...p.windows.flatMap((w) => [w.from, w.to ?? w.from])].map((t) => Date.parse(t)).filter(Number.isFinite);
  const lo = Math.min(...times);
  const hi = Math.max(...times, lo + 60_000);
  const x = (t: string): number => ((Date.parse(t) - lo) / (hi - lo)) * 100;
  return (
    <section aria-label={`Recoverable window of ${system}`} data-testid="pitr-timeline">
      <h3>Point-in-time recovery of {system}</h3>
      <div className="timeline" role="img" aria-label={p.windows.map((w) => `from ${w.from} to ${w.to ?? 'unknown'}`).join('; ') || 'no recoverable window'}>
        {p.windows.map((w) => (
          <div key={w.base} className="timeline-window" style={{ left: `${x(w.from)}%`, width: `${Math.max(0.5, x(w.to ?? w.from) - x(w.from))}%` }} />
        ))}
        {p.bases.map((b) => (
          <div key={b.setId} className="timeline-base" style={{ left: `${x(b.finishedAt)}%` }} title={`base backup ${b.setId}`} />
        ))}
      </div>
      <ul>
        {p.windows.map((w) => (
          <li key={w.base} data-testid="pitr-window">
            From <strong>{w.from}</strong> to <strong>{w.to ?? '—'}</strong> on timeline {w.timeline} (base {w.base}; {w.segments} contiguous WAL segments; end from {w.toBasis})
          </li>
        ))}
        {p.windows.length === 0 && <li className="hint">No recoverable window: no base backup with its WAL on a reachable medium.</li>}
        {p.gaps.map((g) => (
          <li key={`${g.timeline}${g.from}`} className="status status-red">Gap on timeline {g.timeline}: {g.from}{g.from !== g.to ? `…${g.to}` : ''} missing</li>
        ))}
        {p.warnings.map((w) => (
          <li key={w} className="hint">{w}</li>
        ))}
      </ul>
      <CliCommand command={`lifeboat pitr plan --system ${system} --from ${p.medium} --identity <key file>`} />
    </section>
  );
}

function SetDetail({ setKey }: { setKey: string }): React.JSX.Element {
  const api = getApi();
  const [where] = useResult(() => api.whereIsSet({ set: setKey }));
  const [detail] = useResult(() => api.getSetDetail({ set: setKey }));
  const setId = setKey.split('/')[1] ?? setKey;
  return (
    <article className="card wide" data-testid="set-detail">
      <h2>{setKey}</h2>
      {detail.state === 'error' && <ErrorBox error={detail.error} />}
      {detail.state === 'ready' && (
        <>
          <dl className="facts">
            <dt>Kind</dt><dd>{detail.value.set.kind} ({detail.value.set.origin})</dd>
            <dt>Made</dt><dd>{detail.value.set.createdAt}{detail.value.finishedAt ? ` → ${detail.value.finishedAt}` : ''}</dd>
            <dt>Signer</dt>
            <dd data-testid="set-signer">
              {detail.value.signer ? (
                <>
                  <span className="mono">{detail.value.signer.keyId}</span>{' '}
                  {detail.value.signer.pinned ? <span className="status status-green">pinned{detail.value.signer.label ? `: ${detail.value.signer.label}` : ''}</span> : <span className="status status-amber">not pinned: authenticity cannot pass</span>}
                </>
              ) : (
                <span className="status status-amber">unsigned</span>
              )}
            </dd>
            <dt>Encrypted</dt><dd>{detail.value.set.encrypted ? 'yes (age)' : 'no'}</dd>
            {Object.entries(detail.value.facts)
              .filter(([, v]) => typeof v === 'string' || typeof v === 'number')
              .slice(0, 8)
              .map(([k, v]) => (
                <FactRow key={k} name={k} value={String(v)} />
              ))}
          </dl>
          <h3>Artifacts</h3>
          <table className="table" data-testid="set-artifacts">
            <thead>
              <tr><th scope="col">Path</th><th scope="col">Role</th><th scope="col">Size</th><th scope="col">SHA-256 (stored)</th><th scope="col">SHA-256 (decoded)</th></tr>
            </thead>
            <tbody>
              {detail.value.artifacts.map((a) => (
                <tr key={a.path}>
                  <td className="mono">{a.path}</td>
                  <td>{a.role}{a.encodings ? ` (${a.encodings})` : ''}</td>
                  <td>{formatBytes(a.bytes)}</td>
                  <td className="mono hash" title={a.sha256 ?? ''}>{a.sha256 ?? '—'}</td>
                  <td className="mono hash" title={a.plainSha256 ?? ''}>{a.plainSha256 ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h3>Verification history</h3>
          {detail.value.verifications.length === 0 ? (
            <p className="hint">Never verified: run at least integrity, better deep.</p>
          ) : (
            <table className="table" data-testid="set-verifications">
              <thead>
                <tr><th scope="col">When</th><th scope="col">Level</th><th scope="col">Verdict</th><th scope="col">Medium</th><th scope="col">Detail</th></tr>
              </thead>
              <tbody>
                {detail.value.verifications.map((v) => (
                  <tr key={`${v.at}${v.mediumId}${v.level}`}>
                    <td>{v.at}</td>
                    <td>{v.level}</td>
                    <td><span className={`status status-${v.verdict === 'ok' ? 'green' : 'red'}`}>{v.verdict}</span></td>
                    <td className="mono">{v.mediumId}</td>
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
            <tr><th scope="col">Medium</th><th scope="col">Location</th><th scope="col">Last seen</th><th scope="col">Verification there</th></tr>
          </thead>
          <tbody>
            {where.value.rows.map((w) => (
              <tr key={w.mediumId}>
                <td>{w.label ?? w.mediumId}</td>
                <td className="mono">{w.location}/{w.setPath}</td>
                <td>{w.missingSince ? <span className="status status-red">missing since {w.missingSince}</span> : w.lastSeen}</td>
                <td>{w.lastVerification ? `${w.lastVerification.verdict} at ${w.lastVerification.level} (${w.lastVerification.at})` : 'never'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {detail.state === 'ready' && detail.value.set.kind === 'pg-base' && <PitrTimeline system={detail.value.set.system} />}
      <CliCommand command={`lifeboat verify ${setId} --level deep --identity <key file>`} />
      <CliCommand command={`lifeboat where ${setId}`} />
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
  const [filter, setFilter] = useState({ system: '', kind: '', since: '', until: '', medium: '', verified: false, signed: false });
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
  const [hits, setHits] = useState<Array<{ setKey: string; path: string; size: number }> | null>(null);
  const rows = sets.state === 'ready' ? sets.value : [];
  const cli = ['lifeboat sets', query.system && `--system ${query.system}`, query.kind && `--kind ${query.kind}`, query.since && `--since ${query.since}`, query.until && `--until ${query.until}`, query.medium && `--medium ${query.medium}`, query.verified && '--verified', query.signed && '--signed'].filter(Boolean).join(' ');
  const set = (k: keyof typeof filter) => (e: React.ChangeEvent<HTMLInputElement | HTMLSelectElement>): void =>
    setFilter({ ...filter, [k]: e.target instanceof HTMLInputElement && e.target.type === 'checkbox' ? e.target.checked : e.target.value });
  return (
    <section aria-labelledby="screen-title">
      <h1 id="screen-title">Catalog</h1>
      <div className="form" data-testid="catalog-filters">
        <div className="row">
          <label>
            System
            <select value={filter.system} onChange={set('system')} data-testid="filter-system">
              <option value="">all</option>
              {systems.state === 'ready' && systems.value.map((x) => <option key={x.system} value={x.system}>{x.system}</option>)}
            </select>
          </label>
          <label>
            Kind
            <select value={filter.kind} onChange={set('kind')} data-testid="filter-kind">
              <option value="">all</option>
              {SET_KINDS.map((k) => (
                <option key={k} value={k}>{k}</option>
              ))}
            </select>
          </label>
          <label>
            Medium
            <select value={filter.medium} onChange={set('medium')} data-testid="filter-medium">
              <option value="">any</option>
              {media.state === 'ready' && media.value.map((m) => <option key={m.id} value={m.id}>{m.label ?? m.location}</option>)}
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
            <input type="checkbox" checked={filter.verified} onChange={set('verified')} data-testid="filter-verified" /> verified only
          </label>
          <label className="row">
            <input type="checkbox" checked={filter.signed} onChange={set('signed')} data-testid="filter-signed" /> signed only
          </label>
        </div>
        <CliCommand command={cli} />
      </div>
      {sets.state === 'error' && <ErrorBox error={sets.error} />}
      {sets.state === 'ready' && (
        <>
          <p className="muted" data-testid="sets-count">{rows.length} of {systems.state === 'ready' ? systems.value.reduce((n, x) => n + x.sets, 0) : '…'} sets</p>
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
            void api.findFiles({ glob }).then((r) => setHits(r.ok ? r.value.map((h) => ({ setKey: h.setKey, path: h.path, size: h.size })) : []));
          }}
        >
          <label>
            Path pattern
            <input type="search" value={glob} onChange={(e) => setGlob(e.target.value)} placeholder="*/invoices/*.pdf" />
          </label>
          <button type="submit" className="secondary" disabled={!glob}>Find</button>
        </form>
        {hits && (
          <ul>
            {hits.slice(0, 200).map((h) => (
              <li key={`${h.setKey}:${h.path}`} className="mono">{h.path} — {h.setKey} ({formatBytes(h.size)})</li>
            ))}
            {hits.length === 0 && <li className="muted">No indexed file matches.</li>}
          </ul>
        )}
      </article>
    </section>
  );
}
