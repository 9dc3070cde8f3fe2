import { useEffect, useMemo, useRef, useState } from 'react';
import { runEnded, type LibraryEntryView } from '../../../../shared/domain/runs';
import type { SetKind } from '../../../../shared/domain/kinds';
import type { WireError } from '../../../../shared/errors';
import { formatDuration, formatTimeWithAge } from '../../../../shared/format';
import { ErrorBox } from '../../components/ErrorBox';
import { CliCommand } from '../../components/JobProgress';
import { KeychainKeys } from '../../components/KeychainKeys';
import { getApi } from '../../lib/api';
import { useResult } from '../../lib/use-result';
import { downloadText, setHashParams, useHashParam } from '../../lib/hash';
import { clearStartForm, readPrefill, type Prefill } from './start-link';
import { runStatusClass, runStatusText, Walkthrough } from './Walkthrough';

/** The set kinds a runbook works on, so its form offers only systems that have them (a database drill: PostgreSQL systems). */
const KINDS_OF: Record<string, SetKind[]> = {
  'monthly-drill': ['pg-logical'],
  'database-corruption': ['pg-logical', 'pg-base'],
  'restore-database': ['pg-logical'],
  'pitr-restore': ['pg-base'],
  'restore-files': ['files', 'config'],
  'restore-stream': ['stream'],
  'mysql-drill': ['mysql'],
  'restore-mysql': ['mysql'],
  'redis-cache-lost': ['redis'],
};

const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;

/** A datetime-local value (the operator's local time) as ISO 8601, or '' when empty or invalid. */
export function isoFromLocal(local: string): string {
  if (!local) return '';
  const t = new Date(local);
  return Number.isNaN(t.getTime()) ? '' : t.toISOString();
}

/** An ISO time as a datetime-local value in the operator's zone. */
export function localFromIso(iso: string): string {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return '';
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${t.getFullYear()}-${p(t.getMonth() + 1)}-${p(t.getDate())}T${p(t.getHours())}:${p(t.getMinutes())}:${p(t.getSeconds())}`;
}

const shellQuote = (v: string): string => (/^[\w@%+=:,./-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);

/** The sets of a system a runbook can use (newest first), to pick one instead of typing its key. */
function SetChoice({
  system,
  kinds,
  value,
  testid,
  onChange,
}: {
  system: string;
  kinds: SetKind[] | undefined;
  value: string;
  testid: string;
  onChange: (v: string) => void;
}): React.JSX.Element {
  const api = getApi();
  const [sets] = useResult(() => api.listSets({ system }), [system]);
  const rows =
    sets.state === 'ready' ? sets.value.filter((s) => !kinds || (kinds as readonly string[]).includes(s.kind)) : [];
  return (
    <select value={value} onChange={(e) => onChange(e.target.value)} data-testid={testid} required>
      <option value="">
        {sets.state === 'loading'
          ? 'loading the sets…'
          : rows.length
            ? '— choose a set —'
            : `no usable set of ${system}`}
      </option>
      {rows.map((s) => (
        <option key={s.key} value={s.key}>
          {s.key} — {s.kind}, made {formatTimeWithAge(s.createdAt)}
          {s.verified ? ', verified' : ''}
          {s.signed ? '' : ', unsigned'}
          {s.suspicious.length > 0 ? ', SUSPICIOUS (ransomware indicator)' : ''}
        </option>
      ))}
    </select>
  );
}

function StartForm({
  entry,
  prefill,
  onCancel,
}: {
  entry: LibraryEntryView;
  prefill: Prefill | null;
  onCancel: () => void;
}): React.JSX.Element {
  const api = getApi();
  const [systems] = useResult(() => api.listSystems({}));
  const kinds = KINDS_OF[entry.id];
  const [fitting] = useResult(async () => {
    if (!kinds) return { ok: true as const, value: null };
    const lists = await Promise.all(kinds.map((kind) => api.listSets({ kind })));
    const bad = lists.find((l) => !l.ok);
    if (bad && !bad.ok) return bad;
    return { ok: true as const, value: new Set(lists.flatMap((l) => (l.ok ? l.value.map((s) => s.system) : []))) };
  });
  const [credentials] = useResult(() => api.listCredentials({}));
  const pgTargets =
    credentials.state === 'ready' ? credentials.value.credentials.filter((c) => c.kind === 'pg' && c.url) : [];
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries(
      entry.inputs.map((i) => {
        const given = prefill?.inputs[i.id];
        // A datetime field shows local time: a pre-filled ISO time is converted for it (and back when sent).
        if (i.type === 'datetime')
          return [i.id, given ? localFromIso(given) : i.default && i.default !== 'now' ? localFromIso(i.default) : ''];
        return [i.id, given ?? i.default ?? ''];
      }),
    ),
  );
  // A restore started from the Catalog or the planner is a real one; a runbook picked from the library starts as a drill.
  const [drill, setDrill] = useState(entry.drill === 'only' || !prefill?.purpose);
  const [identity, setIdentity] = useState('');
  const [operator, setOperator] = useState('');
  const [allowUnsigned, setAllowUnsigned] = useState(false);
  const [acceptRisk, setAcceptRisk] = useState(false);
  const [error, setError] = useState<WireError | null>(null);
  const [busy, setBusy] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  // A refused start moves the focus to why (the Start button was disabled while busy: focus fell to the page body).
  const errorBox = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (error) errorBox.current?.focus();
  }, [error]);
  const hasCredential = entry.inputs.some((i) => i.id === 'credential');
  const isDrill = entry.drill === 'only' || drill;
  const inputsToSend = (): Record<string, string> =>
    Object.fromEntries(
      Object.entries(values)
        .map(
          ([k, v]) =>
            [
              k,
              entry.inputs.find((i) => i.id === k)?.type === 'datetime'
                ? isoFromLocal(v) || (v === 'now' ? v : '')
                : v.trim(),
            ] as const,
        )
        .filter(([, v]) => v !== ''),
    );
  const start = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    const r = await api.startRun({
      runbook: entry.id,
      inputs: inputsToSend(),
      drill: isDrill,
      operator: operator.trim() || undefined,
      identityFiles: identity.trim() ? [identity.trim()] : [],
      allowUnsigned: allowUnsigned && acceptRisk,
    });
    setBusy(false);
    if (r.ok) setHashParams({ screen: 'runbooks', run: r.value.run.id, start: null, prefill: null });
    else setError(r.error);
  };
  const cli = [
    'lifeboat run',
    entry.id,
    isDrill ? '--drill' : '',
    ...Object.entries(inputsToSend()).map(([k, v]) => `--input ${shellQuote(`${k}=${v}`)}`),
    identity.trim() ? `--identity ${shellQuote(identity.trim())}` : '',
    allowUnsigned && acceptRisk ? '--allow-unsigned' : '',
  ]
    .filter(Boolean)
    .join(' ');
  const systemOptions =
    systems.state === 'ready'
      ? systems.value.filter(
          (s) =>
            fitting.state !== 'ready' ||
            fitting.value === null ||
            fitting.value.has(s.system) ||
            values.system === s.system,
        )
      : [];
  const missing = entry.inputs.filter(
    (i) => i.required && !i.default && !values[i.id]?.trim() && !(isDrill && /not used in drills/.test(i.label)),
  );
  const blockers = [
    ...missing.map((i) => i.label),
    allowUnsigned && !acceptRisk ? 'accepting the unsigned-set risk' : '',
  ].filter(Boolean);
  const set = (id: string, v: string): void => setValues((old) => ({ ...old, [id]: v }));
  return (
    <article className="card wide" data-testid="start-form" aria-labelledby="start-title">
      <h2 id="start-title" ref={heading} tabIndex={-1}>
        Start: {entry.title}
      </h2>
      {prefill?.purpose && (
        <p data-testid="start-purpose">
          <strong>{prefill.purpose}</strong>
        </p>
      )}
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
            {i.type === 'backup-set' && !prefill?.inputs[i.id] && values.system ? (
              <SetChoice
                system={values.system}
                kinds={kinds}
                value={values[i.id] ?? ''}
                testid={`input-${i.id}`}
                onChange={(v) => set(i.id, v)}
              />
            ) : i.type === 'system' && systems.state === 'ready' ? (
              <select
                value={values[i.id] ?? ''}
                onChange={(e) => set(i.id, e.target.value)}
                data-testid={`input-${i.id}`}
                required={i.required}
              >
                <option value="">— choose a system —</option>
                {systemOptions.map((s) => (
                  <option key={s.system} value={s.system}>
                    {s.system}
                  </option>
                ))}
              </select>
            ) : i.type === 'postgres-target' && pgTargets.length > 0 ? (
              <select
                value={pgTargets.find((c) => c.url === values[i.id])?.account ?? ''}
                data-testid={`input-${i.id}`}
                onChange={(e) => {
                  const c = pgTargets.find((x) => x.account === e.target.value);
                  setValues((old) => ({
                    ...old,
                    [i.id]: c?.url ?? '',
                    ...(hasCredential ? { credential: c?.account ?? '' } : {}),
                  }));
                }}
              >
                <option value="">— a PostgreSQL server from the keychain —</option>
                {pgTargets.map((c) => (
                  <option key={c.account} value={c.account}>
                    {c.label || c.account} ({c.url})
                  </option>
                ))}
              </select>
            ) : i.type === 'datetime' ? (
              <>
                <input
                  type="datetime-local"
                  step={1}
                  value={values[i.id] ?? ''}
                  onChange={(e) => set(i.id, e.target.value)}
                  data-testid={`input-${i.id}`}
                  required={i.required && !i.default}
                />
                <span className="muted">
                  Local time ({ZONE}){i.default === 'now' ? '; empty: when the run starts' : ''}
                </span>
              </>
            ) : (
              <input
                type="text"
                value={values[i.id] ?? ''}
                onChange={(e) => set(i.id, e.target.value)}
                data-testid={`input-${i.id}`}
                required={i.required && !i.default && !(isDrill && /not used in drills/.test(i.label))}
                readOnly={i.type === 'backup-set' && Boolean(prefill?.inputs[i.id])}
                placeholder={
                  i.type === 'postgres-target'
                    ? 'postgres://user@host:5432/postgres (no password)'
                    : i.type === 'directory'
                      ? '/absolute/path'
                      : ''
                }
              />
            )}
          </label>
        ))}
        <label>
          Another age identity file (optional: the keychain&apos;s identities are used)
          <input
            type="text"
            value={identity}
            onChange={(e) => setIdentity(e.target.value)}
            data-testid="input-identity"
            placeholder="/path/to/laptop.age"
          />
        </label>
        <KeychainKeys />
        <label>
          Operator
          <input
            type="text"
            value={operator}
            onChange={(e) => setOperator(e.target.value)}
            placeholder="your name (default: from Settings)"
            data-testid="input-operator"
          />
        </label>
        <label className="row">
          <input
            type="checkbox"
            checked={isDrill}
            disabled={entry.drill === 'only'}
            onChange={(e) => setDrill(e.target.checked)}
            data-testid="input-drill"
          />{' '}
          Drill (restores only into scratch targets Lifeboat creates and removes)
        </label>
        {prefill?.unsigned && (
          <fieldset className="warn-box" data-testid="unsigned-override">
            <legend>This set is not signed by a pinned key</legend>
            <p>
              Its content cannot be proven to be the backup that was made: someone with write access to the medium could
              have replaced it. The restore is refused unless you allow it for this run; the choice is recorded in the
              run&apos;s journal and report.
            </p>
            <label className="row">
              <input
                type="checkbox"
                checked={allowUnsigned}
                onChange={(e) => setAllowUnsigned(e.target.checked)}
                data-testid="allow-unsigned"
              />{' '}
              Allow unsigned sets in this run
            </label>
            {allowUnsigned && (
              <label className="row">
                <input
                  type="checkbox"
                  checked={acceptRisk}
                  onChange={(e) => setAcceptRisk(e.target.checked)}
                  data-testid="accept-unsigned-risk"
                />{' '}
                I accept the risk of restoring a set whose origin cannot be proven
              </label>
            )}
          </fieldset>
        )}
        <div className="row">
          <button
            type="submit"
            className="primary"
            data-testid="start-run"
            disabled={busy || blockers.length > 0}
            aria-describedby={blockers.length ? 'start-blockers' : undefined}
          >
            Start {isDrill ? 'drill' : 'LIVE run'}: {entry.title}
          </button>
          <button type="button" className="secondary" onClick={onCancel}>
            Back to the library
          </button>
          {blockers.length > 0 && (
            <span className="muted" id="start-blockers">
              Still needed: {blockers.join(', ')}.
            </span>
          )}
        </div>
        <CliCommand command={cli} />
      </form>
      {error && (
        <div ref={errorBox} tabIndex={-1} data-testid="start-error">
          <ErrorBox error={error} />
        </div>
      )}
    </article>
  );
}

/** A runbook's blank checklist, previewed and saved as HTML to print (the bridge has no printer). */
function ChecklistPreview({ runbook, onClose }: { runbook: string; onClose: () => void }): React.JSX.Element {
  const api = getApi();
  const [doc] = useResult(() => api.getRunbookChecklist({ runbook }), [runbook]);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), [doc.state]);
  return (
    <article className="card wide" data-testid="checklist-preview" aria-labelledby="checklist-title">
      <h2 id="checklist-title" ref={heading} tabIndex={-1}>
        Blank checklist{doc.state === 'ready' ? `: ${doc.value.title}` : ''}
      </h2>
      {doc.state === 'error' && <ErrorBox error={doc.error} />}
      {doc.state === 'ready' && (
        <>
          <div className="actions">
            <button
              type="button"
              className="primary"
              data-testid="save-checklist"
              onClick={() => downloadText(`lifeboat-checklist-${runbook}.html`, 'text/html', doc.value.html)}
            >
              Save the checklist to print (HTML)
            </button>
            <button type="button" className="secondary" onClick={onClose}>
              Close the checklist
            </button>
            <CliCommand command={`lifeboat runbook checklist ${runbook} --html checklist.html`} />
          </div>
          <iframe
            className="report"
            title={`Blank checklist of ${doc.value.title}`}
            sandbox=""
            srcDoc={doc.value.html}
            data-testid="checklist-frame"
          />
        </>
      )}
    </article>
  );
}

/** Runbooks: the library, open runs to resume, a typed start form (pre-filled from the Catalog or the PITR planner), the walk-through. */
export function RunbooksScreen(): React.JSX.Element {
  const api = getApi();
  const runId = useHashParam('run');
  // `start`+`prefill` from the Catalog and the planner; `runbook`+`system` from the Overview's next action.
  const startParam = useHashParam('start');
  const runbookParam = useHashParam('runbook');
  const startId = startParam ?? runbookParam;
  const prefillRaw = useHashParam('prefill');
  const system = useHashParam('system');
  const prefill = useMemo(
    () => (prefillRaw ? readPrefill() : system ? { inputs: { system } } : null),
    [prefillRaw, system],
  );
  const [library] = useResult(() => api.listRunbooks({}));
  const [runs] = useResult(() => api.listRuns({}));
  const [picked, setPicked] = useState<LibraryEntryView | null>(null);
  const [checklist, setChecklist] = useState<string | null>(null);
  if (runId) return <Walkthrough key={runId} runId={runId} />;
  const fromHash =
    startId && library.state === 'ready' ? (library.value.find((r) => r.id === startId && !r.problem) ?? null) : null;
  const starting = picked ?? fromHash;
  const open = runs.state === 'ready' ? runs.value.filter((r) => !runEnded(r.status)) : [];
  // "Start a runbook with this set": the library, with the set's values handed to the runbook picked.
  const withSet = !startId && prefill ? prefill : null;
  return (
    <section aria-labelledby="screen-title">
      <h1 id="screen-title">Runbooks</h1>
      {open.length > 0 && (
        <article className="card wide" data-testid="open-runs">
          <h2>Unfinished runs</h2>
          <ul>
            {open.map((r) => (
              <li key={r.id}>
                <strong>{r.title}</strong>{' '}
                {r.drill ? <span className="tag">drill</span> : <span className="status status-red">LIVE</span>} —{' '}
                <span className={runStatusClass(r.status)}>{runStatusText(r.status)}</span>
                {r.currentStep ? ` at ${r.currentStep}` : ''}, started {formatTimeWithAge(r.startedAt)} by {r.operator}{' '}
                <button
                  type="button"
                  className="primary"
                  data-testid={`resume-${r.id}`}
                  onClick={() => setHashParams({ screen: 'runbooks', run: r.id })}
                  aria-label={`Resume ${r.title}, started ${formatTimeWithAge(r.startedAt)}`}
                >
                  Resume
                </button>
              </li>
            ))}
          </ul>
        </article>
      )}
      {checklist && <ChecklistPreview runbook={checklist} onClose={() => setChecklist(null)} />}
      {starting ? (
        <StartForm
          key={starting.id}
          entry={starting}
          prefill={picked ? withSet : prefill}
          onCancel={() => {
            setPicked(null);
            clearStartForm();
          }}
        />
      ) : (
        <article className="card wide">
          <h2>Library</h2>
          {withSet?.purpose && (
            <p className="hint" data-testid="with-set">
              {withSet.purpose}: pick a runbook; its form is pre-filled with the set.{' '}
              <button type="button" className="link" onClick={clearStartForm}>
                Forget the set
              </button>
            </p>
          )}
          {library.state === 'error' && <ErrorBox error={library.error} />}
          {library.state === 'ready' && (
            <table className="table" data-testid="library">
              <thead>
                <tr>
                  <th scope="col">Runbook</th>
                  <th scope="col">Level</th>
                  <th scope="col">RTO / RPO</th>
                  <th scope="col">Steps</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {library.value.map((r) => (
                  <tr key={r.source}>
                    <td>
                      <strong>{r.title}</strong> {r.drill === 'only' && <span className="tag">drill only</span>}{' '}
                      {!r.builtin && <span className="tag">yours</span>}
                      {r.problem ? (
                        <div className="hint">Does not validate: {r.problem}</div>
                      ) : (
                        <div className="muted">{r.description}</div>
                      )}
                    </td>
                    <td>{r.level || '—'}</td>
                    <td>{r.problem ? '—' : `${formatDuration(r.rtoSeconds)} / ${formatDuration(r.rpoSeconds)}`}</td>
                    <td>{r.steps}</td>
                    <td>
                      <div className="row">
                        <button
                          type="button"
                          className="primary"
                          data-testid={`start-${r.id}`}
                          disabled={Boolean(r.problem)}
                          onClick={() => setPicked(r)}
                          aria-label={`Start ${r.title}`}
                        >
                          Start…
                        </button>
                        <button
                          type="button"
                          className="secondary"
                          data-testid={`checklist-${r.id}`}
                          disabled={Boolean(r.problem)}
                          onClick={() => setChecklist(r.id)}
                          aria-label={`Print checklist of ${r.title}`}
                        >
                          Print checklist
                        </button>
                      </div>
                      {r.problem && <span className="muted">Cannot start: the file does not validate.</span>}
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
