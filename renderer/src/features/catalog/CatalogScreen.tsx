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

function SetDetail({ setKey }: { setKey: string }): React.JSX.Element {
  const api = getApi();
  const [where] = useResult(() => api.whereIsSet({ set: setKey }));
  return (
    <article className="card" data-testid="set-detail">
      <h2>{setKey}</h2>
      {where.state === 'error' && <ErrorBox error={where.error} />}
      {where.state === 'ready' && (
        <table className="table">
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
      <CliCommand command={`lifeboat verify ${setKey.split('/')[1] ?? setKey} --level deep --identity <key file>`} />
      <CliCommand command={`lifeboat where ${setKey.split('/')[1] ?? setKey}`} />
    </article>
  );
}

/** The catalog: every set on every medium seen, filtered; a set's copies and verifications; file search. */
export function CatalogScreen(): React.JSX.Element {
  const api = getApi();
  const [system, setSystem] = useState('');
  const [kind, setKind] = useState('');
  const [verified, setVerified] = useState(false);
  const [selected, setSelected] = useState<string | null>(null);
  const [sets] = useResult(() => api.listSets({}));
  const [glob, setGlob] = useState('');
  const [hits, setHits] = useState<Array<{ setKey: string; path: string; size: number }> | null>(null);
  const rows = useMemo(
    () => (sets.state === 'ready' ? sets.value.filter((r) => (!system || r.system.includes(system)) && (!kind || r.kind === kind) && (!verified || r.verified)) : []),
    [sets, system, kind, verified],
  );
  const cli = ['lifeboat sets', system && `--system ${system}`, kind && `--kind ${kind}`, verified && '--verified'].filter(Boolean).join(' ');
  return (
    <section aria-labelledby="screen-title">
      <h1 id="screen-title">Catalog</h1>
      <div className="form">
        <div className="row">
          <label>
            System
            <input type="search" value={system} onChange={(e) => setSystem(e.target.value)} data-testid="filter-system" />
          </label>
          <label>
            Kind
            <select value={kind} onChange={(e) => setKind(e.target.value)} data-testid="filter-kind">
              <option value="">all</option>
              {SET_KINDS.map((k) => (
                <option key={k} value={k}>{k}</option>
              ))}
            </select>
          </label>
          <label className="row">
            <input type="checkbox" checked={verified} onChange={(e) => setVerified(e.target.checked)} /> verified only
          </label>
        </div>
        <CliCommand command={cli} />
      </div>
      {sets.state === 'error' && <ErrorBox error={sets.error} />}
      {sets.state === 'ready' && (
        <>
          <p className="muted" data-testid="sets-count">{rows.length} of {sets.value.length} sets</p>
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
