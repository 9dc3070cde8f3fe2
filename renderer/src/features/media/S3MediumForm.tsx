import { useEffect, useId, useState } from 'react';
import type { S3MediumSettings } from '../../../../shared/domain/settings';
import type { WireError } from '../../../../shared/errors';
import { ConfirmButton } from '../../components/Confirm';
import { CliCommand } from '../../components/JobProgress';
import { ErrorBox } from '../../components/ErrorBox';
import { getApi } from '../../lib/api';
import { setHashParams } from '../../lib/hash';
import { useFocusOnChange } from '../../lib/use-focus';
import { useResult } from '../../lib/use-result';

export interface S3Draft {
  endpoint: string;
  bucket: string;
  prefix: string;
  region: string;
  credential: string;
}

const EMPTY: S3Draft = { endpoint: '', bucket: '', prefix: '', region: '', credential: '' };

/**
 * The S3 medium form: endpoint, bucket, prefix, region and the keychain reference of its keys, saved in settings, then
 * scanned. A known S3 medium (a broken one too) can be opened here to fix its endpoint or keys.
 */
export function S3MediumForm({
  onScan,
  edit,
  onEditDone,
}: {
  onScan: (location: string) => Promise<void>;
  edit: S3Draft | null;
  onEditDone: () => void;
}): React.JSX.Element {
  const api = getApi();
  const [settings, reload] = useResult(() => api.getSettings({}));
  const [creds] = useResult(() => api.listCredentials({}));
  const [form, setForm] = useState<S3Draft>(EMPTY);
  const [editing, setEditing] = useState<string | null>(null);
  const [error, setError] = useState<WireError | null>(null);
  const id = useId();
  const heading = useFocusOnChange<HTMLHeadingElement>(editing);
  const location = `s3://${form.bucket.trim()}${form.prefix.trim() ? `/${form.prefix.trim().replace(/^\/+|\/+$/g, '')}` : ''}`;
  const saved = settings.state === 'ready' ? settings.value.s3Media : [];
  // Opening a medium to edit: its saved endpoint, region and keys, when it has any. Adjusted while rendering (not in an
  // effect) so the form never shows a frame of the old draft; each Edit click hands a new `edit` object.
  const [openedEdit, setOpenedEdit] = useState<S3Draft | null>(null);
  if (edit !== openedEdit) {
    setOpenedEdit(edit);
    if (edit) {
      const loc = `s3://${edit.bucket}${edit.prefix ? `/${edit.prefix}` : ''}`;
      const s = saved.find((m) => m.location === loc);
      setForm({
        ...edit,
        endpoint: s?.endpoint ?? edit.endpoint,
        region: s?.region ?? edit.region,
        credential: s?.credential ?? edit.credential,
      });
      setEditing(loc);
      setError(null);
    }
  }
  // The parent's `edit` is a one-shot request: hand it back once taken, so the same medium can be opened again.
  useEffect(() => {
    if (edit) onEditDone();
  }, [edit, onEditDone]);
  const s3Keys = creds.state === 'ready' ? creds.value.credentials.filter((c) => c.kind === 's3') : [];
  const why = !form.bucket.trim()
    ? 'Give the bucket name first.'
    : form.endpoint.trim() && !/^https?:\/\/[^\s/]+/.test(form.endpoint.trim())
      ? 'The endpoint must start with http:// or https://.'
      : null;
  const save = async (): Promise<void> => {
    setError(null);
    const r = await api.saveS3Medium({
      location,
      endpoint: form.endpoint.trim(),
      region: form.region.trim(),
      credential: form.credential,
    });
    if (!r.ok) return setError(r.error);
    reload();
    setEditing(null);
    await onScan(location);
  };
  const field = (name: keyof S3Draft, label: string, placeholder: string, required = false): React.JSX.Element => (
    <label>
      {label}
      <input
        type="text"
        value={form[name]}
        onChange={(e) => setForm({ ...form, [name]: e.target.value })}
        placeholder={placeholder}
        required={required}
        data-testid={`s3-${name}`}
      />
    </label>
  );
  const env = [
    form.endpoint.trim() && `AWS_ENDPOINT_URL=${form.endpoint.trim()}`,
    form.region.trim() && `AWS_REGION=${form.region.trim()}`,
  ].filter((x): x is string => Boolean(x));
  return (
    <article className="card" aria-labelledby={`${id}-title`} data-testid="s3-form">
      <h2 id={`${id}-title`} ref={heading} tabIndex={-1}>
        {editing ? `Edit ${editing}` : 'Add an S3 medium'}
      </h2>
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
          <select
            value={form.credential}
            onChange={(e) => setForm({ ...form, credential: e.target.value })}
            data-testid="s3-credential"
          >
            <option value="">standard AWS sources (environment, profile)</option>
            {s3Keys.map((c) => (
              <option key={c.account} value={c.account}>
                {c.account}
                {c.accessKeyId ? ` (${c.accessKeyId})` : ''}
              </option>
            ))}
          </select>
        </label>
        {s3Keys.length === 0 && (
          <p className="hint">
            No S3 keys in the keychain yet:{' '}
            <button type="button" className="link" onClick={() => setHashParams({ screen: 'credentials', run: null })}>
              add them on the Credentials screen
            </button>
            , or leave the standard AWS sources.
          </p>
        )}
        <div className="row">
          <button
            type="submit"
            className="primary"
            data-testid="s3-save"
            disabled={why !== null}
            aria-describedby={`${id}-why`}
          >
            Save and scan
          </button>
          <span id={`${id}-why`} className="muted small" data-testid="s3-why">
            {why ?? ''}
          </span>
          {editing && (
            <button
              type="button"
              className="secondary"
              onClick={() => {
                setEditing(null);
                setForm(EMPTY);
              }}
            >
              Stop editing {editing}
            </button>
          )}
        </div>
        <CliCommand args={[...env, 'lifeboat', 'scan', location]} />
      </form>
      {error && <ErrorBox error={error} />}
      {saved.length > 0 && (
        <div className="table-wrap">
          <table className="table" data-testid="s3-media">
            <thead>
              <tr>
                <th scope="col">Location</th>
                <th scope="col">Endpoint</th>
                <th scope="col">Keys</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {saved.map((m: S3MediumSettings) => (
                <tr key={m.location}>
                  <td className="mono">{m.location}</td>
                  <td className="mono">
                    {m.endpoint || 'AWS'}
                    {m.region ? ` (${m.region})` : ''}
                  </td>
                  <td className="mono">{m.credential || 'AWS sources'}</td>
                  <td>
                    <ConfirmButton
                      danger
                      label={`Forget the settings of ${m.location}`}
                      confirmLabel={`Yes, forget how to reach ${m.location}`}
                      message="The endpoint, region and key reference are forgotten; its sets stay in the catalog and its keys in the keychain."
                      onConfirm={() => api.removeS3Medium({ location: m.location }).then(() => reload())}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </article>
  );
}
