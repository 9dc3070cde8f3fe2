import { useState } from 'react';
import { VERDICT_TEXT, VERIFY_LEVELS, type SetResult, type VerifyLevel } from '../../../../shared/domain/verify';
import type { WireError } from '../../../../shared/errors';
import { formatBytes } from '../../../../shared/format';
import { ErrorBox } from '../../components/ErrorBox';
import { CliCommand, JobProgress } from '../../components/JobProgress';
import { getApi } from '../../lib/api';
import { downloadText } from '../../lib/hash';
import { useJob } from '../../lib/use-job';

interface Report {
  results: SetResult[];
  skipped: Array<{ key: string; reason: string }>;
  bytes: number;
  durationMs: number;
  bytesPerSecond: number | null;
}

function reportHtml(r: Report, level: string): string {
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const rows = r.results.map((x) => `<tr><td>${esc(x.key)}</td><td>${x.verdict === 'ok' ? 'OK' : x.verdict === 'not-checked' ? 'NOT CHECKED' : 'FAIL'}</td><td>${esc(x.verdict === 'ok' ? '' : VERDICT_TEXT[x.verdict])}${x.detail ? ` — ${esc(x.detail)}` : ''}</td><td>${esc(x.location)}</td></tr>`).join('');
  return `<!doctype html><meta charset="utf-8"><title>Verification report</title><h1>Verification at ${esc(level)} level</h1><table border="1" cellpadding="4"><tr><th>Set</th><th>Verdict</th><th>Why</th><th>Medium</th></tr>${rows}</table>`;
}

/** Verify: a medium, a set folder or a set id, at a level; live progress; failures first, in plain words; export. */
export function VerifyScreen(): React.JSX.Element {
  const api = getApi();
  const [target, setTarget] = useState('');
  const [level, setLevel] = useState<VerifyLevel>('integrity');
  const [identity, setIdentity] = useState('');
  const [error, setError] = useState<WireError | null>(null);
  const { job, track } = useJob(null);
  const start = async (): Promise<void> => {
    setError(null);
    const r = await api.startVerify({ target: target.trim(), level, identityFiles: identity.trim() ? [identity.trim()] : [] });
    if (r.ok) track(r.value);
    else setError(r.error);
  };
  const report = (job?.status === 'succeeded' ? job.result : null) as Report | null;
  const ordered = report ? [...report.results.filter((x) => x.verdict !== 'ok'), ...report.results.filter((x) => x.verdict === 'ok')] : [];
  // Not checked is no failure (nothing is recorded against the set): counted apart.
  const failed = ordered.filter((x) => x.verdict !== 'ok' && x.verdict !== 'not-checked').length;
  const notChecked = ordered.filter((x) => x.verdict === 'not-checked').length;
  return (
    <section aria-labelledby="screen-title">
      <h1 id="screen-title">Verify</h1>
      <form
        className="form card"
        onSubmit={(e) => {
          e.preventDefault();
          void start();
        }}
      >
        <label>
          Medium, set folder or set id
          <input type="text" value={target} onChange={(e) => setTarget(e.target.value)} data-testid="verify-target" required placeholder="/media/usb-1  or  20261121T020000Z-pg-logical" />
        </label>
        <div className="row">
          <label>
            Level
            <select value={level} onChange={(e) => setLevel(e.target.value as VerifyLevel)} data-testid="verify-level">
              {VERIFY_LEVELS.map((l) => (
                <option key={l} value={l}>{l}</option>
              ))}
            </select>
          </label>
          <label>
            Age identity file (deep and restore levels)
            <input type="text" value={identity} onChange={(e) => setIdentity(e.target.value)} placeholder="/path/to/laptop.age" />
          </label>
          <button type="submit" className="primary" data-testid="verify-start" disabled={!target.trim() || job?.status === 'running'}>
            Verify
          </button>
        </div>
        <CliCommand command={`lifeboat verify ${target.trim() || '<medium | set>'} --level ${level}${identity.trim() ? ` --identity ${identity.trim()}` : ''}`} />
      </form>
      {error && <ErrorBox error={error} />}
      {job && <JobProgress job={job} label="Verification" />}
      {report && (
        <article className="card wide" data-testid="verify-results" data-failed={failed}>
          <h2>{failed ? `${failed} of ${ordered.length} sets FAILED` : notChecked ? `${ordered.length - notChecked} of ${ordered.length} sets passed, ${notChecked} NOT CHECKED` : `All ${ordered.length} sets passed`} at {level} level</h2>
          <p className="muted">
            {formatBytes(report.bytes)} read{report.bytesPerSecond ? ` at ${formatBytes(report.bytesPerSecond)}/s` : ''}; {report.skipped.length} skipped.
          </p>
          <table className="table">
            <thead>
              <tr><th scope="col">Set</th><th scope="col">Verdict</th><th scope="col">What it means</th></tr>
            </thead>
            <tbody>
              {ordered.map((x) => (
                <tr key={`${x.key}@${x.mediumId}`} data-testid="verify-row" data-verdict={x.verdict}>
                  <td className="mono">{x.key}</td>
                  <td><span className={`status status-${x.verdict === 'ok' ? 'green' : x.verdict === 'not-checked' ? 'amber' : 'red'}`}>{x.verdict === 'not-checked' ? 'not checked' : x.verdict}</span></td>
                  <td>
                    {x.verdict === 'ok' ? (x.detail ?? '') : VERDICT_TEXT[x.verdict]}
                    {x.verdict !== 'ok' && x.detail ? `: ${x.detail}` : ''}
                    {x.artifacts.filter((a) => a.verdict !== 'ok').map((a) => (
                      <div key={a.path} className="muted">{a.path}: {a.verdict}{a.detail ? ` — ${a.detail}` : ''}</div>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="actions">
            <button type="button" className="secondary" onClick={() => downloadText('verification.json', 'application/json', JSON.stringify(report, null, 2))}>Export JSON</button>
            <button type="button" className="secondary" onClick={() => downloadText('verification.html', 'text/html', reportHtml(report, level))}>Export HTML</button>
          </div>
        </article>
      )}
    </section>
  );
}
