import { useState } from 'react';
import type { LibraryEntryView } from '../../../../shared/domain/runs';
import type { WireError } from '../../../../shared/errors';
import { formatDuration } from '../../../../shared/format';
import { ErrorBox } from '../../components/ErrorBox';
import { CliCommand } from '../../components/JobProgress';
import { getApi } from '../../lib/api';
import { useResult } from '../../lib/use-result';
import { setHashParams, useHashParam } from '../../lib/hash';
import { Walkthrough } from './Walkthrough';

function StartForm({ entry, onCancel }: { entry: LibraryEntryView; onCancel: () => void }): React.JSX.Element {
  const api = getApi();
  const [systems] = useResult(() => api.listSystems({}));
  const [values, setValues] = useState<Record<string, string>>(() => Object.fromEntries(entry.inputs.map((i) => [i.id, i.default ?? ''])));
  const [drill, setDrill] = useState(true);
  const [identity, setIdentity] = useState('');
  const [operator, setOperator] = useState('');
  const [error, setError] = useState<WireError | null>(null);
  const [busy, setBusy] = useState(false);
  const start = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    const inputs = Object.fromEntries(Object.entries(values).filter(([, v]) => v.trim() !== ''));
    const r = await api.startRun({ runbook: entry.id, inputs, drill: entry.drill === 'only' || drill, operator: operator.trim() || undefined, identityFiles: identity.trim() ? [identity.trim()] : [] });
    setBusy(false);
    if (r.ok) setHashParams({ screen: 'runbooks', run: r.value.run.id });
    else setError(r.error);
  };
  const cli = `lifeboat run ${entry.id}${drill || entry.drill === 'only' ? ' --drill' : ''}${Object.entries(values)
    .filter(([, v]) => v.trim())
    .map(([k, v]) => ` --input ${k}=${v}`)
    .join('')}${identity.trim() ? ` --identity ${identity.trim()}` : ''}`;
  return (
    <article className="card" data-testid="start-form">
      <h2>Start: {entry.title}</h2>
      <p>{entry.description}</p>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          void start();
        }}
      >
        {entry.inputs.map((i) => (
          <label key={i.id}>
            {i.label}
            {i.required && !i.default ? ' (required)' : ''}
            {i.type === 'system' && systems.state === 'ready' ? (
              <select value={values[i.id] ?? ''} onChange={(e) => setValues({ ...values, [i.id]: e.target.value })} data-testid={`input-${i.id}`} required={i.required}>
                <option value="">— choose a system —</option>
                {systems.value.map((s) => (
                  <option key={s.system} value={s.system}>{s.system}</option>
                ))}
              </select>
            ) : (
              <input
                type="text"
                value={values[i.id] ?? ''}
                onChange={(e) => setValues({ ...values, [i.id]: e.target.value })}
                data-testid={`input-${i.id}`}
                required={i.required && !i.default}
                placeholder={i.type === 'datetime' ? '2026-11-21T14:30:00Z or now' : i.type === 'postgres-target' ? 'postgres://user@host:5432/postgres (no password)' : i.type === 'directory' ? '/absolute/path' : ''}
              />
            )}
          </label>
        ))}
        <label>
          Age identity file (to decrypt the sets)
          <input type="text" value={identity} onChange={(e) => setIdentity(e.target.value)} data-testid="input-identity" placeholder="/path/to/laptop.age" />
        </label>
        <label>
          Operator
          <input type="text" value={operator} onChange={(e) => setOperator(e.target.value)} placeholder="your name (default: from Settings)" />
        </label>
        <label className="row">
          <input type="checkbox" checked={drill || entry.drill === 'only'} disabled={entry.drill === 'only'} onChange={(e) => setDrill(e.target.checked)} data-testid="input-drill" /> Drill (restores only into scratch targets Lifeboat creates and removes)
        </label>
        <div className="row">
          <button type="submit" className="primary" data-testid="start-run" disabled={busy}>
            Start {drill || entry.drill === 'only' ? 'drill' : 'LIVE run'}
          </button>
          <button type="button" className="secondary" onClick={onCancel}>Back</button>
        </div>
        <CliCommand command={cli} />
      </form>
      {error && <ErrorBox error={error} />}
    </article>
  );
}

/** Runbooks: the library, open runs to resume, a typed start form, and the walk-through. */
export function RunbooksScreen(): React.JSX.Element {
  const api = getApi();
  const runId = useHashParam('run');
  const [library] = useResult(() => api.listRunbooks({}));
  const [runs] = useResult(() => api.listRuns({}));
  const [starting, setStarting] = useState<LibraryEntryView | null>(null);
  if (runId) return <Walkthrough key={runId} runId={runId} />;
  const open = runs.state === 'ready' ? runs.value.filter((r) => r.status !== 'succeeded' && r.status !== 'cancelled') : [];
  return (
    <section aria-labelledby="screen-title">
      <h1 id="screen-title">Runbooks</h1>
      {open.length > 0 && (
        <article className="card wide" data-testid="open-runs">
          <h2>Unfinished runs</h2>
          <ul>
            {open.map((r) => (
              <li key={r.id}>
                <strong>{r.title}</strong> {r.drill ? <span className="tag">drill</span> : <span className="status status-red">LIVE</span>} — {r.status}
                {r.currentStep ? ` at ${r.currentStep}` : ''}, started {r.startedAt} by {r.operator}{' '}
                <button type="button" className="primary" data-testid={`resume-${r.id}`} onClick={() => setHashParams({ screen: 'runbooks', run: r.id })}>
                  Resume
                </button>
              </li>
            ))}
          </ul>
        </article>
      )}
      {starting ? (
        <StartForm entry={starting} onCancel={() => setStarting(null)} />
      ) : (
        <article className="card wide">
          <h2>Library</h2>
          {library.state === 'error' && <ErrorBox error={library.error} />}
          {library.state === 'ready' && (
            <table className="table" data-testid="library">
              <thead>
                <tr><th scope="col">Runbook</th><th scope="col">Level</th><th scope="col">RTO / RPO</th><th scope="col">Steps</th><th scope="col"><span className="sr-only">Start</span></th></tr>
              </thead>
              <tbody>
                {library.value.map((r) => (
                  <tr key={r.source}>
                    <td>
                      <strong>{r.title}</strong> {r.drill === 'only' && <span className="tag">drill only</span>} {!r.builtin && <span className="tag">yours</span>}
                      {r.problem ? <div className="hint">Does not validate: {r.problem}</div> : <div className="muted">{r.description}</div>}
                    </td>
                    <td>{r.level || '—'}</td>
                    <td>{r.problem ? '—' : `${formatDuration(r.rtoSeconds)} / ${formatDuration(r.rpoSeconds)}`}</td>
                    <td>{r.steps}</td>
                    <td>
                      <button type="button" className="primary" data-testid={`start-${r.id}`} disabled={Boolean(r.problem)} onClick={() => setStarting(r)}>
                        Start…
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </article>
      )}
    </section>
  );
}
