import { useEffect, useRef, useState } from 'react';
import type { JobSnapshot } from '../../../../shared/domain/jobs';
import { VERDICT_TEXT, VERIFY_LEVELS, type SetResult, type VerifyLevel } from '../../../../shared/domain/verify';
import type { WireError } from '../../../../shared/errors';
import { formatBytes, formatDurationMs, formatLocalTime } from '../../../../shared/format';
import { ErrorBox } from '../../components/ErrorBox';
import { CliCommand, JobProgress } from '../../components/JobProgress';
import { getApi } from '../../lib/api';
import { downloadText, setHashParams } from '../../lib/hash';
import { useResult } from '../../lib/use-result';
import { jobState, useScreenJob } from '../../lib/use-job';

interface Report {
  results: SetResult[];
  skipped: Array<{ key: string; reason: string }>;
  bytes: number;
  durationMs: number;
  bytesPerSecond: number | null;
}

interface WalReport {
  system: string;
  files: number;
  bytes: number;
  corrupt: Array<{ name: string; reason: string }>;
  unsigned: Array<{ name: string; state: string; reason: string }>;
  unsignedAccepted: boolean;
  gaps: Array<{ timeline: number; from: string; to: string }>;
  windows: Array<{ base: string; timeline: number; from: string; to: string | null; segments: number }>;
  ok: boolean;
}

/** Levels that read the content, so encrypted sets need a key. */
const KEYED: readonly VerifyLevel[] = ['deep', 'restore'];

/** A shell word as the operator would paste it (paths with spaces, `$`, quotes). */
function sh(word: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function reportHtml(r: Report, level: string): string {
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const rows = r.results
    .map(
      (x) =>
        `<tr><td>${esc(x.key)}</td><td>${x.verdict === 'ok' ? 'OK' : x.verdict === 'not-checked' ? 'NOT CHECKED' : 'FAIL'}</td><td>${esc(x.verdict === 'ok' ? '' : VERDICT_TEXT[x.verdict])}${x.detail ? ` — ${esc(x.detail)}` : ''}</td><td>${esc(x.location)}</td></tr>`,
    )
    .join('');
  return `<!doctype html><meta charset="utf-8"><title>Verification report</title><h1>Verification at ${esc(level)} level</h1><table border="1" cellpadding="4"><tr><th>Set</th><th>Verdict</th><th>Why</th><th>Medium</th></tr>${rows}</table>`;
}

/**
 * Verify: a medium, a set folder or a set id, at a level, with the keychain's age identities used by default; the WAL
 * archive of a system. The running or last job re-attaches after a reload or a trip to another screen.
 */
export function VerifyScreen(): React.JSX.Element {
  const api = getApi();
  const [target, setTarget] = useState('');
  const [level, setLevel] = useState<VerifyLevel>('integrity');
  const [identity, setIdentity] = useState('');
  const [useKeychain, setUseKeychain] = useState(true);
  const [error, setError] = useState<WireError | null>(null);
  const [creds] = useResult(() => api.listCredentials({}));
  const resultHeading = useRef<HTMLHeadingElement>(null);
  const { job, track } = useScreenJob(['verify', 'verify-wal'], 'lifeboat.verify.job', () => {
    // Focus follows the new content: the result's headline once the job ends.
    setTimeout(() => resultHeading.current?.focus(), 0);
  });
  const startError = useRef<HTMLDivElement>(null);
  // A refused start moves the focus to why (as on Runbooks): the Verify button does not say it was refused.
  useEffect(() => {
    if (error) startError.current?.focus();
  }, [error]);
  const keys = creds.state === 'ready' ? creds.value.credentials.filter((c) => c.kind === 'age' && c.keyId) : [];
  const start = async (): Promise<void> => {
    setError(null);
    const r = await api.startVerify({
      target: target.trim(),
      level,
      identityFiles: identity.trim() ? [identity.trim()] : [],
      onlyNew: false,
      olderThanDays: null,
      jobs: 2,
      useKeychain,
    });
    if (r.ok) track(r.value);
    else setError(r.error);
  };
  const running = job?.status === 'running';
  const keyed = KEYED.includes(level);
  const why = running
    ? 'A check is running: wait for it or cancel it.'
    : !target.trim()
      ? 'Give a medium, a set folder or a set id.'
      : null;
  return (
    <section aria-labelledby="screen-title">
      <h1 id="screen-title">Verify</h1>
      <form
        className="form card"
        aria-labelledby="verify-sets-title"
        onSubmit={(e) => {
          e.preventDefault();
          void start();
        }}
      >
        <h2 id="verify-sets-title">Verify sets</h2>
        <label>
          Medium, set folder or set id
          <input
            type="text"
            value={target}
            onChange={(e) => setTarget(e.target.value)}
            data-testid="verify-target"
            required
            placeholder="/media/usb-1  or  20261121T020000Z-pg-logical"
          />
        </label>
        <div className="row">
          <label>
            Level
            <select value={level} onChange={(e) => setLevel(e.target.value as VerifyLevel)} data-testid="verify-level">
              {VERIFY_LEVELS.map((l) => (
                <option key={l} value={l}>
                  {l}
                </option>
              ))}
            </select>
          </label>
          <label>
            Another age identity file (optional)
            <input
              type="text"
              value={identity}
              onChange={(e) => setIdentity(e.target.value)}
              placeholder="/path/to/laptop.age"
              data-testid="verify-identity"
            />
          </label>
        </div>
        <KeysNote
          keys={keys}
          keyed={keyed}
          useKeychain={useKeychain}
          setUseKeychain={setUseKeychain}
          loading={creds.state === 'loading'}
        />
        <div className="row">
          <button
            type="submit"
            className="primary"
            data-testid="verify-start"
            disabled={why !== null}
            aria-describedby={why ? 'verify-why' : undefined}
          >
            Verify
          </button>
          {why && (
            <span id="verify-why" className="muted">
              {why}
            </span>
          )}
        </div>
        <CliCommand
          command={`lifeboat verify ${target.trim() ? sh(target.trim()) : '<medium | set>'} --level ${level}${identity.trim() ? ` --identity ${sh(identity.trim())}` : ''}`}
        />
        {error && (
          <div ref={startError} tabIndex={-1} data-testid="start-error">
            <ErrorBox error={error} />
          </div>
        )}
      </form>
      <WalCheck disabledWhy={running ? 'A check is running: wait for it or cancel it.' : null} onStarted={track} />
      {job && <JobProgress job={job} label={job.kind === 'verify-wal' ? 'WAL check' : 'Verification'} />}
      {job?.status === 'failed' && job.error?.code === 'CREDENTIAL_UNAVAILABLE' && (
        <p data-testid="verify-key-missing">
          <button
            type="button"
            className="secondary"
            onClick={() => setHashParams({ screen: 'credentials', job: null })}
          >
            {keys.length
              ? 'Add the identity that opens these sets on Credentials'
              : 'Add an age identity on Credentials'}
          </button>
          {keys.length > 0 && (
            <span className="hint" data-testid="verify-key-missing-why">
              {' '}
              {useKeychain
                ? `The keychain holds ${keys.length === 1 ? 'an age identity' : `${keys.length} age identities`}, but none for the key these sets were encrypted to.`
                : 'The keychain’s identities were not used: tick “Use the keychain” above, or add the one that opens these sets.'}
            </span>
          )}
        </p>
      )}
      {job?.status === 'succeeded' && job.kind === 'verify' && <SetsResult job={job} headingRef={resultHeading} />}
      {job?.status === 'succeeded' && job.kind === 'verify-wal' && <WalResult job={job} headingRef={resultHeading} />}
    </section>
  );
}

function KeysNote({
  keys,
  keyed,
  useKeychain,
  setUseKeychain,
  loading,
}: {
  keys: Array<{ account: string; keyId: string | null; publicKey: string | null }>;
  keyed: boolean;
  useKeychain: boolean;
  setUseKeychain: (v: boolean) => void;
  loading: boolean;
}): React.JSX.Element {
  if (loading) return <p className="muted">Looking for age identities in the keychain…</p>;
  if (keys.length === 0) {
    return (
      <p className={keyed ? 'hint' : 'muted'} data-testid="verify-keys" data-keys="0">
        No age identity in the keychain.
        {keyed
          ? ' Encrypted sets are refused at this level until one is given: add it on Credentials, or name its file above.'
          : ''}
      </p>
    );
  }
  return (
    <div data-testid="verify-keys" data-keys={keys.length}>
      <label className="checkline">
        <input
          type="checkbox"
          checked={useKeychain}
          onChange={(e) => setUseKeychain(e.target.checked)}
          data-testid="verify-use-keychain"
        />
        Use the keychain&apos;s age {keys.length === 1 ? 'identity' : `identities (${keys.length})`}
      </label>
      <ul className="muted">
        {keys.map((k) => (
          <li key={k.account}>
            <span className="mono">{k.account}</span>: key {k.keyId}
          </li>
        ))}
      </ul>
    </div>
  );
}

function SetsResult({
  job,
  headingRef,
}: {
  job: JobSnapshot;
  headingRef: React.RefObject<HTMLHeadingElement | null>;
}): React.JSX.Element | null {
  const [media] = useResult(() => getApi().listMedia({}));
  // The medium by its label when the catalog knows one; the path stays as its title and secondary text.
  const labels = new Map(media.state === 'ready' ? media.value.map((m) => [m.id, m.label] as const) : []);
  const report = job.result as Report | null;
  if (!report) return null;
  const level = /\((\w+)\)$/.exec(job.title)?.[1] ?? '';
  const ordered = [
    ...report.results.filter((x) => x.verdict !== 'ok'),
    ...report.results.filter((x) => x.verdict === 'ok'),
  ];
  // Not checked is no failure (nothing is recorded against the set): counted apart.
  const failed = ordered.filter((x) => x.verdict !== 'ok' && x.verdict !== 'not-checked').length;
  const state = jobState(job);
  return (
    <article className="card wide" data-testid="verify-results" data-failed={failed} data-outcome={state.state}>
      <h2
        ref={headingRef}
        tabIndex={-1}
        className={state.tone === 'red' ? 'job-headline bad' : 'job-headline'}
        data-testid="verify-headline"
      >
        {job.headline ?? `${ordered.length} sets`}
        {level ? ` at ${level} level` : ''}
      </h2>
      <p className="muted">
        {job.title}, finished {job.finishedAt ? formatLocalTime(job.finishedAt) : ''}: {formatBytes(report.bytes)} read
        in {formatDurationMs(report.durationMs)}
        {report.bytesPerSecond ? ` at ${formatBytes(report.bytesPerSecond)}/s` : ''}; {report.skipped.length} skipped.
      </p>
      <table className="table">
        <thead>
          <tr>
            <th scope="col">Set</th>
            <th scope="col">Medium</th>
            <th scope="col">Verdict</th>
            <th scope="col">What it means</th>
          </tr>
        </thead>
        <tbody>
          {ordered.map((x) => (
            <tr key={`${x.key}@${x.mediumId}`} data-testid="verify-row" data-verdict={x.verdict}>
              <td className="mono">{x.key}</td>
              <td title={x.location} data-testid="verify-medium">
                {labels.get(x.mediumId) ? (
                  <>
                    {labels.get(x.mediumId)} <span className="muted small mono">{x.location}</span>
                  </>
                ) : (
                  x.location
                )}
              </td>
              <td>
                <span
                  className={`status status-${x.verdict === 'ok' ? 'green' : x.verdict === 'not-checked' ? 'amber' : 'red'}`}
                >
                  {x.verdict === 'not-checked' ? 'not checked' : x.verdict}
                </span>
              </td>
              <td>
                {x.verdict === 'ok' ? (x.detail ?? '') : VERDICT_TEXT[x.verdict]}
                {x.verdict !== 'ok' && x.detail ? `: ${x.detail}` : ''}
                {x.artifacts
                  .filter((a) => a.verdict !== 'ok')
                  .map((a) => (
                    <div key={a.path} className="muted">
                      {a.path}: {a.verdict}
                      {a.detail ? ` — ${a.detail}` : ''}
                    </div>
                  ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="actions">
        <button
          type="button"
          className="secondary"
          onClick={() => downloadText('verification.json', 'application/json', JSON.stringify(report, null, 2))}
        >
          Export the verification as JSON
        </button>
        <button
          type="button"
          className="secondary"
          onClick={() => downloadText('verification.html', 'text/html', reportHtml(report, level))}
        >
          Export the verification as HTML
        </button>
      </div>
    </article>
  );
}

/** `lifeboat verify <medium> --wal <system>`: offered only for systems whose WAL the catalog has seen, on those media. */
function WalCheck({
  disabledWhy,
  onStarted,
}: {
  disabledWhy: string | null;
  onStarted: (s: JobSnapshot) => void;
}): React.JSX.Element {
  const api = getApi();
  const [systems] = useResult(() => api.listSystems({}));
  const [media] = useResult(() => api.listMedia({}));
  const [system, setSystem] = useState('');
  const [mediumId, setMediumId] = useState('');
  const [allowUnsigned, setAllowUnsigned] = useState(false);
  const [error, setError] = useState<WireError | null>(null);
  const withWal = systems.state === 'ready' ? systems.value.filter((s) => s.wal.length > 0) : [];
  const chosen = withWal.find((s) => s.system === system) ?? withWal[0];
  const holders = chosen?.wal ?? [];
  const holder = holders.find((w) => w.mediumId === mediumId) ?? holders[0];
  const location =
    media.state === 'ready' && holder ? (media.value.find((m) => m.id === holder.mediumId)?.location ?? null) : null;
  const why =
    disabledWhy ??
    (withWal.length === 0
      ? 'No WAL archive is in the catalog: scan a medium that holds one.'
      : !location
        ? 'The medium holding this WAL is not known by its location: scan it again.'
        : null);
  const start = async (): Promise<void> => {
    if (!chosen || !location) return;
    setError(null);
    const r = await api.startVerifyWal({ location, system: chosen.system, allowUnsigned, identityFiles: [] });
    if (r.ok) onStarted(r.value);
    else setError(r.error);
  };
  return (
    <form
      className="form card"
      aria-labelledby="verify-wal-title"
      data-testid="verify-wal"
      onSubmit={(e) => {
        e.preventDefault();
        void start();
      }}
    >
      <h2 id="verify-wal-title">Check a WAL archive</h2>
      <div className="row">
        <label>
          System
          <select
            value={chosen?.system ?? ''}
            onChange={(e) => {
              // Another system: its WAL lives on other media, so the medium picked for the last one no longer applies.
              setSystem(e.target.value);
              setMediumId('');
            }}
            data-testid="wal-system"
            disabled={withWal.length === 0}
          >
            {withWal.map((s) => (
              <option key={s.system} value={s.system}>
                {s.system}
              </option>
            ))}
          </select>
        </label>
        <label>
          On medium
          <select
            value={holder?.mediumId ?? ''}
            onChange={(e) => setMediumId(e.target.value)}
            data-testid="wal-medium"
            disabled={holders.length === 0}
          >
            {holders.map((w) => (
              <option key={w.mediumId} value={w.mediumId}>
                {w.label ?? w.mediumId} ({w.files} files)
              </option>
            ))}
          </select>
        </label>
        <label className="checkline">
          <input type="checkbox" checked={allowUnsigned} onChange={(e) => setAllowUnsigned(e.target.checked)} />
          Report unsigned WAL files instead of failing them
        </label>
      </div>
      <div className="row">
        <button
          type="submit"
          className="primary"
          data-testid="wal-start"
          disabled={why !== null}
          aria-describedby={why ? 'wal-why' : undefined}
        >
          Check the WAL
        </button>
        {why && (
          <span id="wal-why" className="muted">
            {why}
          </span>
        )}
      </div>
      <CliCommand
        command={`lifeboat verify ${location ? sh(location) : '<medium>'} --wal ${chosen ? sh(chosen.system) : '<system>'}${allowUnsigned ? ' --allow-unsigned-wal' : ''}`}
      />
      {error && <ErrorBox error={error} />}
    </form>
  );
}

function WalResult({
  job,
  headingRef,
}: {
  job: JobSnapshot;
  headingRef: React.RefObject<HTMLHeadingElement | null>;
}): React.JSX.Element | null {
  const r = job.result as WalReport | null;
  if (!r) return null;
  const state = jobState(job);
  return (
    <article className="card wide" data-testid="wal-results" data-ok={String(r.ok)} data-outcome={state.state}>
      <h2
        ref={headingRef}
        tabIndex={-1}
        className={state.tone === 'red' ? 'job-headline bad' : 'job-headline'}
        data-testid="wal-headline"
      >
        {job.headline}
      </h2>
      <p className="muted">
        {r.files} WAL files, {formatBytes(r.bytes)} decoded and hash-checked.
      </p>
      {r.windows.length > 0 && (
        <>
          <h3>Recoverable windows</h3>
          <ul>
            {r.windows.map((w) => (
              <li key={`${w.base}-${w.timeline}`}>
                From base {w.base} (timeline {w.timeline}): {formatLocalTime(w.from)} to{' '}
                {w.to ? formatLocalTime(w.to) : 'the end of the base backup'}, {w.segments} contiguous segments
              </li>
            ))}
          </ul>
        </>
      )}
      {(r.corrupt.length > 0 || r.gaps.length > 0 || r.unsigned.length > 0) && (
        <>
          <h3>Problems</h3>
          <ul data-testid="wal-problems">
            {r.corrupt.map((c) => (
              <li key={c.name}>
                <span className="status status-red">corrupt</span> <span className="mono">{c.name}</span>: {c.reason}
              </li>
            ))}
            {r.gaps.map((g) => (
              <li key={`${g.timeline}-${g.from}`}>
                <span className="status status-red">gap</span> timeline {g.timeline}: {g.from}
                {g.from !== g.to ? ` to ${g.to}` : ''} missing
              </li>
            ))}
            {r.unsigned.slice(0, 20).map((u) => (
              <li key={u.name}>
                <span className={`status status-${r.unsignedAccepted ? 'amber' : 'red'}`}>{u.state}</span>{' '}
                <span className="mono">{u.name}</span>: {u.reason}
              </li>
            ))}
            {r.unsigned.length > 20 && <li>… and {r.unsigned.length - 20} more not signed by a pinned key</li>}
          </ul>
        </>
      )}
    </article>
  );
}
