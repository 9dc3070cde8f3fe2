import type { JobSnapshot } from '../../../shared/domain/jobs';
import { formatBytes } from '../../../shared/format';
import { shellLine } from '../../../shared/shell-quote';
import { getApi } from '../lib/api';
import { formatDuration } from '../../../shared/format';
import { jobState } from '../lib/use-job';
import { ErrorBox } from './ErrorBox';

/** A job's progress: step, bar, bytes/items, rate, ETA, current item, a cancel button; the error when it failed. */
export function JobProgress({ job, label }: { job: JobSnapshot; label: string }): React.JSX.Element {
  const c = job.counters;
  const fraction = c.bytesTotal ? c.bytesDone / c.bytesTotal : c.itemsTotal ? c.itemsDone / c.itemsTotal : null;
  const running = job.status === 'running';
  // The badge says what the job found, not only that it ran to its end (a verification with failures is no green).
  const state = jobState(job);
  return (
    <div
      className="job"
      data-testid={`job-${job.kind}`}
      data-status={job.status}
      data-outcome={state.state}
      role="status"
      aria-live="polite"
    >
      <div className="job-head">
        <strong>{label}</strong>
        <span className={`status status-${state.tone}`} data-testid="job-state">
          {state.text}
        </span>
        {job.headline && job.status === 'succeeded' && (
          <span className={job.outcome === 'findings' ? 'job-headline bad' : 'job-headline'} data-testid="job-headline">
            {job.headline}
          </span>
        )}
        {running && (
          <button
            type="button"
            className="link"
            onClick={() => void getApi().cancelJob({ id: job.id })}
            aria-label={`Cancel ${label.toLowerCase()}`}
            data-testid="job-cancel"
          >
            Cancel
          </button>
        )}
      </div>
      {running && (
        <>
          <progress max={1} value={fraction ?? undefined} aria-label={`${label} progress`} />
          <div className="muted job-facts">
            <span>{job.step ?? 'starting'}</span>
            {c.bytesTotal ? (
              <span>
                {formatBytes(c.bytesDone)} / {formatBytes(c.bytesTotal)}
              </span>
            ) : c.bytesDone > 0 ? (
              <span>{formatBytes(c.bytesDone)}</span>
            ) : null}
            {c.itemsTotal ? (
              <span>
                {c.itemsDone} / {c.itemsTotal}
              </span>
            ) : null}
            {job.bytesPerSecond ? <span>{formatBytes(job.bytesPerSecond)}/s</span> : null}
            {job.etaSeconds ? <span>ETA {formatDuration(job.etaSeconds)}</span> : null}
            {job.current && <span className="mono">{job.current}</span>}
          </div>
        </>
      )}
      {job.error && job.status !== 'succeeded' && <ErrorBox error={job.error} />}
    </div>
  );
}

/**
 * The CLI command doing the same thing, to copy (as KopiaUI shows). Give `args` (each argument apart) rather than a
 * `command` text: the line is then shell-quoted (shared/shell-quote.ts) and runs as shown when pasted.
 */
export function CliCommand(p: { command: string } | { args: readonly string[] }): React.JSX.Element {
  const command = 'args' in p ? shellLine(p.args) : p.command;
  return (
    <div className="cli-hint" data-testid="cli-command">
      CLI: <code>{command}</code>{' '}
      <button
        type="button"
        className="link"
        onClick={() => void navigator.clipboard?.writeText(command)}
        aria-label={`Copy the command ${command}`}
      >
        Copy
      </button>
    </div>
  );
}
