import { useRef, useState } from 'react';
import type { WireError } from '../../../shared/errors';
import { getApi } from '../lib/api';
import { ErrorBox } from './ErrorBox';
import { CliCommand } from './JobProgress';

function sh(word: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * `lifeboat medium init` from the app: a folder (absolute path) or s3://bucket/prefix gets a lifeboat-medium.json with a
 * label, so scans know it by its identity and not by where it is mounted. A medium is never initialised twice.
 */
export function InitMediumForm({ onDone }: { onDone?: (m: { id: string; label: string; location: string }) => void }): React.JSX.Element {
  const api = getApi();
  const [location, setLocation] = useState('');
  const [label, setLabel] = useState('');
  const [error, setError] = useState<WireError | null>(null);
  const [done, setDone] = useState<{ id: string; label: string; location: string } | null>(null);
  const result = useRef<HTMLParagraphElement>(null);
  const why = !location.trim() ? 'Give the folder or s3:// location.' : !label.trim() ? 'Give a label to write on the medium.' : null;
  return (
    <form
      className="form"
      data-testid="init-medium"
      onSubmit={(e) => {
        e.preventDefault();
        setError(null);
        setDone(null);
        void api.initMedium({ location: location.trim(), label: label.trim() }).then((r) => {
          if (!r.ok) return setError(r.error);
          setDone(r.value);
          onDone?.(r.value);
          setTimeout(() => result.current?.focus(), 0);
        });
      }}
    >
      <div className="row">
        <label>
          Folder (absolute path) or s3://bucket/prefix
          <input type="text" value={location} onChange={(e) => setLocation(e.target.value)} data-testid="init-medium-location" placeholder="/media/usb-2" />
        </label>
        <label>
          Label
          <input type="text" value={label} onChange={(e) => setLabel(e.target.value)} data-testid="init-medium-label" placeholder="offsite-2" maxLength={100} />
        </label>
        <button type="submit" className="primary" data-testid="init-medium-start" disabled={why !== null} aria-describedby={why ? 'init-medium-why' : undefined}>
          Initialise the medium
        </button>
      </div>
      {why && <span id="init-medium-why" className="muted">{why}</span>}
      <CliCommand command={`lifeboat medium init ${location.trim() ? sh(location.trim()) : '<location>'} --label ${label.trim() ? sh(label.trim()) : '<label>'}`} />
      {error && <ErrorBox error={error} />}
      {done && (
        <p ref={result} tabIndex={-1} data-testid="init-medium-done">
          <span className="status status-green">ready</span> Medium {done.label} ({done.id}) at <span className="mono">{done.location}</span>. Back up to it, then scan it on the Media screen.
        </p>
      )}
    </form>
  );
}
