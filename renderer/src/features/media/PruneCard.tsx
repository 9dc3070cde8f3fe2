import { useState } from 'react';
import type { WireError } from '../../../../shared/errors';
import { formatLocalTime } from '../../../../shared/format';
import { ConfirmButton } from '../../components/Confirm';
import { ErrorBox } from '../../components/ErrorBox';
import { CliCommand, JobProgress } from '../../components/JobProgress';
import { getApi } from '../../lib/api';
import { useFocusOnChange } from '../../lib/use-focus';
import { useJob } from '../../lib/use-job';

interface PruneView {
  applied: boolean;
  location: string;
  keep: Array<{ path: string; system: string; kind: string; createdAt: string; reasons: string[] }>;
  remove: Array<{ path: string; system: string; kind: string; createdAt: string; reasons: string[] }>;
  removed: string[];
  wal: Array<{ system: string; keepFrom: string | null; remove: number; kept: number }>;
  unreadable: Array<{ path: string; reason: string }>;
}

type Policy = { keepLast: number; keepDaily: number; keepWeekly: number; keepMonthly: number };
const FIELDS: Array<[keyof Policy, string, string]> = [
  ['keepLast', 'Keep the newest', '--keep-last'],
  ['keepDaily', 'Daily, for days', '--keep-daily'],
  ['keepWeekly', 'Weekly, for weeks', '--keep-weekly'],
  ['keepMonthly', 'Monthly, for months', '--keep-monthly'],
];

/** Retention on one medium: a preview listing what would go and why, then the removal behind a confirmation. */
export function PruneCard({
  location,
  name,
  onDone,
}: {
  location: string;
  name: string;
  onDone: () => void;
}): React.JSX.Element {
  const api = getApi();
  const [policy, setPolicy] = useState<Policy>({ keepLast: 7, keepDaily: 14, keepWeekly: 8, keepMonthly: 12 });
  // The removal applies the policy that was previewed, not one edited since.
  const [previewed, setPreviewed] = useState<Policy | null>(null);
  const [error, setError] = useState<WireError | null>(null);
  const { job, track } = useJob(null, (s) => {
    if (s.status === 'succeeded' && (s.result as PruneView | null)?.applied) onDone();
  });
  const view = (job?.status === 'succeeded' ? job.result : null) as PruneView | null;
  const heading = useFocusOnChange<HTMLHeadingElement>(view);
  const start = async (apply: boolean): Promise<void> => {
    setError(null);
    const p = apply && previewed ? previewed : policy;
    if (!apply) setPreviewed(policy);
    const r = await api.startPrune({ location, ...p, apply });
    if (r.ok) track(r.value);
    else setError(r.error);
  };
  const args = [
    'lifeboat',
    'prune',
    '--to',
    location,
    ...FIELDS.flatMap(([k, , flag]) => (policy[k] > 0 ? [flag, String(policy[k])] : [])),
  ];
  const running = job?.status === 'running';
  return (
    <section className="card wide" aria-labelledby="prune-title" data-testid="prune">
      <h2 id="prune-title">Retention on {name}</h2>
      <p className="muted">
        Sets outside the policy are removed from the medium itself; a set’s chain parents and unreadable sets are always
        kept.
      </p>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          void start(false);
        }}
      >
        <div className="row">
          {FIELDS.map(([k, label]) => (
            <label key={k}>
              {label}
              <input
                type="number"
                min={0}
                step={1}
                value={policy[k]}
                onChange={(e) => setPolicy({ ...policy, [k]: Math.max(0, Math.floor(Number(e.target.value) || 0)) })}
                data-testid={`prune-${k}`}
              />
            </label>
          ))}
        </div>
        <div className="row">
          <button type="submit" className="primary" data-testid="prune-preview" disabled={running}>
            Preview what would go
          </button>
          <CliCommand args={args} />
        </div>
      </form>
      {error && <ErrorBox error={error} />}
      {job && <JobProgress job={job} label="Retention" />}
      {view && (
        <div data-testid="prune-result" data-applied={view.applied}>
          <h3 ref={heading} tabIndex={-1}>
            {view.applied
              ? `Removed ${view.removed.length} set${view.removed.length === 1 ? '' : 's'} from ${name}.`
              : `Preview: ${view.remove.length} set${view.remove.length === 1 ? '' : 's'} would go, ${view.keep.length} would stay.`}
          </h3>
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">Set</th>
                  <th scope="col">Made</th>
                  <th scope="col">Decision</th>
                  <th scope="col">Why</th>
                </tr>
              </thead>
              <tbody>
                {[
                  ...view.remove.map((d) => ({ ...d, keep: false })),
                  ...view.keep.map((d) => ({ ...d, keep: true })),
                ].map((d) => (
                  <tr key={d.path} data-testid="prune-row" data-keep={d.keep}>
                    <td className="mono">{d.path}</td>
                    <td>{formatLocalTime(d.createdAt)}</td>
                    <td>
                      {d.keep ? (
                        <span className="status status-green">keep</span>
                      ) : (
                        <span className="status status-red">{view.applied ? 'removed' : 'remove'}</span>
                      )}
                    </td>
                    <td>{d.reasons.join(', ')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {view.wal.map((w) => (
            <p key={w.system}>
              WAL of {w.system}:{' '}
              {w.keepFrom
                ? `${w.remove} file${w.remove === 1 ? '' : 's'} older than the oldest kept base backup ${view.applied ? 'removed' : 'would go'}; ${w.kept} kept.`
                : `all ${w.kept} files kept (no kept base backup to anchor them).`}
            </p>
          ))}
          {view.unreadable.map((u) => (
            <p key={u.path} className="hint">
              Left alone (unreadable manifest): {u.path} — {u.reason}
            </p>
          ))}
          {!view.applied && view.remove.length > 0 && (
            <ConfirmButton
              danger
              label={`Remove ${view.remove.length} set${view.remove.length === 1 ? '' : 's'} from ${name}`}
              testId="prune-apply"
              confirmLabel={`Yes, delete ${view.remove.length} set${view.remove.length === 1 ? '' : 's'} from ${name}`}
              message={`The ${view.remove.length} set folders marked “remove” above are deleted from ${location}. This cannot be undone.`}
              onConfirm={() => start(true)}
              disabled={running}
              disabledWhy="Retention is running."
            />
          )}
        </div>
      )}
    </section>
  );
}
