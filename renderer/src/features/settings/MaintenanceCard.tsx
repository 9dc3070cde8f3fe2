import { useState } from 'react';
import type { ChannelOutput } from '../../../../shared/ipc/contract';
import type { WireError } from '../../../../shared/errors';
import { formatTimeWithAge } from '../../../../shared/format';
import { ConfirmButton } from '../../components/Confirm';
import { ErrorBox } from '../../components/ErrorBox';
import { CliCommand, JobProgress } from '../../components/JobProgress';
import { getApi } from '../../lib/api';
import { useFocusOnChange } from '../../lib/use-focus';
import { useJob } from '../../lib/use-job';

interface RebuildResult {
  copy: string;
  media: Array<{ location: string; label?: string | null; sets?: number; error?: string }>;
}

/** The CLI's maintenance in the app: `journal verify` over every run, and `scan --rebuild` (confirmed). */
export function MaintenanceCard(): React.JSX.Element {
  const api = getApi();
  const [journals, setJournals] = useState<ChannelOutput<'verifyJournals'> | null>(null);
  const [journalError, setJournalError] = useState<WireError | null>(null);
  const [rebuildError, setRebuildError] = useState<WireError | null>(null);
  const { job, track } = useJob(null);
  const journalHeading = useFocusOnChange<HTMLHeadingElement>(journals);
  const rebuild = (job?.status === 'succeeded' ? job.result : null) as RebuildResult | null;
  const rebuildHeading = useFocusOnChange<HTMLHeadingElement>(rebuild);
  const verify = async (): Promise<void> => {
    setJournalError(null);
    const r = await api.verifyJournals({});
    if (r.ok) setJournals(r.value);
    else setJournalError(r.error);
  };
  const startRebuild = async (): Promise<void> => {
    setRebuildError(null);
    const r = await api.startRebuild({});
    if (r.ok) track(r.value);
    else setRebuildError(r.error);
  };
  const broken = journals?.filter((j) => !j.ok) ?? [];
  return (
    <article className="card wide" aria-labelledby="maintenance-title" data-testid="maintenance">
      <h2 id="maintenance-title">Catalog maintenance</h2>
      <h3>Run journals</h3>
      <p className="muted">
        Each run’s journal is hash-chained: recomputing the chain shows any edited, deleted or added event.
      </p>
      <div className="actions">
        <button type="button" className="secondary" data-testid="journal-verify" onClick={() => void verify()}>
          Check every run’s journal
        </button>
        <CliCommand args={['lifeboat', 'journal', 'verify', '<run id>']} />
      </div>
      {journalError && <ErrorBox error={journalError} />}
      {journals && (
        <div data-testid="journal-result">
          <h4 ref={journalHeading} tabIndex={-1}>
            {journals.length === 0
              ? 'No run has a journal yet.'
              : broken.length === 0
                ? `All ${journals.length} journal${journals.length === 1 ? ' is' : 's are'} intact.`
                : `${broken.length} of ${journals.length} journals are BROKEN.`}
          </h4>
          {journals.length > 0 && (
            <div className="table-wrap">
              <table className="table">
                <thead>
                  <tr>
                    <th scope="col">Run</th>
                    <th scope="col">Started</th>
                    <th scope="col">Journal</th>
                  </tr>
                </thead>
                <tbody>
                  {journals.map((j) => (
                    <tr key={j.runId} data-testid="journal-row" data-ok={j.ok}>
                      <td>
                        {j.title} {j.drill && <span className="tag">drill</span>}{' '}
                        <span className="muted">{j.status}</span>
                      </td>
                      <td>{formatTimeWithAge(j.startedAt)}</td>
                      <td>
                        {j.ok ? (
                          <span className="status status-green">intact, {j.events} events</span>
                        ) : (
                          <>
                            <span className="status status-red">broken</span>
                            <ul>
                              {j.problems.map((p) => (
                                <li key={p}>{p}</li>
                              ))}
                            </ul>
                          </>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </div>
      )}
      <h3>Rebuild the catalog from the media</h3>
      <p className="muted">
        Forgets every medium and set the catalog knows and scans every known medium again. Pinned keys, runs, journals
        and the verification history stay; a copy of the catalog is kept first. Media not connected now come back when
        scanned.
      </p>
      <div className="actions">
        <ConfirmButton
          label="Rebuild the catalog"
          testId="rebuild"
          confirmLabel="Yes, rebuild the catalog now"
          message="Every medium and set leaves the catalog, then the known media are rescanned. Nothing on any medium is changed. A copy of the catalog file is kept beside it."
          onConfirm={startRebuild}
          disabled={job?.status === 'running'}
          disabledWhy="A rebuild is running."
        />
        <CliCommand args={['lifeboat', 'scan', '--rebuild']} />
      </div>
      {rebuildError && <ErrorBox error={rebuildError} />}
      {job && <JobProgress job={job} label="Rebuild" />}
      {rebuild && (
        <div data-testid="rebuild-result">
          <h4 ref={rebuildHeading} tabIndex={-1}>
            Catalog rebuilt from {rebuild.media.length} known media.
          </h4>
          <ul>
            {rebuild.media.map((m) => (
              <li key={m.location}>
                {m.error ? (
                  <>
                    <span className="status status-red">not scanned</span> {m.location}: {m.error}
                  </>
                ) : (
                  <>
                    {m.label ?? m.location}: {m.sets} set{m.sets === 1 ? '' : 's'}
                  </>
                )}
              </li>
            ))}
          </ul>
          <p className="muted">
            The catalog before the rebuild is kept at <span className="mono">{rebuild.copy}</span>.
          </p>
        </div>
      )}
    </article>
  );
}
