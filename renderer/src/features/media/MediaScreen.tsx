import { useEffect, useId, useState } from 'react';
import type { WireError } from '../../../../shared/errors';
import { formatBytes, formatTimeWithAge } from '../../../../shared/format';
import { ConfirmButton } from '../../components/Confirm';
import { ErrorBox } from '../../components/ErrorBox';
import { CliCommand, JobProgress } from '../../components/JobProgress';
import { getApi } from '../../lib/api';
import { useFocusOnChange } from '../../lib/use-focus';
import { useScreenJob } from '../../lib/use-job';
import { useResult } from '../../lib/use-result';
import { PruneCard } from './PruneCard';
import { AzureMediumForm } from './AzureMediumForm';
import { S3MediumForm, type S3Draft } from './S3MediumForm';

/** What a scan job returns (engine/api/overview-media-handlers.ts, ScanJobResult). */
interface ScanSummaryView {
  mediumId: string;
  label: string | null;
  location: string;
  initialized: boolean;
  sets: { total: number; new: number; missing: number };
  foreign: { seedScript: number; pgbackrest: number; restic?: number };
  unreadable: Array<{ path: string; reason: string }>;
  /** Other tools' backups recognised and not read (catalog/scan.ts ScanSummary.findings): never a silent zero. */
  findings?: Array<{ path: string; what: string; needs: string; blocking: boolean }>;
  hints: string[];
}
interface ScanJobView {
  inside: string | null;
  media: ScanSummaryView[];
  failed: Array<{ location: string; message: string }>;
  empty: boolean;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** Make a folder (or s3:// or azure:// location) a Lifeboat medium from the app, as `lifeboat medium init` does, then scan it. */
function InitMedium({ location, onDone }: { location: string; onDone: (location: string) => void }): React.JSX.Element {
  const api = getApi();
  const [label, setLabel] = useState('');
  const [error, setError] = useState<WireError | null>(null);
  const id = useId();
  const heading = useFocusOnChange<HTMLHeadingElement>(location);
  const init = async (): Promise<void> => {
    setError(null);
    const r = await api.initMedium({ location, label: label.trim() });
    if (r.ok) onDone(r.value.location);
    else setError(r.error);
  };
  return (
    <form
      className="form init"
      data-testid="init-medium"
      onSubmit={(e) => {
        e.preventDefault();
        void init();
      }}
    >
      <h3 ref={heading} tabIndex={-1}>
        Initialise {location} as a medium
      </h3>
      <p className="muted">Writes lifeboat-medium.json with a new id and this label; nothing else on it changes.</p>
      <div className="row">
        <label>
          Label (written on the drive)
          <input
            type="text"
            required
            value={label}
            onChange={(e) => setLabel(e.target.value)}
            placeholder="usb-2"
            data-testid="init-label"
            aria-describedby={error ? `${id}-err` : undefined}
          />
        </label>
        <button
          type="submit"
          className="primary"
          data-testid="init-submit"
          disabled={!label.trim()}
          aria-describedby={label.trim() ? undefined : `${id}-why`}
        >
          Initialise this medium
        </button>
        {!label.trim() && (
          <span id={`${id}-why`} className="muted small">
            Give a label first.
          </span>
        )}
        <CliCommand args={['lifeboat', 'medium', 'init', location, '--label', label.trim() || '<label>']} />
      </div>
      {error && (
        <div id={`${id}-err`}>
          <ErrorBox error={error} />
        </div>
      )}
    </form>
  );
}

/** The outcome of a scan in words: what each medium holds, media found inside a folder, or nothing to read. */
function ScanOutcome({
  result,
  onInit,
}: {
  result: ScanJobView;
  onInit: (location: string) => void;
}): React.JSX.Element {
  const heading = useFocusOnChange<HTMLHeadingElement>(result);
  const title = result.empty
    ? `Nothing Lifeboat can read in ${result.media[0]?.location ?? 'this folder'}: it was not added.`
    : result.inside
      ? `Found ${result.media.map((m) => m.label ?? m.location).join(', ')} inside ${result.inside}.`
      : `Scan finished: ${plural(result.media[0]?.sets.total ?? 0, 'set')} on ${result.media[0]?.label ?? result.media[0]?.location ?? 'the medium'}.`;
  return (
    <div data-testid="scan-result">
      <h3 ref={heading} tabIndex={-1}>
        {title}
      </h3>
      {result.empty && (
        <p>It has no lifeboat-medium.json, no sets and nothing foreign. Initialise it to back up to it.</p>
      )}
      <ul>
        {!result.empty &&
          result.media.map((m) => (
            <li key={m.mediumId} data-testid="scan-medium">
              <strong>{m.label ?? '(no label)'}</strong> <span className="mono">{m.location}</span>:{' '}
              {plural(m.sets.total, 'set')} ({m.sets.new} new
              {m.sets.missing ? `, ${m.sets.missing} missing since the last scan` : ''})
              {m.foreign.seedScript + m.foreign.pgbackrest + (m.foreign.restic ?? 0) > 0 &&
                `; foreign, read-only: ${m.foreign.seedScript} seed-script sets, ${m.foreign.pgbackrest} pgBackRest backups, ${m.foreign.restic ?? 0} restic snapshots`}
              {m.findings?.map((f) => (
                <span
                  key={`${f.path}:${f.what}`}
                  className="hint"
                  data-testid="scan-finding"
                  data-blocking={f.blocking}
                >
                  {' '}
                  {f.blocking ? 'Needs' : 'Found'}: {f.what} — needs {f.needs}.
                </span>
              ))}
              {m.unreadable.map((u) => (
                <span key={u.path} className="hint">
                  {' '}
                  Unreadable: {u.path} — {u.reason}.
                </span>
              ))}
              {/* The CLI hint to run `lifeboat medium init` is replaced by the app's own button. */}
              {m.hints
                .filter((h) => !h.includes('lifeboat medium init'))
                .map((h) => (
                  <span key={h} className="hint">
                    {' '}
                    {h}
                  </span>
                ))}
              {!m.initialized && (
                <>
                  {' '}
                  <span className="hint">Not a Lifeboat medium (cataloged by its path).</span>{' '}
                  <button type="button" className="secondary" onClick={() => onInit(m.location)}>
                    Initialise {m.location}
                  </button>
                </>
              )}
            </li>
          ))}
        {result.failed.map((f) => (
          <li key={f.location}>
            <span className="status status-red">not scanned</span> <span className="mono">{f.location}</span>:{' '}
            {f.message}
          </li>
        ))}
      </ul>
      {result.empty && (
        <button type="button" className="secondary" onClick={() => onInit(result.media[0]!.location)}>
          Initialise {result.media[0]?.location}
        </button>
      )}
    </div>
  );
}

/** Media: add a folder (the app's folder picker, or a path typed here) or an S3 medium, scan it, see what each holds. */
export function MediaScreen(): React.JSX.Element {
  const api = getApi();
  const [media, reload] = useResult(() => api.listMedia({}));
  const [location, setLocation] = useState('');
  const [canPick, setCanPick] = useState(false);
  const [initAt, setInitAt] = useState<string | null>(null);
  const [pruneOf, setPruneOf] = useState<{ location: string; name: string } | null>(null);
  const [edit, setEdit] = useState<S3Draft | null>(null);
  const [removed, setRemoved] = useState<string | null>(null);
  const [rowError, setRowError] = useState<{ id: string; error: WireError } | null>(null);
  const fieldId = useId();
  useEffect(() => {
    void api.getAppInfo({}).then((r) => setCanPick(r.ok && r.value.frontDoor === 'app'));
  }, [api]);
  const pick = async (): Promise<void> => {
    const r = await api.pickFolder({ title: 'Choose a backup medium (a folder or a mounted drive)' });
    if (r.ok && r.value.path) setLocation(r.value.path);
    else if (r.ok && !r.value.available) setCanPick(false);
  };
  const [error, setError] = useState<WireError | null>(null);
  // The running or last scan re-attaches after a reload or a trip to another screen, as on Verify.
  const { job, track } = useScreenJob(['scan'], 'lifeboat.media.job', () => reload());
  // The previous scan's result is hidden once a new scan is asked for, so a refusal never sits beside an old result.
  const [hideResultOf, setHideResultOf] = useState<string | null>(null);
  const scan = async (loc: string): Promise<void> => {
    setError(null);
    setInitAt(null);
    setRemoved(null);
    setHideResultOf(job?.id ?? null);
    const r = await api.startScan({ location: loc.trim() });
    if (r.ok) track(r.value);
    else setError(r.error);
  };
  const remove = async (id: string, name: string): Promise<void> => {
    setRowError(null);
    const r = await api.removeMedium({ id });
    if (!r.ok) return setRowError({ id, error: r.error });
    setRemoved(
      `${name} was removed from the catalog${r.value.setsForgotten ? ` with the ${plural(r.value.setsForgotten, 'set')} only it held` : ''}. Its files are untouched; scan it again to bring it back.`,
    );
    reload();
  };
  const removedNote = useFocusOnChange<HTMLParagraphElement>(removed);
  const shown = job && job.id !== hideResultOf ? job : null;
  // A catalog rebuild is a 'scan' job too (re-attached while it runs); its result has another shape and is not drawn here.
  const done = (shown?.status === 'succeeded' ? shown.result : null) as ScanJobView | null;
  const result = done && Array.isArray(done.failed) ? done : null;
  const running = job?.status === 'running';
  return (
    <section aria-labelledby="screen-title">
      <h1 id="screen-title">Media</h1>
      <article className="card">
        <h2>Add or rescan a folder</h2>
        <form
          className="form"
          onSubmit={(e) => {
            e.preventDefault();
            void scan(location);
          }}
        >
          <label>
            Folder path (absolute), a folder holding several media, or an S3 or Azure location already set up
            <input
              type="text"
              data-testid="medium-location"
              value={location}
              onChange={(e) => setLocation(e.target.value)}
              placeholder="/media/usb-1  or  s3://bucket/prefix  or  azure://container/prefix"
              required
              aria-invalid={error ? true : undefined}
              aria-describedby={error ? `${fieldId}-err` : undefined}
            />
          </label>
          {error && (
            <div id={`${fieldId}-err`} data-testid="location-error">
              <ErrorBox error={error} />
            </div>
          )}
          <div className="row">
            {canPick && (
              <button type="button" className="secondary" onClick={() => void pick()} data-testid="pick-folder">
                Choose folder…
              </button>
            )}
            <button
              type="submit"
              className="primary"
              data-testid="scan"
              disabled={!location.trim() || running}
              aria-describedby={`${fieldId}-scan-why`}
            >
              Scan
            </button>
            <span id={`${fieldId}-scan-why`} className="muted small">
              {running ? 'A scan is running.' : !location.trim() ? 'Type a folder path first.' : ''}
            </span>
            <CliCommand
              args={['lifeboat', 'scan', location.trim() || '<folder | s3://bucket/prefix | azure://container/prefix>']}
            />
          </div>
        </form>
        {shown && (
          <div data-testid="scan-job" data-job-id={shown.id}>
            <JobProgress job={shown} label="Scan" />
          </div>
        )}
        {result && <ScanOutcome result={result} onInit={setInitAt} />}
        {initAt && (
          <InitMedium
            location={initAt}
            onDone={(loc) => {
              setInitAt(null);
              void scan(loc);
            }}
          />
        )}
      </article>
      <S3MediumForm onScan={scan} edit={edit} onEditDone={() => setEdit(null)} />
      <AzureMediumForm onScan={scan} />
      <article className="card wide" aria-labelledby="known-media-title">
        <h2 id="known-media-title">Known media</h2>
        {removed && (
          <p ref={removedNote} tabIndex={-1} role="status" className="hint" data-testid="medium-removed">
            {removed}
          </p>
        )}
        {media.state === 'error' && <ErrorBox error={media.error} />}
        {media.state === 'ready' && media.value.length === 0 && (
          <p className="muted">No medium yet: add a folder or an S3 location above.</p>
        )}
        {media.state === 'ready' && media.value.length > 0 && (
          <div className="table-wrap">
            <table className="table" data-testid="media-table">
              <thead>
                <tr>
                  <th scope="col">Label</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Location</th>
                  <th scope="col">Sets</th>
                  <th scope="col">Size</th>
                  <th scope="col">Last scan</th>
                  <th scope="col">Last verification</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {media.value.map((m) => {
                  const name = m.label ?? m.location;
                  const s3 = m.location.startsWith('s3://');
                  return (
                    <tr key={m.id} data-testid="medium-row" data-medium={name}>
                      <td>{m.label ?? <span className="muted">(no label)</span>}</td>
                      <td>{m.kind}</td>
                      <td className="mono">{m.location}</td>
                      <td>
                        {m.sets}
                        {m.missingSets > 0 && <span className="hint"> (+{m.missingSets} missing)</span>}
                      </td>
                      <td>{formatBytes(m.bytes)}</td>
                      <td>
                        {m.lastSync ? formatTimeWithAge(m.lastSync) : 'never'}
                        {m.lastError ? <span className="status status-red"> {m.lastError}</span> : null}
                      </td>
                      <td data-testid="medium-verified">
                        {m.lastVerifiedAt ? (
                          formatTimeWithAge(m.lastVerifiedAt)
                        ) : (
                          <span className="hint">never verified</span>
                        )}
                        {m.failingSets > 0 && (
                          <span className="status status-red"> {plural(m.failingSets, 'set')} failing</span>
                        )}
                      </td>
                      <td className="row-actions">
                        <button
                          type="button"
                          className="secondary"
                          onClick={() => void scan(m.location)}
                          disabled={running}
                          aria-label={`Rescan ${name}`}
                        >
                          Rescan
                        </button>
                        {s3 && (
                          <button
                            type="button"
                            className="secondary"
                            onClick={() => setEdit(draftOf(m.location))}
                            aria-label={`Edit the settings and keys of ${name}`}
                          >
                            Edit
                          </button>
                        )}
                        {m.id.startsWith('path:') && !s3 && (
                          <button
                            type="button"
                            className="secondary"
                            onClick={() => setInitAt(m.location)}
                            aria-label={`Initialise ${name}`}
                          >
                            Initialise
                          </button>
                        )}
                        <button
                          type="button"
                          className="secondary"
                          onClick={() => setPruneOf({ location: m.location, name })}
                          aria-label={`Retention on ${name}`}
                        >
                          Retention…
                        </button>
                        <ConfirmButton
                          danger
                          label={`Remove ${name}`}
                          testId={`remove-${name}`}
                          confirmLabel={`Yes, remove ${name} from the catalog`}
                          message={`${name} leaves the catalog, with the sets no other medium holds. Nothing on the medium is deleted: its files stay, and a scan brings it back.`}
                          onConfirm={() => remove(m.id, name)}
                        />
                        {rowError?.id === m.id && <ErrorBox error={rowError.error} />}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </article>
      {pruneOf && <PruneCard key={pruneOf.location} location={pruneOf.location} name={pruneOf.name} onDone={reload} />}
    </section>
  );
}

/** The S3 form's fields from an s3://bucket/prefix location (endpoint, region and keys come from its saved settings). */
function draftOf(location: string): S3Draft {
  const rest = location.slice('s3://'.length);
  const slash = rest.indexOf('/');
  return {
    bucket: slash < 0 ? rest : rest.slice(0, slash),
    prefix: slash < 0 ? '' : rest.slice(slash + 1),
    endpoint: '',
    region: '',
    credential: '',
  };
}
