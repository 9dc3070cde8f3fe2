import { useRef, useState } from 'react';
import type { WireError } from '../../../../shared/errors';
import { formatTimeWithAge } from '../../../../shared/format';
import { ConfirmButton } from '../../components/Confirm';
import { ErrorBox } from '../../components/ErrorBox';
import { getApi } from '../../lib/api';

const NAME = /^[A-Za-z0-9._-]{1,120}$/;

/** Copy a public value (recipient, public key); never a secret, which the window never has. */
export function CopyButton({ text, what }: { text: string; what: string }): React.JSX.Element {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      className="secondary"
      aria-label={`Copy ${what}`}
      onClick={() =>
        void navigator.clipboard?.writeText(text).then(
          () => setCopied(true),
          () => setCopied(false),
        )
      }
    >
      {copied ? 'Copied' : 'Copy'}
    </button>
  );
}

/**
 * Export a key for escrow: the engine writes a new file (mode 600, never over an existing one); the secret goes from the
 * keychain to that file without passing through this window.
 */
export function ExportKey({ account, kind }: { account: string; kind: 'age' | 'signing' }): React.JSX.Element {
  const api = getApi();
  const [path, setPath] = useState('');
  const [error, setError] = useState<WireError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const id = `export-${account.replace(/[^A-Za-z0-9]/g, '-')}`;
  return (
    <form
      className="form"
      data-testid="key-export"
      onSubmit={(e) => {
        e.preventDefault();
        setError(null);
        setDone(null);
        void api.exportKey({ account, path: path.trim() }).then((r) => {
          if (!r.ok) return setError(r.error);
          setDone(r.value.publicPath ? `${r.value.path} and ${r.value.publicPath}` : r.value.path);
        });
      }}
    >
      <p className="hint" id={`${id}-warning`}>
        The file holds the {kind === 'age' ? 'secret identity' : 'private signing key'} unencrypted. Write it to an
        escrow medium (a USB stick kept in a safe){kind === 'signing' ? ' or the backup server that signs' : ''}, never
        beside the backups it protects.
      </p>
      <div className="row">
        <label>
          Export {account} to a new file (absolute path)
          <input
            type="text"
            value={path}
            onChange={(e) => setPath(e.target.value)}
            aria-describedby={`${id}-warning`}
            data-testid="key-export-path"
            placeholder={kind === 'age' ? '/media/escrow/lifeboat.age' : '/media/escrow/signing.pem'}
          />
        </label>
        <button
          type="submit"
          className="secondary"
          disabled={!path.trim()}
          aria-label={`Export ${account} to the file`}
          data-testid="key-export-start"
        >
          Export
        </button>
      </div>
      {error && <ErrorBox error={error} />}
      {done && (
        <p role="status" data-testid="key-export-done">
          Written: <span className="mono">{done}</span>
        </p>
      )}
    </form>
  );
}

/** Make an age identity in the keychain; its recipient is what backups encrypt to. */
export function CreateAgeIdentity({
  disabledWhy,
  onCreated,
}: {
  disabledWhy: string | null;
  onCreated: () => void;
}): React.JSX.Element {
  const api = getApi();
  const [name, setName] = useState('');
  const [error, setError] = useState<WireError | null>(null);
  const [made, setMade] = useState<{ account: string; keyId: string; recipient: string } | null>(null);
  const result = useRef<HTMLHeadingElement>(null);
  const why =
    disabledWhy ?? (!NAME.test(name.trim()) ? 'Give a name: letters, digits, dots, dashes, underscores.' : null);
  return (
    <article className="card" aria-labelledby="create-age-title">
      <h2 id="create-age-title">New age identity</h2>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          setError(null);
          void api.createAgeIdentity({ name: name.trim() }).then((r) => {
            if (!r.ok) return setError(r.error);
            setMade(r.value);
            setName('');
            onCreated();
            setTimeout(() => result.current?.focus(), 0);
          });
        }}
      >
        <p className="muted">
          Generated here and kept in the OS keychain. Backups encrypt to its recipient; deep checks, restores and drills
          use it by default.
        </p>
        <div className="row">
          <label>
            Name
            <input
              type="text"
              value={name}
              onChange={(e) => setName(e.target.value)}
              data-testid="age-new-name"
              placeholder="dr-laptop"
            />
          </label>
          <button
            type="submit"
            className="primary"
            disabled={why !== null}
            aria-describedby={why ? 'age-new-why' : undefined}
            data-testid="age-new-create"
          >
            Create the identity
          </button>
        </div>
        {why && (
          <span id="age-new-why" className="muted">
            {why}
          </span>
        )}
      </form>
      {error && <ErrorBox error={error} />}
      {made && (
        <div data-testid="age-new-result">
          <h3 ref={result} tabIndex={-1}>
            Created {made.account}
          </h3>
          <p>
            Recipient (give it to the backup servers: <code>--recipient</code>):{' '}
            <span className="mono keys-public" data-testid="age-new-recipient">
              {made.recipient}
            </span>{' '}
            <CopyButton text={made.recipient} what={`the recipient of ${made.account}`} />
          </p>
          <p className="muted">
            Key id {made.keyId}. Export a copy for escrow now: a key kept in one keychain only is lost with that
            machine.
          </p>
          <ExportKey account={made.account} kind="age" />
        </div>
      )}
    </article>
  );
}

/** Make a signing key in the keychain and pin it here; its public half goes to where sets are verified. */
export function CreateSigningKey({
  disabledWhy,
  onCreated,
}: {
  disabledWhy: string | null;
  onCreated: () => void;
}): React.JSX.Element {
  const api = getApi();
  const [name, setName] = useState('');
  const [label, setLabel] = useState('');
  const [trust, setTrust] = useState(true);
  const [error, setError] = useState<WireError | null>(null);
  const [made, setMade] = useState<{ account: string; keyId: string; publicKeyPem: string; pinned: boolean } | null>(
    null,
  );
  const result = useRef<HTMLHeadingElement>(null);
  const why =
    disabledWhy ?? (!NAME.test(name.trim()) ? 'Give a name: letters, digits, dots, dashes, underscores.' : null);
  return (
    <article className="card" aria-labelledby="create-signing-title">
      <h2 id="create-signing-title">New signing key</h2>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          setError(null);
          void api.createSigningKey({ name: name.trim(), label: label.trim() || undefined, trust }).then((r) => {
            if (!r.ok) return setError(r.error);
            setMade(r.value);
            setName('');
            setLabel('');
            onCreated();
            setTimeout(() => result.current?.focus(), 0);
          });
        }}
      >
        <p className="muted">
          An Ed25519 key kept in the keychain. Export it to the backup servers (<code>--sign-key</code>); sets it signs
          pass authenticity where its public key is pinned.
        </p>
        <div className="row">
          <label>
            Name
            <input
              type="text"
              value={name}
              onChange={(e) => setName(e.target.value)}
              data-testid="signing-new-name"
              placeholder="backup-servers-2026"
            />
          </label>
          <label>
            Label when pinned
            <input
              type="text"
              value={label}
              onChange={(e) => setLabel(e.target.value)}
              placeholder="backup servers 2026"
            />
          </label>
          <label className="checkline">
            <input type="checkbox" checked={trust} onChange={(e) => setTrust(e.target.checked)} />
            Pin it on this machine
          </label>
          <button
            type="submit"
            className="primary"
            disabled={why !== null}
            aria-describedby={why ? 'signing-new-why' : undefined}
            data-testid="signing-new-create"
          >
            Create the signing key
          </button>
        </div>
        {why && (
          <span id="signing-new-why" className="muted">
            {why}
          </span>
        )}
      </form>
      {error && <ErrorBox error={error} />}
      {made && (
        <div data-testid="signing-new-result">
          <h3 ref={result} tabIndex={-1}>
            Created {made.account}
          </h3>
          <p>
            Key id{' '}
            <span className="mono" data-testid="signing-new-keyid">
              {made.keyId}
            </span>
            , {made.pinned ? 'pinned here' : 'not pinned here'}.{' '}
            <CopyButton text={made.publicKeyPem} what={`the public key of ${made.account}`} />
          </p>
          <pre className="message key-pem">{made.publicKeyPem}</pre>
          <ExportKey account={made.account} kind="signing" />
        </div>
      )}
    </article>
  );
}

/** Pinned signing keys; unpinning asks first, and says plainly what unpinning the only one means. */
export function PinnedKeys({
  keys,
  onChanged,
}: {
  keys: Array<{ keyId: string; label: string; addedAt: string }>;
  onChanged: () => void;
}): React.JSX.Element {
  const api = getApi();
  const [error, setError] = useState<WireError | null>(null);
  return (
    <article className="card" aria-labelledby="pinned-title">
      <h2 id="pinned-title">Pinned signing keys</h2>
      {keys.length === 0 ? (
        <p className="muted" data-testid="pinned-none">
          No key is pinned: no set passes the authenticity level on this machine.
        </p>
      ) : (
        <ul data-testid="pinned-keys">
          {keys.map((k) => (
            <li key={k.keyId} data-testid="pinned-key">
              <span className="mono">{k.keyId}</span> {k.label}, pinned {formatTimeWithAge(k.addedAt)}{' '}
              <UnpinButton
                keyId={k.keyId}
                label={k.label}
                only={keys.length === 1}
                onDone={onChanged}
                onError={setError}
                api={api}
              />
            </li>
          ))}
        </ul>
      )}
      {error && <ErrorBox error={error} />}
    </article>
  );
}

/** Unpin with a confirmation (exported for the Settings screen's list of pinned keys). */
export function UnpinButton({
  keyId,
  label,
  only,
  onDone,
  onError,
  api = getApi(),
}: {
  keyId: string;
  label: string;
  only: boolean;
  onDone: () => void;
  onError?: (e: WireError) => void;
  api?: ReturnType<typeof getApi>;
}): React.JSX.Element {
  return (
    <ConfirmButton
      danger
      label="Unpin"
      accessibleName={`Unpin ${label || keyId}`}
      testId="unpin"
      confirmLabel={only ? 'Unpin the only trusted key' : `Unpin ${label || keyId}`}
      message={
        only
          ? `${label || keyId} is the only pinned key. Without it, no set passes the authenticity level here: every signed set verifies as "untrusted signer" and restores that require a trusted signature refuse them, until a key is pinned again.`
          : `Sets signed by ${label || keyId} will verify as "untrusted signer" on this machine until it is pinned again.`
      }
      onConfirm={async () => {
        const r = await api.untrustSigningKey({ keyId });
        if (r.ok) onDone();
        else onError?.(r.error);
      }}
    />
  );
}
