import { useState } from 'react';
import { CREDENTIAL_KINDS } from '../../../../shared/domain/settings';
import type { WireError } from '../../../../shared/errors';
import { ConfirmButton } from '../../components/Confirm';
import { ErrorBox } from '../../components/ErrorBox';
import { getApi } from '../../lib/api';
import { useResult } from '../../lib/use-result';
import { CopyButton, CreateAgeIdentity, CreateSigningKey, ExportKey, PinnedKeys } from './KeyCards';

const KIND_TEXT: Record<(typeof CREDENTIAL_KINDS)[number], string> = {
  pg: 'PostgreSQL target (password)',
  s3: 'S3 keys (access key id + secret key)',
  azure: 'Azure Blob key (account key, SAS token or connection string)',
  age: 'age identity (AGE-SECRET-KEY-1…)',
  signing: 'signing key (PEM)',
};

/** Credentials in the OS keychain: the window only ever sees references and whether a secret exists. */
export function CredentialsScreen(): React.JSX.Element {
  const api = getApi();
  const [view, reload] = useResult(() => api.listCredentials({}));
  const [settings, reloadSettings] = useResult(() => api.getSettings({}));
  const [exporting, setExporting] = useState<string | null>(null);
  const keychainWhy =
    view.state === 'ready' && view.value.keychain.state !== 'available'
      ? `The OS keychain is ${view.value.keychain.state}.`
      : view.state !== 'ready'
        ? 'Waiting for the keychain.'
        : null;
  const changed = (): void => {
    reload();
    reloadSettings();
  };
  const [kind, setKind] = useState<(typeof CREDENTIAL_KINDS)[number]>('pg');
  const [id, setId] = useState('');
  const [url, setUrl] = useState('');
  const [accessKeyId, setAccessKeyId] = useState('');
  const [secret, setSecret] = useState('');
  const [error, setError] = useState<WireError | null>(null);
  const [tests, setTests] = useState<Record<string, { ok: boolean; detail: string }>>({});
  const save = async (): Promise<void> => {
    setError(null);
    const r = await api.saveCredential({
      account: `${kind}:${id.trim()}`,
      secret,
      url: kind === 'pg' ? url.trim() : undefined,
      accessKeyId: kind === 's3' || kind === 'azure' ? accessKeyId.trim() : undefined,
    });
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
                  <option key={k} value={k}>
                    {KIND_TEXT[k]}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Name
              <input
                type="text"
                value={id}
                onChange={(e) => setId(e.target.value)}
                data-testid="cred-id"
                required
                pattern="[A-Za-z0-9._\-]{1,120}"
                placeholder="prod-db"
              />
            </label>
          </div>
          {kind === 'pg' && (
            <label>
              Target URL (no password)
              <input
                type="text"
                value={url}
                onChange={(e) => setUrl(e.target.value)}
                data-testid="cred-url"
                required
                placeholder="postgres://user@host:5432/postgres"
              />
            </label>
          )}
          {kind === 's3' && (
            <label>
              Access key id
              <input
                type="text"
                value={accessKeyId}
                onChange={(e) => setAccessKeyId(e.target.value)}
                data-testid="cred-access-key"
                required
                autoComplete="off"
                placeholder="AKIA…"
              />
            </label>
          )}
          {kind === 'azure' && (
            <label>
              Storage account (empty for a connection string)
              <input
                type="text"
                value={accessKeyId}
                onChange={(e) => setAccessKeyId(e.target.value)}
                data-testid="cred-azure-account"
                autoComplete="off"
                pattern="[a-z0-9]{3,24}"
                placeholder="drbackups"
              />
            </label>
          )}
          <label>
            {kind === 's3'
              ? 'Secret access key'
              : kind === 'azure'
                ? 'Account key, SAS token or connection string'
                : 'Secret'}
            {kind === 'pg' || kind === 's3' || kind === 'azure' ? (
              <input
                type="password"
                value={secret}
                onChange={(e) => setSecret(e.target.value)}
                data-testid="cred-secret"
                required
                autoComplete="off"
              />
            ) : (
              <textarea
                value={secret}
                onChange={(e) => setSecret(e.target.value)}
                data-testid="cred-secret"
                required
                rows={4}
              />
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
        {view.state === 'ready' && view.value.credentials.length === 0 && (
          <p className="muted">No credential stored yet.</p>
        )}
        {view.state === 'ready' && view.value.credentials.length > 0 && (
          <table className="table" data-testid="cred-table">
            <thead>
              <tr>
                <th scope="col">Reference</th>
                <th scope="col">Kind</th>
                <th scope="col">Target or public key</th>
                <th scope="col">Test</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {view.value.credentials.map((c) => (
                <tr key={c.account} data-testid="cred-row" data-account={c.account}>
                  <td className="mono">{c.account}</td>
                  <td>{KIND_TEXT[c.kind]}</td>
                  <td>
                    {c.kind === 'age' && c.publicKey ? (
                      <>
                        <span className="mono keys-public" data-testid="cred-recipient">
                          {c.publicKey}
                        </span>{' '}
                        <CopyButton text={c.publicKey} what={`the recipient of ${c.account}`} />
                        <div className="muted">key id {c.keyId}</div>
                      </>
                    ) : c.kind === 'signing' && c.keyId ? (
                      <>
                        <span className="mono">key id {c.keyId}</span>{' '}
                        {c.pinned ? (
                          <span className="status status-green">pinned</span>
                        ) : (
                          <span className="status status-amber">not pinned here</span>
                        )}{' '}
                        {c.publicKey && <CopyButton text={c.publicKey} what={`the public key of ${c.account}`} />}
                      </>
                    ) : c.problem ? (
                      <span className="status status-red">{c.problem}</span>
                    ) : (
                      <span className="mono">
                        {c.url ??
                          (c.accessKeyId ? `${c.kind === 'azure' ? 'account' : 'key id'} ${c.accessKeyId}` : '')}
                      </span>
                    )}
                  </td>
                  <td data-testid="cred-test-result">
                    {tests[c.account] ? (
                      <span className={`status status-${tests[c.account]!.ok ? 'green' : 'red'}`}>
                        {tests[c.account]!.detail}
                      </span>
                    ) : (
                      <span className="muted">secret stored</span>
                    )}
                  </td>
                  <td>
                    <button
                      type="button"
                      className="secondary"
                      data-testid="cred-test"
                      aria-label={`${c.kind === 'pg' ? 'Connect with' : 'Test'} ${c.account}`}
                      onClick={() =>
                        void api
                          .testCredential({ account: c.account })
                          .then((r) => r.ok && setTests({ ...tests, [c.account]: r.value }))
                      }
                    >
                      {c.kind === 'pg' ? 'Connect' : 'Test'}
                    </button>{' '}
                    {(c.kind === 'age' || c.kind === 'signing') && (
                      <button
                        type="button"
                        className="secondary"
                        aria-expanded={exporting === c.account}
                        aria-label={`Export ${c.account} for escrow`}
                        data-testid="cred-export"
                        onClick={() => setExporting(exporting === c.account ? null : c.account)}
                      >
                        Export
                      </button>
                    )}{' '}
                    <ConfirmButton
                      danger
                      label="Remove"
                      accessibleName={`Remove ${c.account}`}
                      testId="cred-remove"
                      confirmLabel={`Remove ${c.account}`}
                      message={
                        c.kind === 'age'
                          ? `Remove ${c.account} from the keychain? Sets encrypted to it can then only be read with another copy of this identity (an escrow export).`
                          : c.kind === 'signing'
                            ? `Remove ${c.account} from the keychain? Its pinned public key stays pinned; only this copy of the private key goes.`
                            : `Remove ${c.account} from the keychain?`
                      }
                      onConfirm={async () => {
                        await api.deleteCredential({ account: c.account });
                        reload();
                      }}
                    />
                    {exporting === c.account && (c.kind === 'age' || c.kind === 'signing') && (
                      <ExportKey account={c.account} kind={c.kind} />
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </article>
      <div className="cards">
        <CreateAgeIdentity disabledWhy={keychainWhy} onCreated={changed} />
        <CreateSigningKey disabledWhy={keychainWhy} onCreated={changed} />
        {settings.state === 'ready' && <PinnedKeys keys={settings.value.trustedKeys} onChanged={changed} />}
      </div>
    </section>
  );
}
