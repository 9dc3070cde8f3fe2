import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import type { JobSnapshot } from '../../../../shared/domain/jobs';
import type { RunStepView, RunView } from '../../../../shared/domain/runs';
import type { WireError } from '../../../../shared/errors';
import { formatDuration } from '../../../../shared/format';
import { ErrorBox } from '../../components/ErrorBox';
import { JobProgress } from '../../components/JobProgress';
import { getApi } from '../../lib/api';
import { setHashParams } from '../../lib/hash';
import { useJob } from '../../lib/use-job';

const MARK: Record<string, string> = { done: '✔', skipped: '↷', failed: '✘', waiting: '…', running: '▶', pending: '○' };

/** The RTO clock and plans: the shared duration format, never negative. */
const clock = (seconds: number): string => formatDuration(Math.max(0, seconds));

function Output({ output }: { output: Record<string, unknown> }): React.JSX.Element {
  const entries = Object.entries(output).filter(([, v]) => v !== null && v !== undefined && typeof v !== 'object');
  return (
    <dl className="facts" data-testid="step-output">
      {entries.map(([k, v]) => (
        <div key={k} style={{ display: 'contents' }}>
          <dt>{k.replace(/_/g, ' ')}</dt>
          <dd className="mono">{String(v as string | number | boolean)}</dd>
        </div>
      ))}
    </dl>
  );
}

/** The answer form for the waiting step: ticks and sign-off, a typed confirmation, or a second person. */
function NeedForm({ run, step, onJob }: { run: RunView; step: RunStepView; onJob: (j: JobSnapshot) => void }): React.JSX.Element | null {
  const api = getApi();
  const need = step.need;
  const [ticks, setTicks] = useState<number[]>([]);
  const [name, setName] = useState('');
  const [typed, setTyped] = useState('');
  const [error, setError] = useState<WireError | null>(null);
  if (!need) return null;
  const submit = async (): Promise<void> => {
    setError(null);
    const r = await api.respondStep({ id: run.id, step: step.id, ticks: need.type === 'manual' ? ticks : undefined, signoff: need.type !== 'confirm' && name.trim() ? name.trim() : undefined, confirmation: need.type === 'confirm' ? typed : undefined });
    if (r.ok) onJob(r.value);
    else setError(r.error);
  };
  const ready = need.type === 'manual' ? ticks.length === need.items.length && (!need.signoff?.required || name.trim() !== '') : need.type === 'confirm' ? typed.length > 0 : name.trim() !== '';
  return (
    <form
      className="form"
      data-testid="need-form"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      {need.type === 'manual' && (
        <>
          <ul className="checklist">
            {need.items.map((item, i) => (
              <li key={item}>
                <label>
                  <input type="checkbox" checked={ticks.includes(i)} data-testid={`tick-${i}`} onChange={(e) => setTicks(e.target.checked ? [...ticks, i] : ticks.filter((t) => t !== i))} />
                  {item}
                </label>
              </li>
            ))}
          </ul>
          {need.signoff && (
            <label>
              Sign-off: {need.signoff.role} — your name
              <input type="text" value={name} onChange={(e) => setName(e.target.value)} data-testid="signoff" required={need.signoff.required} />
            </label>
          )}
        </>
      )}
      {need.type === 'confirm' && (
        <label>
          {need.prompt} Type <strong className="mono">{need.expect}</strong> to confirm.
          <input type="text" value={typed} onChange={(e) => setTyped(e.target.value)} data-testid="confirmation" autoComplete="off" />
        </label>
      )}
      {need.type === 'second-person' && (
        <label>
          {need.role}: a second person (not {need.notName}) signs
          <input type="text" value={name} onChange={(e) => setName(e.target.value)} data-testid="second-person" />
        </label>
      )}
      <div className="row">
        <button type="submit" className="primary" data-testid="complete-step" disabled={!ready}>
          {need.type === 'confirm' ? 'Confirm' : need.type === 'second-person' ? 'Sign' : 'Complete step'}
        </button>
      </div>
      {error && <ErrorBox error={error} />}
    </form>
  );
}

function ReasonAction({ label, testid, danger, onSubmit }: { label: string; testid: string; danger?: boolean; onSubmit: (reason: string) => Promise<void> }): React.JSX.Element {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  if (!open)
    return (
      <button type="button" className={danger ? 'danger' : 'secondary'} data-testid={testid} onClick={() => setOpen(true)}>
        {label}…
      </button>
    );
  return (
    <form
      className="row"
      onSubmit={(e) => {
        e.preventDefault();
        void onSubmit(reason).then(() => setOpen(false));
      }}
    >
      <label>
        Reason (journaled)
        <input type="text" value={reason} onChange={(e) => setReason(e.target.value)} data-testid={`${testid}-reason`} required />
      </label>
      <button type="submit" className={danger ? 'danger' : 'secondary'} disabled={!reason.trim()}>
        {label}
      </button>
      <button type="button" className="link" onClick={() => setOpen(false)}>
        Never mind
      </button>
    </form>
  );
}

/** A run's walk-through: the checklist on one side, the current step on the other, clocks, live progress, resume. */
export function Walkthrough({ runId }: { runId: string }): React.JSX.Element {
  const api = getApi();
  const [run, setRun] = useState<RunView | null>(null);
  const [error, setError] = useState<WireError | null>(null);
  const [viewing, setViewing] = useState<string | null>(null);
  const [now, setNow] = useState(() => Date.now());
  const refreshRef = useRef<() => void>(() => undefined);
  const { job, log, track } = useJob(null, () => refreshRef.current());
  const refresh = useCallback(() => {
    void api.getRun({ id: runId }).then((r) => {
      if (!r.ok) return setError(r.error);
      setRun(r.value);
      // Follow the job that drives the run now (started from another screen, or before a reload).
      if (r.value.jobId && r.value.jobId !== job?.id) {
        void api.getJob({ id: r.value.jobId }).then((j) => j.ok && track(j.value));
      }
    });
  }, [api, runId, job?.id, track]);
  useLayoutEffect(() => {
    refreshRef.current = refresh;
  }, [refresh]);
  useEffect(() => {
    refresh();
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [refresh]);
  // While an action runs, keep the checklist current (steps finish inside one job).
  useEffect(() => {
    if (job?.status !== 'running') return;
    const t = setInterval(refresh, 1500);
    return () => clearInterval(t);
  }, [job?.status, refresh]);
  const onJob = (j: JobSnapshot): void => {
    track(j);
    refresh();
  };
  const resume = async (): Promise<void> => {
    const r = await api.advanceRun({ id: runId });
    if (r.ok) onJob(r.value);
    else setError(r.error);
  };
  // A run that was waiting for nothing but an engine (after an app restart) continues by itself when asked.
  if (error && !run) return <ErrorBox error={error} />;
  if (!run) return <p>Loading the run…</p>;
  const current = run.steps.find((s) => s.status !== 'done' && s.status !== 'skipped') ?? null;
  const shown = run.steps.find((s) => s.id === (viewing ?? current?.id)) ?? run.steps[run.steps.length - 1]!;
  const elapsed = ((run.finishedAt ? Date.parse(run.finishedAt) : now) - Date.parse(run.incidentAt)) / 1000;
  const ended = run.status === 'succeeded' || run.status === 'cancelled';
  const running = job?.status === 'running' || run.active;
  return (
    <section aria-labelledby="screen-title" data-testid="walkthrough" data-status={run.status}>
      <h1 id="screen-title">{run.title}</h1>
      <div className={run.drill ? 'banner banner-drill' : 'banner banner-live'} data-testid="run-mode">
        {run.drill ? 'DRILL — restores go only into scratch targets Lifeboat creates and removes.' : 'LIVE RUN — steps act on real targets.'}
      </div>
      <div className="clocks">
        <span>
          Status <span className={`status status-${run.status === 'succeeded' ? 'green' : run.status === 'failed' || run.status === 'cancelled' ? 'red' : 'amber'}`} data-testid="run-status">{run.status}</span>
        </span>
        <span data-testid="rto-clock">
          RTO clock {clock(elapsed)} of {clock(run.rtoSeconds)} {elapsed > run.rtoSeconds ? <span className="status status-red">over</span> : null}
        </span>
        {run.forecast?.seconds !== null && run.forecast?.seconds !== undefined && (
          <span>
            Forecast {clock(run.forecast.seconds)} {run.forecast.fits ? '(within the RTO)' : <span className="status status-red">over the RTO</span>}
          </span>
        )}
        <span className="muted">Run {run.id} · operator {run.operator}</span>
      </div>
      <div className="split">
        <nav aria-label="Checklist">
          <ol className="steps" data-testid="steps">
            {run.steps.map((s) => (
              <li key={s.id} className={`st-${s.status}`}>
                <button type="button" className={s.id === shown.id ? 'current' : ''} aria-current={s.id === current?.id ? 'step' : undefined} onClick={() => setViewing(s.id)} data-testid={`step-${s.id}`} data-status={s.status}>
                  <span className="mark" aria-hidden="true">{MARK[s.status]}</span>
                  <span>{s.title}</span>
                  <span className="sr-only">({s.status})</span>
                </button>
              </li>
            ))}
          </ol>
        </nav>
        <article className="card" data-testid="current-step" data-step={shown.id}>
          <h2>{shown.title}</h2>
          <p className="muted">
            {shown.kind}
            {shown.action ? ` · ${shown.action}` : ''} · {shown.status}
            {shown.by ? ` · by ${shown.by}` : ''}
            {shown.expectedSeconds ? ` · planned ${clock(shown.expectedSeconds)}` : ''}
          </p>
          {shown.guidance && <p style={{ whiteSpace: 'pre-wrap' }}>{shown.guidance}</p>}
          {shown.status === 'waiting' && <NeedForm key={`${shown.id}-${run.journal.seq}`} run={run} step={shown} onJob={onJob} />}
          {shown.kind === 'communicate' && shown.output && (
            <>
              <p>For {String(shown.output.audience)} — copy it out; nothing is sent from here:</p>
              <pre className="message" data-testid="message">{String(shown.output.message)}</pre>
              <button type="button" className="secondary" onClick={() => void navigator.clipboard?.writeText(String(shown.output!.message))}>Copy message</button>
            </>
          )}
          {shown.kind !== 'communicate' && shown.output && <Output output={shown.output} />}
          {shown.skipReason && <p className="hint">Skipped: {shown.skipReason}</p>}
          {shown.error && <ErrorBox error={shown.error} />}
          {shown.condition && <p className="hint">Target left: {shown.condition}</p>}
          {job && (running || job.status === "failed") && <JobProgress job={job} label="Working" />}
          {log.length > 0 && (
            <div className="log" aria-label="Live log" data-testid="live-log">
              {log.map((l, i) => (
                <div key={i} className={l.level === 'warn' || l.level === 'error' ? 'hint' : ''}>{l.message}</div>
              ))}
            </div>
          )}
          <div className="actions">
            {(run.status === 'paused' || run.status === 'failed' || (run.status === 'running' && !running)) && (
              <button type="button" className="primary" data-testid="resume" onClick={() => void resume()}>
                {run.status === 'failed' ? 'Retry the step' : 'Resume'}
              </button>
            )}
            {!ended && shown.status !== 'done' && shown.status !== 'skipped' && shown.status !== 'running' && (
              <ReasonAction
                label="Skip this step"
                testid="skip"
                onSubmit={async (reason) => {
                  const r = await api.skipStep({ id: run.id, step: shown.id, reason });
                  if (r.ok) {
                    setRun(r.value);
                    await resume();
                  } else setError(r.error);
                }}
              />
            )}
            {!ended && (
              <ReasonAction
                label="Cancel the run"
                testid="cancel-run"
                danger
                onSubmit={async (reason) => {
                  const r = await api.cancelRun({ id: run.id, reason });
                  if (r.ok) setRun(r.value);
                  else setError(r.error);
                }}
              />
            )}
            {ended && (
              <button type="button" className="primary" data-testid="open-report" onClick={() => setHashParams({ screen: 'reports', run: run.id })}>
                Open the report
              </button>
            )}
            <button type="button" className="link" onClick={() => setHashParams({ run: null })}>
              Back to the library
            </button>
          </div>
          {error && <ErrorBox error={error} />}
        </article>
      </div>
    </section>
  );
}
