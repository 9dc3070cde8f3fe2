import { useEffect, useRef, useState } from 'react';
import type { JobSnapshot } from '../../../shared/domain/jobs';
import { formatBytes, formatTimeWithAge } from '../../../shared/format';
import { getApi } from '../lib/api';
import { setHashParams } from '../lib/hash';
import { jobState } from '../lib/use-job';

const KIND_TEXT: Record<string, string> = {
  verify: 'Verification',
  'verify-wal': 'WAL check',
  scan: 'Scan',
  run: 'Runbook run',
  'self-check': 'Self-check',
};

/** Where a job's result is shown in full: its screen, opened on that job. */
function openOnScreen(job: JobSnapshot): (() => void) | null {
  if (job.kind === 'verify' || job.kind === 'verify-wal')
    return () => setHashParams({ screen: 'verify', job: job.id, run: null });
  const run = (job.result as { run?: unknown } | null)?.run;
  if (job.kind === 'run')
    return () => setHashParams({ screen: 'runbooks', run: typeof run === 'string' ? run : null, job: null });
  if (job.kind === 'scan') return () => setHashParams({ screen: 'media', job: null, run: null });
  return null;
}

/** Running and recent jobs of this engine (the engine keeps the 50 newest finished), live from the job events. */
function useJobList(): JobSnapshot[] {
  const [jobs, setJobs] = useState<JobSnapshot[]>([]);
  useEffect(() => {
    const api = getApi();
    let live = true;
    void api.listJobs({}).then((r) => {
      if (live && r.ok) setJobs((now) => merge(r.value, now));
    });
    const off = api.onJobEvent((e) => {
      // Log and progress events carry the snapshot too; only its latest state is kept.
      setJobs((now) => merge([e.snapshot], now));
    });
    return () => {
      live = false;
      off();
    };
  }, []);
  return jobs;
}

function merge(fresh: JobSnapshot[], known: JobSnapshot[]): JobSnapshot[] {
  const byId = new Map(known.map((j) => [j.id, j]));
  for (const j of fresh) {
    const old = byId.get(j.id);
    // A late progress event must not bring a finished job back to running.
    if (!old || old.status === 'running') byId.set(j.id, j);
  }
  return [...byId.values()].sort((a, b) => b.startedAt.localeCompare(a.startedAt)).slice(0, 60);
}

/**
 * The Jobs panel, reachable from every screen (mounted once in the shell): running jobs with their progress, and recent
 * ones with their pass/fail headline; each opens where its result is shown in full.
 */
export function JobsPanel(): React.JSX.Element {
  const jobs = useJobList();
  const [open, setOpen] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  const toggle = useRef<HTMLButtonElement>(null);
  const running = jobs.filter((j) => j.status === 'running').length;
  useEffect(() => {
    if (open) heading.current?.focus();
  }, [open]);
  const close = (): void => {
    setOpen(false);
    toggle.current?.focus();
  };
  return (
    <div className="jobs-dock">
      <button
        ref={toggle}
        type="button"
        className="nav-item"
        aria-expanded={open}
        aria-controls="jobs-panel"
        data-testid="jobs-toggle"
        onClick={() => (open ? close() : setOpen(true))}
      >
        Jobs{running ? ` (${running} running)` : ''}
      </button>
      {open && (
        <section
          id="jobs-panel"
          className="jobs-panel"
          aria-labelledby="jobs-panel-title"
          data-testid="jobs-panel"
          onKeyDown={(e) => e.key === 'Escape' && close()}
        >
          <div className="jobs-panel-head">
            <h2 id="jobs-panel-title" tabIndex={-1} ref={heading}>
              Jobs
            </h2>
            <button type="button" className="secondary" onClick={close} data-testid="jobs-close">
              Close the jobs list
            </button>
          </div>
          {jobs.length === 0 && <p className="muted">No job has run since Lifeboat started.</p>}
          <ul className="jobs-list">
            {jobs.map((j) => (
              <JobRow key={j.id} job={j} onOpen={close} />
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}

function JobRow({ job, onOpen }: { job: JobSnapshot; onOpen: () => void }): React.JSX.Element {
  const state = jobState(job);
  const openIt = openOnScreen(job);
  const c = job.counters;
  return (
    <li className="jobs-row" data-testid="jobs-row" data-job-id={job.id} data-kind={job.kind} data-state={state.state}>
      <div className="job-head">
        <strong>{job.title}</strong>
        <span className={`status status-${state.tone}`}>{state.text}</span>
      </div>
      <div className="muted job-facts">
        <span>{KIND_TEXT[job.kind] ?? job.kind}</span>
        <span>started {formatTimeWithAge(job.startedAt)}</span>
        {job.status === 'running' && c.itemsTotal ? (
          <span>
            {c.itemsDone} of {c.itemsTotal}
          </span>
        ) : null}
        {job.status === 'running' && c.bytesDone > 0 ? (
          <span>
            {formatBytes(c.bytesDone)}
            {c.bytesTotal ? ` of ${formatBytes(c.bytesTotal)}` : ''}
          </span>
        ) : null}
        {job.status === 'running' && job.current ? <span className="mono">{job.current}</span> : null}
      </div>
      {job.headline && (
        <p className={state.tone === 'red' ? 'job-headline bad' : 'job-headline'} data-testid="jobs-headline">
          {job.headline}
        </p>
      )}
      <div className="actions">
        {openIt && (
          <button
            type="button"
            className="secondary"
            aria-label={`Open ${job.title}`}
            data-testid="jobs-open"
            onClick={() => {
              openIt();
              onOpen();
            }}
          >
            Open
          </button>
        )}
        {job.status === 'running' && (
          <button
            type="button"
            className="secondary"
            aria-label={`Cancel ${job.title}`}
            data-testid="jobs-cancel"
            onClick={() => void getApi().cancelJob({ id: job.id })}
          >
            Cancel
          </button>
        )}
      </div>
    </li>
  );
}
