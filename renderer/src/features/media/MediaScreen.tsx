import { useState } from 'react';
import type { WireError } from '../../../../shared/errors';
import { formatBytes } from '../../../../shared/format';
import { CliCommand, JobProgress } from '../../components/JobProgress';
import { ErrorBox } from '../../components/ErrorBox';
import { getApi } from '../../lib/api';
import { useJob } from '../../lib/use-job';
import { useResult } from '../../lib/use-result';

interface ScanResult {
  sets?: { total: number; new: number; missing: number };
  unreadable?: Array<{ path: string; reason: string }>;
  hints?: string[];
}

/** Media: add a folder (a path here; the app's folder picker fills the same field) or an S3 location, scan it, see what each holds. */
export function MediaScreen(): React.JSX.Element {
  const api = getApi();
  const [media, reload] = useResult(() => api.listMedia({}));
  const [location, setLocation] = useState('');
  const [error, setError] = useState<WireError | null>(null);
  const { job, track } = useJob(null, () => reload());
  const scan = async (loc: string): Promise<void> => {
    setError(null);
    const r = await api.startScan({ location: loc.trim() });
    if (r.ok) track(r.value);
    else setError(r.error);
  };
  const result = (job?.status === 'succeeded' ? job.result : null) as ScanResult | null;
  return (
    <section aria-labelledby="screen-title">
      <h1 id="screen-title">Media</h1>
      <article className="card">
        <h2>Add or rescan a medium</h2>
        <form
          className="form"
          onSubmit={(e) => {
            e.preventDefault();
            void scan(location);
          }}
        >
          <label>
            Folder path or S3 location
            <input type="text" data-testid="medium-location" value={location} onChange={(e) => setLocation(e.target.value)} placeholder="/media/usb-1  or  s3://bucket/prefix" required />
          </label>
          <div className="row">
            <button type="submit" className="primary" data-testid="scan" disabled={!location.trim() || job?.status === 'running'}>
              Scan
            </button>
            <CliCommand command={`lifeboat scan ${location.trim() || '<folder | s3://bucket/prefix>'}`} />
          </div>
        </form>
        {error && <ErrorBox error={error} />}
        {job && <JobProgress job={job} label="Scan" />}
        {result && (
          <p data-testid="scan-result">
            Scan finished: {result.sets?.total ?? 0} sets on the medium ({result.sets?.new ?? 0} new{result.sets?.missing ? `, ${result.sets.missing} missing since the last scan` : ''}).
            {result.unreadable?.map((u) => (
              <span key={u.path} className="hint"> Unreadable: {u.path} — {u.reason}.</span>
            ))}
            {result.hints?.map((h) => (
              <span key={h} className="hint"> {h}</span>
            ))}
          </p>
        )}
      </article>
      <article className="card wide">
        <h2>Known media</h2>
        {media.state === 'error' && <ErrorBox error={media.error} />}
        {media.state === 'ready' && media.value.length === 0 && <p className="muted">No medium yet: add a folder or an S3 location above.</p>}
        {media.state === 'ready' && media.value.length > 0 && (
          <table className="table" data-testid="media-table">
            <thead>
              <tr>
                <th scope="col">Label</th>
                <th scope="col">Kind</th>
                <th scope="col">Location</th>
                <th scope="col">Sets</th>
                <th scope="col">Bytes</th>
                <th scope="col">Last scan</th>
                <th scope="col"><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {media.value.map((m) => (
                <tr key={m.id}>
                  <td>{m.label ?? <span className="muted">(no label)</span>}</td>
                  <td>{m.kind}</td>
                  <td className="mono">{m.location}</td>
                  <td>{m.sets}</td>
                  <td>{formatBytes(m.bytes)}</td>
                  <td>{m.lastSync ?? 'never'}{m.lastError ? <span className="status status-red"> {m.lastError}</span> : null}</td>
                  <td>
                    <button type="button" className="secondary" onClick={() => void scan(m.location)} disabled={job?.status === 'running'}>
                      Rescan
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </article>
    </section>
  );
}
