import { useEffect, useState } from 'react';
import type { S3MediumSettings } from '../../../../shared/domain/settings';
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
  /** Other tools' backups recognised and not read (catalog/scan.ts ScanSummary.findings). */
  findings?: Array<{ path: string; what: string; needs: string; blocking: boolean }>;
  hints?: string[];
}

/** The S3 medium form: endpoint, bucket, prefix, region and the keychain reference of its keys, saved in settings; then scanned. */
function S3MediumForm({ onScan }: { onScan: (location: string) => Promise<void> }): React.JSX.Element {
  const api = getApi();
  const [settings, reload] = useResult(() => api.getSettings({}));
  const [creds] = useResult(() => api.listCredentials({}));
  const [form, setForm] = useState({ endpoint: '', bucket: '', prefix: '', region: '', credential: '' });
  const [error, setError] = useState<WireError | null>(null);
  const location = `s3://${form.bucket.trim()}${form.prefix.trim() ? `/${form.prefix.trim().replace(/^\/+|\/+$/g, '')}` : ''}`;
  const s3Keys = creds.state === 'ready' ? creds.value.credentials.filter((c) => c.kind === 's3') : [];
  const save = async (): Promise<void> => {
    setError(null);
    const r = await api.saveS3Medium({ location, endpoint: form.endpoint.trim(), region: form.region.trim(), credential: form.credential });
    if (!r.ok) return setError(r.error);
    reload();
    await onScan(location);
  };
  const field = (name: keyof typeof form, label: string, placeholder: string, required = false): React.JSX.Element => (
    <label>
      {label}
      <input type="text" value={form[name]} onChange={(e) => setForm({ ...form, [name]: e.target.value })} placeholder={placeholder} required={required} data-testid={`s3-${name}`} />
    </label>
  );
  const env = [form.endpoint && `AWS_ENDPOINT_URL=${form.endpoint}`, form.region && `AWS_REGION=${form.region}`].filter(Boolean).join(' ');
  return (
    <article className="card">
      <h2>Add an S3 medium</h2>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <div className="row">
          {field('endpoint', 'Endpoint (empty: AWS)', 'https://s3.example.net:9000')}
          {field('region', 'Region', 'us-east-1')}
        </div>
        <div className="row">
          {field('bucket', 'Bucket', 'dr-backups', true)}
          {field('prefix', 'Prefix', 'prod')}
        </div>
        <label>
          Keys (from the keychain)
          <select value={form.credential} onChange={(e) => setForm({ ...form, credential: e.target.value })} data-testid="s3-credential">
            <option value="">standard AWS sources (environment, profile)</option>
            {s3Keys.map((c) => (
              <option key={c.account} value={c.account}>{c.account}{c.accessKeyId ? ` (${c.accessKeyId})` : ''}</option>
            ))}
          </select>
        </label>
        {s3Keys.length === 0 && <p className="hint">No S3 keys in the keychain yet: add them on the Credentials screen, or leave the standard AWS sources.</p>}
        <div className="row">
          <button type="submit" className="primary" data-testid="s3-save" disabled={!form.bucket.trim()}>Save and scan</button>
          <CliCommand command={`${env ? `${env} ` : ''}lifeboat scan ${location}`} />
        </div>
      </form>
      {error && <ErrorBox error={error} />}
      {settings.state === 'ready' && settings.value.s3Media.length > 0 && (
        <table className="table" data-testid="s3-media">
          <thead>
            <tr><th scope="col">Location</th><th scope="col">Endpoint</th><th scope="col">Keys</th><th scope="col"><span className="sr-only">Actions</span></th></tr>
          </thead>
          <tbody>
            {settings.value.s3Media.map((m: S3MediumSettings) => (
              <tr key={m.location}>
                <td className="mono">{m.location}</td>
                <td className="mono">{m.endpoint || 'AWS'}{m.region ? ` (${m.region})` : ''}</td>
                <td className="mono">{m.credential || 'AWS sources'}</td>
                <td>
                  <button type="button" className="danger" onClick={() => void api.removeS3Medium({ location: m.location }).then(() => reload())}>Forget</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </article>
  );
}

/** Media: add a folder (the app's folder picker, or a path typed here) or an S3 medium, scan it, see what each holds. */
export function MediaScreen(): React.JSX.Element {
  const api = getApi();
  const [media, reload] = useResult(() => api.listMedia({}));
  const [location, setLocation] = useState('');
  const [canPick, setCanPick] = useState(false);
  useEffect(() => {
    void api.getAppInfo({}).then((r) => setCanPick(r.ok && r.value.frontDoor === 'app'));
  }, [api]);
  const pick = async (): Promise<void> => {
    const r = await api.pickFolder({ title: 'Choose a backup medium (a folder or a mounted drive)' });
    if (r.ok && r.value.path) setLocation(r.value.path);
    else if (r.ok && !r.value.available) setCanPick(false);
  };
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
        <h2>Add or rescan a folder</h2>
        <form
          className="form"
          onSubmit={(e) => {
            e.preventDefault();
            void scan(location);
          }}
        >
          <label>
            Folder path (or an S3 location already set up)
            <input type="text" data-testid="medium-location" value={location} onChange={(e) => setLocation(e.target.value)} placeholder="/media/usb-1  or  s3://bucket/prefix" required />
          </label>
          <div className="row">
            {canPick && (
              <button type="button" className="secondary" onClick={() => void pick()} data-testid="pick-folder">
                Choose folder…
              </button>
            )}
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
            {result.findings?.map((f) => (
              <span key={`${f.path}:${f.what}`} className="hint" data-testid="scan-finding" data-blocking={f.blocking}>
                {' '}
                {f.blocking ? 'Needs' : 'Found'}: {f.what} — needs {f.needs}.
              </span>
            ))}
            {result.hints?.map((h) => (
              <span key={h} className="hint"> {h}</span>
            ))}
          </p>
        )}
      </article>
      <S3MediumForm onScan={scan} />
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
                <th scope="col">Last verification</th>
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
                  <td data-testid="medium-verified">
                    {m.lastVerifiedAt ?? <span className="hint">never verified</span>}
                    {m.failingSets > 0 && <span className="status status-red"> {m.failingSets} set(s) failing</span>}
                  </td>
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
