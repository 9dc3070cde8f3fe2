import { useState } from 'react';
import type { JobSnapshot } from '../../../shared/domain/jobs';
import type { WireError } from '../../../shared/errors';
import { getApi } from '../lib/api';
import { setHashParams } from '../lib/hash';
import { useResult } from '../lib/use-result';
import { ErrorBox } from './ErrorBox';

/** The age identities in the keychain, by reference and key id (the engine uses every one of them by default). */
export function KeychainKeys(): React.JSX.Element {
  const [creds] = useResult(() => getApi().listCredentials({}));
  if (creds.state === 'loading') return <p className="muted">Looking for age identities in the keychain…</p>;
  if (creds.state === 'error') return <ErrorBox error={creds.error} />;
  const keys = creds.value.credentials.filter((c) => c.kind === 'age' && c.keyId);
  if (keys.length === 0)
    return (
      <p className="hint" data-testid="keychain-keys" data-keys="0">
        No age identity is in the keychain.
      </p>
    );
  return (
    <p className="muted" data-testid="keychain-keys" data-keys={keys.length}>
      Keys used by default: {keys.map((k) => `${k.account} (key ${k.keyId})`).join(', ')}.
    </p>
  );
}

/** A step that needs a key it does not have fails naming it (CREDENTIAL_UNAVAILABLE, or decryption without a key). */
export function wantsKey(error: WireError | null | undefined): boolean {
  return !!error && (error.code === 'CREDENTIAL_UNAVAILABLE' || /age identity|no identity/i.test(error.message));
}

/**
 * "Give a key and retry" for a run's step that failed for want of an age identity: save the key on Credentials (the
 * engine reads the keychain again on every retry) or name an identity file, then retry the step.
 */
export function GiveKeyAndRetry({
  runId,
  error,
  onStarted,
}: {
  runId: string;
  error: WireError | null | undefined;
  onStarted: (job: JobSnapshot) => void;
}): React.JSX.Element | null {
  const api = getApi();
  const [file, setFile] = useState('');
  const [failure, setFailure] = useState<WireError | null>(null);
  if (!wantsKey(error)) return null;
  const retry = async (files: string[]): Promise<void> => {
    setFailure(null);
    const r = await api.advanceRun({ id: runId, identityFiles: files });
    if (r.ok) onStarted(r.value);
    else setFailure(r.error);
  };
  return (
    <form
      className="form card"
      aria-labelledby="give-key-title"
      data-testid="give-key"
      onSubmit={(e) => {
        e.preventDefault();
        void retry(file.trim() ? [file.trim()] : []);
      }}
    >
      <h2 id="give-key-title">Give a key and retry</h2>
      <KeychainKeys />
      <div className="row">
        <button type="button" className="secondary" onClick={() => setHashParams({ screen: 'credentials', job: null })}>
          Add the identity on Credentials
        </button>
      </div>
      <div className="row">
        <label>
          Or an age identity file
          <input
            type="text"
            value={file}
            onChange={(e) => setFile(e.target.value)}
            placeholder="/media/escrow/laptop.age"
            data-testid="give-key-file"
          />
        </label>
        <button type="submit" className="primary" data-testid="give-key-retry">
          {file.trim() ? 'Retry the step with this key' : 'Retry the step with the keychain'}
        </button>
      </div>
      {failure && <ErrorBox error={failure} />}
    </form>
  );
}
