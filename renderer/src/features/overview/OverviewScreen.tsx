import { useEffect, useState } from 'react';
import type { JobSnapshot } from '../../../../shared/domain/jobs';
import type { WireError } from '../../../../shared/errors';
import { getApi } from '../../lib/api';
import { useResult } from '../../lib/use-result';
import { ErrorBox } from '../../components/ErrorBox';
import { setHashParams } from '../../lib/hash';

const STATUS_CLASS: Record<string, string> = { ok: 'green', late: 'red', unverified: 'amber', 'no-sets': 'red' };

/** Every system against its objectives, open runs to resume, the latest verdicts with failures first. */
function ObjectivesCard(): React.JSX.Element {
  const api = getApi();
  const [systems] = useResult(() => api.listSystems({}));
  const [runs] = useResult(() => api.listRuns({}));
  const [verifications] = useResult(() => api.recentVerifications({}));
  const open = runs.state === 'ready' ? runs.value.filter((r) => r.status !== 'succeeded' && r.status !== 'cancelled') : [];
  return (
    <>
      {open.length > 0 && (
        <article className="card wide" aria-labelledby="runs-title" data-testid="overview-open-runs">
          <h2 id="runs-title">Unfinished runs</h2>
          <ul>
            {open.map((r) => (
              <li key={r.id}>
                <strong>{r.title}</strong> {r.drill ? <span className="tag">drill</span> : <span className="status status-red">LIVE</span>} {r.status}
                {r.currentStep ? ` at ${r.currentStep}` : ''}{' '}
                <button type="button" className="secondary" onClick={() => setHashParams({ screen: 'runbooks', run: r.id })}>
                  Resume
                </button>
              </li>
            ))}
          </ul>
        </article>
      )}
      <article className="card wide" aria-labelledby="systems-title">
        <h2 id="systems-title">Systems against their objectives</h2>
        {systems.state === 'error' && <ErrorBox error={systems.error} />}
        {systems.state === 'ready' && systems.value.length === 0 && <p className="muted">No system yet: scan a medium (Media).</p>}
        {systems.state === 'ready' && systems.value.length > 0 && (
          <table className="table" data-testid="systems-table">
            <thead>
              <tr><th scope="col">System</th><th scope="col">Tier</th><th scope="col">Newest verified set</th><th scope="col">State</th></tr>
            </thead>
            <tbody>
              {systems.value.map((s) => (
                <tr key={s.system}>
                  <td>{s.system}</td>
                  <td>{s.tier ?? '—'}</td>
                  <td className="mono">{s.newestVerifiedSet?.createdAt ?? 'none'}</td>
                  <td>
                    <span className={`status status-${STATUS_CLASS[s.status] ?? 'amber'}`}>{s.status}</span> {s.reason}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </article>
      {verifications.state === 'ready' && verifications.value.length > 0 && (
        <article className="card wide" aria-labelledby="verifications-title">
          <h2 id="verifications-title">Recent verifications (failures first)</h2>
          <table className="table">
            <tbody>
              {verifications.value.slice(0, 10).map((v) => (
                <tr key={`${v.setKey}-${v.mediumId}-${v.at}`}>
                  <td className="mono">{v.setKey}</td>
                  <td>{v.level}</td>
                  <td><span className={`status status-${v.verdict === 'ok' ? 'green' : 'red'}`}>{v.verdict}</span> {v.detail ?? ''}</td>
                  <td>{v.at}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </article>
      )}
    </>
  );
}

export function OverviewScreen(): React.JSX.Element {
  const api = getApi();
  const [info] = useResult(() => api.getAppInfo({}));
  const [overview, reloadOverview] = useResult(() => api.getOverview({}));
  const [tools, reloadTools] = useResult(() => api.getToolStatus({}));
  const [job, setJob] = useState<JobSnapshot | null>(null);
  const [startError, setStartError] = useState<WireError | null>(null);

  useEffect(
    () =>
      api.onJobEvent((event) => {
        setJob((current) => (current && current.id === event.jobId ? event.snapshot : current));
        if (event.type === 'finished') {
          reloadOverview();
          reloadTools();
        }
      }),
    [api, reloadOverview, reloadTools],
  );

  const startSelfCheck = async (): Promise<void> => {
    setStartError(null);
    const r = await api.startSelfCheck({});
    if (r.ok) setJob(r.value);
    else setStartError(r.error);
  };

  return (
    <section aria-labelledby="screen-title">
      <h1 id="screen-title">Overview</h1>

      <div className="cards">
        <article className="card" aria-labelledby="engine-title">
          <h2 id="engine-title">Engine</h2>
          {info.state === 'loading' && <p>Loading…</p>}
          {info.state === 'error' && <ErrorBox error={info.error} />}
          {info.state === 'ready' && (
            <dl className="facts">
              <dt>Version</dt>
              <dd data-testid="app-version">{info.value.version}</dd>
              <dt>Data directory</dt>
              <dd data-testid="data-dir" className="mono">{info.value.dataDir}</dd>
              <dt>Runtime</dt>
              <dd>
                {info.value.electronVersion ? `Electron ${info.value.electronVersion}, ` : ''}Node {info.value.nodeVersion} on {info.value.platform}/{info.value.arch}
                {info.value.frontDoor === 'bridge' && <span className="tag">web bridge (development)</span>}
              </dd>
            </dl>
          )}
        </article>

        <article className="card" aria-labelledby="catalog-title">
          <h2 id="catalog-title">Catalog</h2>
          {overview.state === 'loading' && <p>Loading…</p>}
          {overview.state === 'error' && <ErrorBox error={overview.error} />}
          {overview.state === 'ready' && (
            <>
              <ul className="counts" data-testid="catalog-counts">
                <li><span className="count" data-testid="count-media">{overview.value.catalog.media}</span> media</li>
                <li><span className="count" data-testid="count-systems">{overview.value.catalog.systems}</span> systems</li>
                <li><span className="count" data-testid="count-sets">{overview.value.catalog.sets}</span> sets</li>
                <li><span className="count" data-testid="count-verifications">{overview.value.catalog.verifications}</span> verifications</li>
                <li><span className="count" data-testid="count-runs">{overview.value.catalog.runs}</span> runs</li>
              </ul>
              {overview.value.catalog.sets === 0 && <p className="muted">No backup sets known yet. Add a medium to scan it.</p>}
              <p className="muted">Catalog schema version {overview.value.catalogSchemaVersion}.</p>
            </>
          )}
        </article>

        <article className="card" aria-labelledby="keychain-title">
          <h2 id="keychain-title">Keychain</h2>
          {overview.state === 'ready' && (
            <div data-testid="keychain-status" data-state={overview.value.keychain.state}>
              <p>
                <span className={`status status-${overview.value.keychain.state === 'available' ? 'green' : 'red'}`}>
                  {overview.value.keychain.state}
                </span>{' '}
                {overview.value.keychain.backend}
              </p>
              <p className="muted">{overview.value.keychain.detail}</p>
              {overview.value.keychain.hint && <p className="hint">{overview.value.keychain.hint}</p>}
            </div>
          )}
        </article>
      </div>

      <ObjectivesCard />

      <article className="card wide" aria-labelledby="tools-title">
        <h2 id="tools-title">Tools</h2>
        {tools.state === 'error' && <ErrorBox error={tools.error} />}
        {tools.state === 'ready' && (
          <table className="table" data-testid="tools-table">
            <thead>
              <tr><th scope="col">Tool</th><th scope="col">Used for</th><th scope="col">Found</th></tr>
            </thead>
            <tbody>
              {tools.value.map((t) => (
                <tr key={t.name}>
                  <td className="mono">{t.name}</td>
                  <td>{t.purpose}</td>
                  <td>{t.problem ? <span className="status status-red">missing</span> : <span className="mono">{t.version}</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <div className="actions">
          <button type="button" data-testid="self-check" onClick={() => void startSelfCheck()} disabled={job?.status === 'running'}>
            Run self-check
          </button>
          {job && (
            <span data-testid="self-check-status" data-status={job.status} role="status">
              {job.status === 'running' ? `Checking: ${job.step ?? 'starting'} (${job.counters.itemsDone}/${job.counters.itemsTotal ?? '?'})` : `Self-check ${job.status}`}
            </span>
          )}
          <span className="cli-hint">CLI: <code>lifeboat doctor</code></span>
        </div>
        {startError && <ErrorBox error={startError} />}
      </article>
    </section>
  );
}
