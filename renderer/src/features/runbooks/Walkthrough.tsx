import { useCallback, useEffect, useEffectEvent, useLayoutEffect, useRef, useState } from 'react';
import type { JobSnapshot } from '../../../../shared/domain/jobs';
import { runEnded, type RunStatus, type RunStepView, type RunView } from '../../../../shared/domain/runs';
import type { WireError } from '../../../../shared/errors';
import { formatDuration, formatLocalTime, formatTimeWithAge } from '../../../../shared/format';
import { ErrorBox } from '../../components/ErrorBox';
import { JobProgress } from '../../components/JobProgress';
import { GiveKeyAndRetry } from '../../components/KeychainKeys';
import { getApi } from '../../lib/api';
import { setHashParams } from '../../lib/hash';
import { useJob } from '../../lib/use-job';
import { Evidence } from './evidence';

const MARK: Record<string, string> = { done: '✔', skipped: '↷', failed: '✘', waiting: '…', running: '▶', pending: '○' };

/** The RTO clock and plans: the shared duration format, never negative. */
const clock = (seconds: number): string => formatDuration(Math.max(0, seconds));

/** Green only for a clean pass: a run completed with exceptions is amber, never green (issue 21). */
export function runStatusClass(status: RunStatus): string {
  if (status === 'succeeded') return 'status status-green';
  if (status === 'failed' || status === 'cancelled') return 'status status-red';
  return 'status status-amber';
}

export const runStatusText = (status: RunStatus): string => status.replace(/-/g, ' ');

const signoffStep = (s: RunStepView): boolean => s.signoffRole !== null || s.action === 'gate:second-person';

/** The answer form for the waiting step: ticks (kept in the run as they are made) and sign-off, a typed confirmation,
 *  a second person, or a message someone must send and confirm. */
function NeedForm({
  run,
  step,
  onJob,
  onRun,
}: {
  run: RunView;
  step: RunStepView;
  onJob: (j: JobSnapshot) => void;
  onRun: (r: RunView) => void;
}): React.JSX.Element | null {
  const api = getApi();
  const need = step.need;
  const [ticks, setTicks] = useState<number[]>(step.ticks);
  const [name, setName] = useState(need?.type === 'communicate' ? run.operator : '');
  const [via, setVia] = useState('');
  const [typed, setTyped] = useState('');
  const [copied, setCopied] = useState(false);
  const [error, setError] = useState<WireError | null>(null);
  if (!need) return null;
  const tick = async (i: number, on: boolean): Promise<void> => {
    setTicks(on ? [...ticks, i] : ticks.filter((t) => t !== i));
    const r = await api.tickStep({ id: run.id, step: step.id, item: i, ticked: on });
    if (r.ok) onRun(r.value);
    else setError(r.error);
  };
  const submit = async (): Promise<void> => {
    setError(null);
    const r = await api.respondStep({
      id: run.id,
      step: step.id,
      ticks: need.type === 'manual' ? ticks : undefined,
      signoff: need.type !== 'confirm' && name.trim() ? name.trim() : undefined,
      confirmation: need.type === 'confirm' ? typed : undefined,
      sentVia: need.type === 'communicate' ? via.trim() : undefined,
    });
    if (r.ok) onJob(r.value);
    else setError(r.error);
  };
  const missing =
    need.type === 'manual'
      ? [
          ticks.length < need.items.length ? `${need.items.length - ticks.length} item(s) to tick` : '',
          need.signoff?.required && !name.trim() ? 'a name to sign with' : '',
        ].filter(Boolean)
      : need.type === 'confirm'
        ? typed.length
          ? []
          : ['the confirmation to type']
        : need.type === 'communicate'
          ? [!name.trim() ? 'who sent it' : '', !via.trim() ? 'how it was sent' : ''].filter(Boolean)
          : name.trim()
            ? []
            : ["the second person's name"];
  const label =
    need.type === 'confirm'
      ? 'Confirm'
      : need.type === 'second-person'
        ? 'Sign'
        : need.type === 'communicate'
          ? 'Confirm the message was sent'
          : 'Complete step';
  return (
    <form
      className="form"
      data-testid="need-form"
      aria-label={`Answer: ${step.title}`}
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
                  <input
                    type="checkbox"
                    checked={ticks.includes(i)}
                    data-testid={`tick-${i}`}
                    onChange={(e) => void tick(i, e.target.checked)}
                  />
                  {item}
                </label>
              </li>
            ))}
          </ul>
          {need.signoff && (
            <label>
              Sign-off: {need.signoff.role} — your name
              <input
                type="text"
                value={name}
                onChange={(e) => setName(e.target.value)}
                data-testid="signoff"
                required={need.signoff.required}
              />
            </label>
          )}
        </>
      )}
      {need.type === 'confirm' && (
        <label>
          {need.prompt} Type <strong className="mono">{need.expect}</strong> to confirm.
          <input
            type="text"
            value={typed}
            onChange={(e) => setTyped(e.target.value)}
            data-testid="confirmation"
            autoComplete="off"
          />
        </label>
      )}
      {need.type === 'second-person' && (
        <label>
          {need.role}: a second person (not {need.notName}) signs
          <input type="text" value={name} onChange={(e) => setName(e.target.value)} data-testid="second-person" />
        </label>
      )}
      {need.type === 'communicate' && (
        <>
          <p>
            Message for <strong>{need.audience}</strong>. Lifeboat sends nothing: copy it, send it, then say who sent it
            and how.
          </p>
          <pre className="message" data-testid="message">
            {need.message}
          </pre>
          <div className="row">
            <button
              type="button"
              className="secondary"
              data-testid="copy-message"
              onClick={() => {
                void navigator.clipboard?.writeText(need.message).then(
                  () => setCopied(true),
                  () => setCopied(false),
                );
              }}
            >
              Copy the message for {need.audience}
            </button>
            {copied && <span role="status">Copied.</span>}
          </div>
          <label>
            Sent by
            <input type="text" value={name} onChange={(e) => setName(e.target.value)} data-testid="sent-by" />
          </label>
          <label>
            Sent how (e-mail, phone, chat…)
            <input type="text" value={via} onChange={(e) => setVia(e.target.value)} data-testid="sent-via" />
          </label>
        </>
      )}
      <div className="row">
        <button
          type="submit"
          className="primary"
          data-testid="complete-step"
          disabled={missing.length > 0}
          aria-describedby={missing.length ? `why-${step.id}` : undefined}
        >
          {label}
        </button>
        {missing.length > 0 && (
          <span className="muted" id={`why-${step.id}`}>
            Still needed: {missing.join(', ')}.
          </span>
        )}
      </div>
      {error && <ErrorBox error={error} />}
    </form>
  );
}

/**
 * Skip the shown step. The rules are the engine's (runner.skipRefusal); the form asks for what they need: a reason
 * always, a second person for a live run or a sign-off (the person asked to sign cannot skip it alone).
 */
function SkipForm({
  run,
  step,
  onSkipped,
}: {
  run: RunView;
  step: RunStepView;
  onSkipped: () => Promise<void>;
}): React.JSX.Element {
  const api = getApi();
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const [second, setSecond] = useState('');
  const [error, setError] = useState<WireError | null>(null);
  const needsSecond = !run.drill || signoffStep(step);
  const firstField = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (open) firstField.current?.focus();
  }, [open]);
  if (!open)
    return (
      <button type="button" className="secondary" data-testid="skip" onClick={() => setOpen(true)}>
        {signoffStep(step) ? `Waive the sign-off of “${step.title}”…` : `Skip “${step.title}”…`}
      </button>
    );
  const why = signoffStep(step)
    ? `This step asks for a sign-off: ${run.operator}, who is asked to sign, cannot skip it. A second person may waive it, by name.`
    : !run.drill
      ? 'Skipping a step of a LIVE run needs a second person, by name (not the operator).'
      : 'A drill may skip a step with a reason.';
  return (
    <form
      className="form"
      data-testid="skip-form"
      aria-label={`Skip ${step.title}`}
      onSubmit={(e) => {
        e.preventDefault();
        setError(null);
        void api
          .skipStep({ id: run.id, step: step.id, reason, secondPerson: needsSecond ? second.trim() : undefined })
          .then(async (r) => {
            if (!r.ok) return setError(r.error);
            setOpen(false);
            await onSkipped();
          });
      }}
    >
      <p className="hint">{why} The run will end “completed with exceptions”.</p>
      <label>
        Reason (journaled)
        <input
          ref={firstField}
          type="text"
          value={reason}
          onChange={(e) => setReason(e.target.value)}
          data-testid="skip-reason"
          required
        />
      </label>
      {needsSecond && (
        <label>
          Second person approving the skip (not {run.operator})
          <input
            type="text"
            value={second}
            onChange={(e) => setSecond(e.target.value)}
            data-testid="skip-second-person"
            required
          />
        </label>
      )}
      <div className="row">
        <button
          type="submit"
          className="danger"
          data-testid="skip-confirm"
          disabled={!reason.trim() || (needsSecond && !second.trim())}
          aria-describedby={!reason.trim() || (needsSecond && !second.trim()) ? `skip-why-${step.id}` : undefined}
        >
          Skip this step
        </button>
        {(!reason.trim() || (needsSecond && !second.trim())) && (
          <span className="muted" id={`skip-why-${step.id}`}>
            Still needed:{' '}
            {[!reason.trim() ? 'a reason' : '', needsSecond && !second.trim() ? 'the second person' : '']
              .filter(Boolean)
              .join(' and ')}
            .
          </span>
        )}
        <button type="button" className="link" onClick={() => setOpen(false)}>
          Never mind
        </button>
      </div>
      {error && <ErrorBox error={error} />}
    </form>
  );
}

function CancelForm({ run, onCancelled }: { run: RunView; onCancelled: (r: RunView) => void }): React.JSX.Element {
  const api = getApi();
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const [error, setError] = useState<WireError | null>(null);
  if (!open)
    return (
      <button type="button" className="danger" data-testid="cancel-run" onClick={() => setOpen(true)}>
        Cancel the run…
      </button>
    );
  return (
    <form
      className="row"
      aria-label="Cancel the run"
      onSubmit={(e) => {
        e.preventDefault();
        void api.cancelRun({ id: run.id, reason }).then((r) => (r.ok ? onCancelled(r.value) : setError(r.error)));
      }}
    >
      <label>
        Reason (journaled)
        <input
          type="text"
          value={reason}
          onChange={(e) => setReason(e.target.value)}
          data-testid="cancel-run-reason"
          required
        />
      </label>
      <button type="submit" className="danger" disabled={!reason.trim()}>
        Cancel the run for good
      </button>
      <button type="button" className="link" onClick={() => setOpen(false)}>
        Never mind
      </button>
      {error && <ErrorBox error={error} />}
    </form>
  );
}

/** Objectives (from the system's tier) against what the run achieved: the finished view opens with it. */
function Summary({ run }: { run: RunView }): React.JSX.Element {
  const s = run.summary;
  const verdict = (ok: boolean | null): React.JSX.Element =>
    ok === null ? (
      <span className="muted">—</span>
    ) : ok ? (
      <span className="status status-green">within</span>
    ) : (
      <span className="status status-red">over</span>
    );
  return (
    <article className="card wide" data-testid="run-summary" aria-labelledby="summary-title">
      <h2 id="summary-title" tabIndex={-1}>
        {run.status === 'completed-with-exceptions'
          ? 'Completed with exceptions'
          : run.status === 'succeeded'
            ? 'Succeeded'
            : `Ended: ${runStatusText(run.status)}`}
      </h2>
      <table className="table">
        <thead>
          <tr>
            <th scope="col">Objective</th>
            <th scope="col">Target ({s.objectivesFrom})</th>
            <th scope="col">Achieved</th>
            <th scope="col">Verdict</th>
          </tr>
        </thead>
        <tbody>
          <tr>
            <th scope="row">RTO (incident → end)</th>
            <td>{formatDuration(s.rtoSeconds)}</td>
            <td>{s.rtoAchievedSeconds === null ? 'not finished' : formatDuration(s.rtoAchievedSeconds)}</td>
            <td>{verdict(s.rtoOk)}</td>
          </tr>
          <tr>
            <th scope="row">RPO (incident − restored point)</th>
            <td>{formatDuration(s.rpoSeconds)}</td>
            <td>{s.rpoAchievedSeconds === null ? 'no set restored' : formatDuration(s.rpoAchievedSeconds)}</td>
            <td>{verdict(s.rpoOk)}</td>
          </tr>
          <tr>
            <th scope="row">Measured restore time</th>
            <td>{formatDuration(s.rtoSeconds)} (RTO)</td>
            <td data-testid="summary-restore">
              {s.restoreSeconds === null ? 'no restore ran' : formatDuration(s.restoreSeconds)}
            </td>
            <td>{verdict(s.restoreOk)}</td>
          </tr>
        </tbody>
      </table>
      {s.exceptions.length > 0 && (
        <>
          <h3>Exceptions</h3>
          <ul data-testid="run-exceptions">
            {s.exceptions.map((x) => (
              <li key={x.step}>
                <strong>{x.title}</strong> skipped by {x.by}
                {x.approvedBy ? `, approved by ${x.approvedBy}` : ''}: {x.reason}
              </li>
            ))}
          </ul>
        </>
      )}
    </article>
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
  const headingRef = useRef<HTMLHeadingElement>(null);
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
  const current = run?.steps.find((s) => s.status !== 'done' && s.status !== 'skipped') ?? null;
  const focusKey = `${current?.id ?? 'end'}:${current?.status ?? run?.status ?? ''}`;
  // Focus follows the work: when the current step (or its state) changes, its heading takes focus (not the page body).
  // A run that ended opens with its summary: focus goes there.
  // An effect event: it reads the latest run and viewed step, yet only a new focusKey moves focus (not every refresh).
  const moveFocus = useEffectEvent(() => {
    if (run && runEnded(run.status)) document.getElementById('summary-title')?.focus();
    else if (run && !viewing) headingRef.current?.focus();
  });
  useEffect(() => moveFocus(), [focusKey]);
  const onJob = (j: JobSnapshot): void => {
    track(j);
    setViewing(null);
    refresh();
  };
  const resume = async (): Promise<void> => {
    const r = await api.advanceRun({ id: runId });
    if (r.ok) onJob(r.value);
    else setError(r.error);
  };
  if (error && !run) return <ErrorBox error={error} />;
  if (!run) return <p>Loading the run…</p>;
  const shown = run.steps.find((s) => s.id === (viewing ?? current?.id)) ?? run.steps[run.steps.length - 1]!;
  const elapsed = ((run.finishedAt ? Date.parse(run.finishedAt) : now) - Date.parse(run.incidentAt)) / 1000;
  const ended = runEnded(run.status);
  const running = job?.status === 'running' || run.active;
  const s = run.summary;
  return (
    <section aria-labelledby="screen-title" data-testid="walkthrough" data-status={run.status}>
      <h1 id="screen-title">{run.title}</h1>
      <div className={run.drill ? 'banner banner-drill' : 'banner banner-live'} data-testid="run-mode">
        {run.drill
          ? 'DRILL — restores go only into scratch targets Lifeboat creates and removes.'
          : 'LIVE RUN — steps act on real targets.'}
        {run.allowUnsigned ? ' Sets not signed by a pinned key are allowed in this run (journaled override).' : ''}
      </div>
      {ended && <Summary run={run} />}
      <div className="clocks">
        <span>
          Status{' '}
          <span className={runStatusClass(run.status)} data-testid="run-status">
            {runStatusText(run.status)}
          </span>
        </span>
        <span data-testid="rto-clock">
          RTO clock {clock(elapsed)} of {clock(s.rtoSeconds)} ({s.objectivesFrom}){' '}
          {elapsed > s.rtoSeconds ? <span className="status status-red">over</span> : null}
        </span>
        <span data-testid="restore-time">
          Measured restore time {s.restoreSeconds === null ? 'not yet' : formatDuration(s.restoreSeconds)} · RTO{' '}
          {formatDuration(s.rtoSeconds)}
        </span>
        {run.forecast?.seconds !== null && run.forecast?.seconds !== undefined && (
          <span>
            Forecast {clock(run.forecast.seconds)}{' '}
            {run.forecast.fits ? '(within the RTO)' : <span className="status status-red">over the RTO</span>}
          </span>
        )}
        <span className="muted">
          Run {run.id} · operator {run.operator} · started {formatTimeWithAge(run.startedAt)}
        </span>
      </div>
      <div className="split">
        <nav aria-label="Checklist">
          <ol className="steps" data-testid="steps">
            {run.steps.map((st) => (
              <li key={st.id} className={`st-${st.status}`}>
                <button
                  type="button"
                  className={st.id === shown.id ? 'current' : ''}
                  aria-current={st.id === current?.id ? 'step' : undefined}
                  onClick={() => setViewing(st.id)}
                  data-testid={`step-${st.id}`}
                  data-status={st.status}
                >
                  <span className="mark" aria-hidden="true">
                    {MARK[st.status]}
                  </span>
                  <span>{st.title}</span>
                  <span className="sr-only">({st.status})</span>
                </button>
              </li>
            ))}
          </ol>
        </nav>
        <article className="card" data-testid="current-step" data-step={shown.id}>
          <h2 ref={headingRef} tabIndex={-1} data-testid="step-heading">
            {shown.title}
          </h2>
          <p className="muted">
            {shown.kind}
            {shown.action ? ` · ${shown.action}` : ''} · {shown.status}
            {shown.by ? ` · by ${shown.by}` : ''}
            {shown.finishedAt ? ` · ${formatLocalTime(shown.finishedAt)}` : ''}
            {shown.expectedSeconds ? ` · planned ${clock(shown.expectedSeconds)}` : ''}
          </p>
          {shown.guidance && <p style={{ whiteSpace: 'pre-wrap' }}>{shown.guidance}</p>}
          {shown.status === 'waiting' && (
            <NeedForm key={`${shown.id}-${shown.status}`} run={run} step={shown} onJob={onJob} onRun={setRun} />
          )}
          {shown.kind === 'communicate' && shown.status !== 'waiting' && shown.output && (
            <>
              <p>For {String(shown.output.audience)}:</p>
              <pre className="message" data-testid="message">
                {String(shown.output.message)}
              </pre>
              <Evidence output={shown.output} skip={['audience', 'message']} />
            </>
          )}
          {shown.kind !== 'communicate' && shown.output && <Evidence output={shown.output} />}
          {shown.skipReason && (
            <p className="hint">
              Skipped by {shown.by}
              {shown.skipApprovedBy ? `, approved by ${shown.skipApprovedBy}` : ''}: {shown.skipReason}
            </p>
          )}
          {shown.error && <ErrorBox error={shown.error} />}
          {run.status === 'failed' && shown.status === 'failed' && (
            <GiveKeyAndRetry runId={runId} error={shown.error} onStarted={onJob} />
          )}
          {shown.condition && <p className="hint">Target left: {shown.condition}</p>}
          {job && (running || job.status === 'failed') && <JobProgress job={job} label={`Working on ${run.title}`} />}
          {log.length > 0 && (
            <div className="log" aria-label="Live log" data-testid="live-log" tabIndex={0} role="log">
              {log.map((l, i) => (
                <div key={i} className={l.level === 'warn' || l.level === 'error' ? 'hint' : ''}>
                  {l.message}
                </div>
              ))}
            </div>
          )}
          <div className="actions">
            {(run.status === 'paused' || run.status === 'failed' || (run.status === 'running' && !running)) && (
              <button type="button" className="primary" data-testid="resume" onClick={() => void resume()}>
                {run.status === 'failed' ? `Retry “${shown.title}”` : 'Resume the run'}
              </button>
            )}
            {!ended && shown.status !== 'done' && shown.status !== 'skipped' && shown.status !== 'running' && (
              <SkipForm key={shown.id} run={run} step={shown} onSkipped={resume} />
            )}
            {!ended && <CancelForm run={run} onCancelled={setRun} />}
            {ended && (
              <button
                type="button"
                className="primary"
                data-testid="open-report"
                onClick={() => setHashParams({ screen: 'reports', run: run.id })}
              >
                Open the report of this run
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
