import { useId, useState } from 'react';
import type { AzureMediumSettings } from '../../../../shared/domain/settings';
import type { WireError } from '../../../../shared/errors';
import { ConfirmButton } from '../../components/Confirm';
import { CliCommand } from '../../components/JobProgress';
import { ErrorBox } from '../../components/ErrorBox';
import { getApi } from '../../lib/api';
import { setHashParams } from '../../lib/hash';
import { useResult } from '../../lib/use-result';

interface AzureDraft {
  endpoint: string;
  container: string;
  prefix: string;
  credential: string;
}

const EMPTY: AzureDraft = { endpoint: '', container: '', prefix: '', credential: '' };

/** The Azure Blob medium form: container, prefix, endpoint and the keychain reference of its key, saved in settings, then scanned. */
export function AzureMediumForm({ onScan }: { onScan: (location: string) => Promise<void> }): React.JSX.Element {
  const api = getApi();
  const [settings, reload] = useResult(() => api.getSettings({}));
  const [creds] = useResult(() => api.listCredentials({}));
  const [form, setForm] = useState<AzureDraft>(EMPTY);
  const [error, setError] = useState<WireError | null>(null);
  const id = useId();
  const prefix = form.prefix.trim().replace(/^\/+|\/+$/g, '');
  const location = `azure://${form.container.trim()}${prefix ? `/${prefix}` : ''}`;
  const saved = settings.state === 'ready' ? settings.value.azureMedia : [];
  const keys = creds.state === 'ready' ? creds.value.credentials.filter((c) => c.kind === 'azure') : [];
  const why = !form.container.trim()
    ? 'Give the container name first.'
    : !/^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$/.test(form.container.trim())
      ? 'Container names are 3-63 lower-case letters, digits and single hyphens.'
      : form.endpoint.trim() && !/^https?:\/\/[^\s/?#]+/.test(form.endpoint.trim())
        ? 'The endpoint must start with http:// or https://.'
        : null;
  const save = async (): Promise<void> => {
    setError(null);
    const r = await api.saveAzureMedium({ location, endpoint: form.endpoint.trim(), credential: form.credential });
    if (!r.ok) return setError(r.error);
    reload();
    setForm(EMPTY);
    await onScan(location);
  };
  const field = (name: keyof AzureDraft, label: string, placeholder: string, required = false): React.JSX.Element => (
    <label>
      {label}
      <input
        type="text"
        value={form[name]}
        onChange={(e) => setForm({ ...form, [name]: e.target.value })}
        placeholder={placeholder}
        required={required}
        data-testid={`azure-${name}`}
      />
    </label>
  );
  return (
    <article className="card" aria-labelledby={`${id}-title`} data-testid="azure-form">
      <h2 id={`${id}-title`}>Add an Azure Blob medium</h2>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <div className="row">
          {field('container', 'Container', 'dr-backups', true)}
          {field('prefix', 'Prefix', 'prod')}
        </div>
        {field('endpoint', "Blob endpoint (empty: the account's own)", 'https://acct.blob.core.usgovcloudapi.net')}
        <label>
          Key (from the keychain)
          <select
            value={form.credential}
            onChange={(e) => setForm({ ...form, credential: e.target.value })}
            data-testid="azure-credential"
          >
            <option value="">AZURE_STORAGE_* variables</option>
            {keys.map((c) => (
              <option key={c.account} value={c.account}>
                {c.account}
                {c.accessKeyId ? ` (${c.accessKeyId})` : ''}
              </option>
            ))}
          </select>
        </label>
        {keys.length === 0 && (
          <p className="hint">
            No Azure key in the keychain yet:{' '}
            <button type="button" className="link" onClick={() => setHashParams({ screen: 'credentials', run: null })}>
              add one on the Credentials screen
            </button>
            .
          </p>
        )}
        <div className="row">
          <button
            type="submit"
            className="primary"
            data-testid="azure-save"
            disabled={why !== null}
            aria-describedby={`${id}-why`}
          >
            Save and scan
          </button>
          <span id={`${id}-why`} className="muted small">
            {why ?? ''}
          </span>
        </div>
        <CliCommand
          args={[
            ...(form.endpoint.trim() ? [`AZURE_STORAGE_BLOB_ENDPOINT=${form.endpoint.trim()}`] : []),
            'lifeboat',
            'scan',
            location,
          ]}
        />
      </form>
      {error && <ErrorBox error={error} />}
      {saved.length > 0 && (
        <div className="table-wrap">
          <table className="table" data-testid="azure-media">
            <thead>
              <tr>
                <th scope="col">Location</th>
                <th scope="col">Endpoint</th>
                <th scope="col">Key</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {saved.map((m: AzureMediumSettings) => (
                <tr key={m.location}>
                  <td className="mono">{m.location}</td>
                  <td className="mono">{m.endpoint || 'the account’s own'}</td>
                  <td className="mono">{m.credential || 'AZURE_STORAGE_* variables'}</td>
                  <td>
                    <ConfirmButton
                      danger
                      label={`Forget the settings of ${m.location}`}
                      confirmLabel={`Yes, forget how to reach ${m.location}`}
                      message="The endpoint and key reference are forgotten; its sets stay in the catalog and its key in the keychain."
                      onConfirm={() => api.removeAzureMedium({ location: m.location }).then(() => reload())}
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
