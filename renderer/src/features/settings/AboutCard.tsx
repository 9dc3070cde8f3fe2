import { useEffect, useState } from 'react';
import type { JobSnapshot } from '../../../../shared/domain/jobs';
import type { WireError } from '../../../../shared/errors';
import { ErrorBox } from '../../components/ErrorBox';
import { CliCommand } from '../../components/JobProgress';
import { getApi } from '../../lib/api';
import { useResult } from '../../lib/use-result';

/** Settings → About: the engine (version, runtime, paths), the catalog, the keychain, the tools and the self-check. */
export function AboutCard(): React.JSX.Element {
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
    <article className="card wide" aria-labelledby="about-title" data-testid="about">
      <h2 id="about-title">About</h2>
      <div className="cards">
        <div>
          <h3>Engine</h3>
          {info.state === 'error' && <ErrorBox error={info.error} />}
          {info.state === 'ready' && (
            <dl className="facts">
              <dt>Version</dt>
              <dd data-testid="app-version">{info.value.version}</dd>
              <dt>Data directory</dt>
              <dd data-testid="data-dir" className="mono">
                {info.value.dataDir}
              </dd>
              <dt>Catalog</dt>
              <dd className="mono">{info.value.catalogPath}</dd>
              <dt>Runtime</dt>
              <dd>
                {info.value.electronVersion ? `Electron ${info.value.electronVersion}, ` : ''}Node{' '}
                {info.value.nodeVersion} on {info.value.platform}/{info.value.arch}
                {info.value.frontDoor === 'bridge' && <span className="tag">web bridge (development)</span>}
              </dd>
            </dl>
          )}
        </div>
        <div>
          <h3>Catalog</h3>
          {overview.state === 'error' && <ErrorBox error={overview.error} />}
          {overview.state === 'ready' && (
            <>
              <ul className="counts" data-testid="catalog-counts">
                <li>
                  <span className="count" data-testid="count-media">
                    {overview.value.catalog.media}
                  </span>{' '}
                  media
                </li>
                <li>
                  <span className="count" data-testid="count-systems">
                    {overview.value.catalog.systems}
                  </span>{' '}
                  systems
                </li>
                <li>
                  <span className="count" data-testid="count-sets">
                    {overview.value.catalog.sets}
                  </span>{' '}
                  sets
                </li>
                <li>
                  <span className="count" data-testid="count-verifications">
                    {overview.value.catalog.verifications}
                  </span>{' '}
                  verifications
                </li>
                <li>
                  <span className="count" data-testid="count-runs">
                    {overview.value.catalog.runs}
                  </span>{' '}
                  runs
                </li>
              </ul>
              <p className="muted">Catalog schema version {overview.value.catalogSchemaVersion}.</p>
            </>
          )}
        </div>
        <div>
          <h3>Keychain</h3>
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
        </div>
      </div>
      <h3>Tools</h3>
      {tools.state === 'error' && <ErrorBox error={tools.error} />}
      {tools.state === 'ready' && (
        <div className="table-wrap">
          <table className="table" data-testid="tools-table">
            <thead>
              <tr>
                <th scope="col">Tool</th>
                <th scope="col">Used for</th>
                <th scope="col">Found</th>
                <th scope="col">Path</th>
              </tr>
            </thead>
            <tbody>
              {tools.value.map((t) => (
                <tr key={t.name}>
                  <td className="mono nowrap">{t.name}</td>
                  <td>
                    {t.purpose}
                    {t.only ? ` (only for ${t.only})` : ''}
                  </td>
                  <td>
                    {t.only && !t.path ? (
                      <span className="status">not installed</span>
                    ) : t.problem ? (
                      <span className="status status-red">missing</span>
                    ) : (
                      <span className="mono">{t.version}</span>
                    )}
                  </td>
                  <td className="mono">{t.path ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div className="actions">
        <button
          type="button"
          data-testid="self-check"
          onClick={() => void startSelfCheck()}
          disabled={job?.status === 'running'}
        >
          Run self-check
        </button>
        {job && (
          <span data-testid="self-check-status" data-status={job.status} role="status">
            {job.status === 'running'
              ? `Checking: ${job.step ?? 'starting'} (${job.counters.itemsDone}/${job.counters.itemsTotal ?? '?'})`
              : `Self-check ${job.status}`}
          </span>
        )}
        <CliCommand args={['lifeboat', 'doctor']} />
      </div>
      {startError && <ErrorBox error={startError} />}
    </article>
  );
}
