import { useState } from 'react';
import { CREDENTIAL_KINDS } from '../../../../shared/domain/settings';
import type { WireError } from '../../../../shared/errors';
import { ErrorBox } from '../../components/ErrorBox';
import { getApi } from '../../lib/api';
import { useResult } from '../../lib/use-result';

const KIND_TEXT: Record<(typeof CREDENTIAL_KINDS)[number], string> = {
  pg: 'PostgreSQL target (password)',
  s3: 'S3 keys (access key id + secret key)',
  age: 'age identity (AGE-SECRET-KEY-1…)',
  signing: 'signing key (PEM)',
};

/** Credentials in the OS keychain: the window only ever sees references and whether a secret exists. */
export function CredentialsScreen(): React.JSX.Element {
  const api = getApi();
  const [view, reload] = useResult(() => api.listCredentials({}));
  const [kind, setKind] = useState<(typeof CREDENTIAL_KINDS)[number]>('pg');
  const [id, setId] = useState('');
  const [url, setUrl] = useState('');
  const [accessKeyId, setAccessKeyId] = useState('');
  const [secret, setSecret] = useState('');
  const [error, setError] = useState<WireError | null>(null);
  const [tests, setTests] = useState<Record<string, { ok: boolean; detail: string }>>({});
  const save = async (): Promise<void> => {
    setError(null);
    const r = await api.saveCredential({ account: `${kind}:${id.trim()}`, secret, url: kind === 'pg' ? url.trim() : undefined, accessKeyId: kind === 's3' ? accessKeyId.trim() : undefined });
    setSecret('');
    if (r.ok) {
      setId('');
      setUrl('');
      setAccessKeyId('');
      reload();
    } else setError(r.error);
  };
  return (
    <section aria-labelledby="screen-title">
      <h1 id="screen-title">Credentials</h1>
      {view.state === 'error' && <ErrorBox error={view.error} />}
      {view.state === 'ready' && view.value.keychain.state !== 'available' && (
        <div className="error" role="alert" data-testid="keychain-problem">
          <strong>The OS keychain is {view.value.keychain.state}.</strong>
          <p>{view.value.keychain.detail}</p>
          {view.value.keychain.hint && <p>{view.value.keychain.hint}</p>}
        </div>
      )}
      <article className="card">
        <h2>Add a credential</h2>
        <form
          className="form"
          onSubmit={(e) => {
            e.preventDefault();
            void save();
          }}
        >
          <div className="row">
            <label>
              Kind
              <select value={kind} onChange={(e) => setKind(e.target.value as typeof kind)} data-testid="cred-kind">
                {CREDENTIAL_KINDS.map((k) => (
                  <option key={k} value={k}>{KIND_TEXT[k]}</option>
                ))}
              </select>
            </label>
            <label>
              Name
              <input type="text" value={id} onChange={(e) => setId(e.target.value)} data-testid="cred-id" required pattern="[A-Za-z0-9._\-]{1,120}" placeholder="prod-db" />
            </label>
          </div>
          {kind === 'pg' && (
            <label>
              Target URL (no password)
              <input type="text" value={url} onChange={(e) => setUrl(e.target.value)} data-testid="cred-url" required placeholder="postgres://user@host:5432/postgres" />
            </label>
          )}
          {kind === 's3' && (
            <label>
              Access key id
              <input type="text" value={accessKeyId} onChange={(e) => setAccessKeyId(e.target.value)} data-testid="cred-access-key" required autoComplete="off" placeholder="AKIA…" />
            </label>
          )}
          <label>
            {kind === 's3' ? 'Secret access key' : 'Secret'}
            {kind === 'pg' || kind === 's3' ? (
              <input type="password" value={secret} onChange={(e) => setSecret(e.target.value)} data-testid="cred-secret" required autoComplete="off" />
            ) : (
              <textarea value={secret} onChange={(e) => setSecret(e.target.value)} data-testid="cred-secret" required rows={4} />
            )}
          </label>
          <div className="row">
            <button type="submit" className="primary" data-testid="cred-save" disabled={!id.trim() || !secret}>
              Save to the keychain
            </button>
          </div>
        </form>
        {error && <ErrorBox error={error} />}
      </article>
      <article className="card wide">
        <h2>Stored</h2>
        {view.state === 'ready' && view.value.credentials.length === 0 && <p className="muted">No credential stored yet.</p>}
        {view.state === 'ready' && view.value.credentials.length > 0 && (
          <table className="table" data-testid="cred-table">
            <thead>
              <tr><th scope="col">Reference</th><th scope="col">Kind</th><th scope="col">Target</th><th scope="col">Test</th><th scope="col"><span className="sr-only">Actions</span></th></tr>
            </thead>
            <tbody>
              {view.value.credentials.map((c) => (
                <tr key={c.account} data-testid="cred-row">
                  <td className="mono">{c.account}</td>
                  <td>{KIND_TEXT[c.kind]}</td>
                  <td className="mono">{c.url ?? (c.accessKeyId ? `key id ${c.accessKeyId}` : '')}</td>
                  <td data-testid="cred-test-result">
                    {tests[c.account] ? <span className={`status status-${tests[c.account]!.ok ? 'green' : 'red'}`}>{tests[c.account]!.detail}</span> : <span className="muted">secret stored</span>}
                  </td>
                  <td>
                    <button type="button" className="secondary" data-testid="cred-test" onClick={() => void api.testCredential({ account: c.account }).then((r) => r.ok && setTests({ ...tests, [c.account]: r.value }))}>
                      {c.kind === 'pg' ? 'Connect' : 'Test'}
                    </button>{' '}
                    <button type="button" className="danger" onClick={() => void api.deleteCredential({ account: c.account }).then(() => reload())}>
                      Remove
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
