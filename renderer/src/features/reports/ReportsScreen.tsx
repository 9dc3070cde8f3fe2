import { useState } from 'react';
import type { WireError } from '../../../../shared/errors';
import { formatTimeWithAge } from '../../../../shared/format';
import { ErrorBox } from '../../components/ErrorBox';
import { runStatusClass, runStatusText } from '../runbooks/Walkthrough';
import { CliCommand } from '../../components/JobProgress';
import { getApi } from '../../lib/api';
import { downloadText, setHashParams, useHashParam } from '../../lib/hash';
import { useResult } from '../../lib/use-result';

/** Export PDF: the desktop app prints the report (Electron's printToPDF); the browser bridge has no printer, so it downloads the HTML. */
function PdfExport({ runId, onUnavailable }: { runId: string; onUnavailable: () => void }): React.JSX.Element {
  const api = getApi();
  const [state, setState] = useState<{ text: string; error: WireError | null } | null>(null);
  const exportPdf = async (): Promise<void> => {
    setState({ text: 'Printing the report to PDF…', error: null });
    const r = await api.exportReportPdf({ id: runId });
    if (!r.ok) return setState({ text: '', error: r.error });
    if (!r.value.available) {
      onUnavailable();
      return setState({
        text: 'PDF printing needs the desktop app: the HTML report was downloaded instead (print it from a browser).',
        error: null,
      });
    }
    setState({ text: r.value.path ? `Saved ${r.value.path}` : 'Not saved (cancelled).', error: null });
  };
  return (
    <>
      <button type="button" className="primary" onClick={() => void exportPdf()} data-testid="export-pdf">
        Export PDF
      </button>
      {state?.text && (
        <span className="hint" role="status" data-testid="export-status">
          {state.text}
        </span>
      )}
      {state?.error && <ErrorBox error={state.error} />}
    </>
  );
}

function ReportView({ runId }: { runId: string }): React.JSX.Element {
  const api = getApi();
  const [report] = useResult(() => api.getRunReport({ id: runId }));
  if (report.state === 'loading') return <p>Loading the report…</p>;
  if (report.state === 'error') return <ErrorBox error={report.error} />;
  const exportHtml = (): void => downloadText(`lifeboat-report-${runId}.html`, 'text/html', report.value.html);
  return (
    <article className="card wide" data-testid="report">
      <div className="actions">
        <PdfExport runId={runId} onUnavailable={exportHtml} />
        <button type="button" className="secondary" onClick={exportHtml} data-testid="export-html">
          Export HTML
        </button>
        <button type="button" className="secondary" onClick={() => setHashParams({ run: null })}>
          All reports
        </button>
        <CliCommand command={`lifeboat report ${runId} --out report.html`} />
      </div>
      {/* The report is self-contained HTML; shown in a frame with no script and no network. */}
      <iframe
        className="report"
        title={`Report of run ${runId}`}
        sandbox=""
        srcDoc={report.value.html}
        data-testid="report-frame"
      />
    </article>
  );
}

/** Reports: every run's recovery report; open one here, export it (the app prints it to PDF). */
export function ReportsScreen(): React.JSX.Element {
  const api = getApi();
  const runId = useHashParam('run');
  const [runs] = useResult(() => api.listRuns({}));
  return (
    <section aria-labelledby="screen-title">
      <h1 id="screen-title">Reports</h1>
      {runId ? (
        <ReportView key={runId} runId={runId} />
      ) : (
        <article className="card wide">
          {runs.state === 'error' && <ErrorBox error={runs.error} />}
          {runs.state === 'ready' && runs.value.length === 0 && (
            <p className="muted">No runs yet: start a runbook (a drill is a good first one).</p>
          )}
          {runs.state === 'ready' && runs.value.length > 0 && (
            <table className="table" data-testid="reports-table">
              <thead>
                <tr>
                  <th scope="col">Run</th>
                  <th scope="col">Mode</th>
                  <th scope="col">Status</th>
                  <th scope="col">Started</th>
                  <th scope="col">Operator</th>
                  <th scope="col">
                    <span className="sr-only">Open</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {runs.value.map((r) => (
                  <tr key={r.id}>
                    <td>
                      <strong>{r.title}</strong> <span className="muted mono">{r.id}</span>
                    </td>
                    <td>{r.drill ? 'drill' : 'LIVE'}</td>
                    <td>
                      <span className={runStatusClass(r.status)}>{runStatusText(r.status)}</span>
                    </td>
                    <td>{formatTimeWithAge(r.startedAt)}</td>
                    <td>{r.operator}</td>
                    <td>
                      <button
                        type="button"
                        className="secondary"
                        onClick={() => setHashParams({ screen: 'reports', run: r.id })}
                        aria-label={`Open the report of ${r.title}, ${formatTimeWithAge(r.startedAt)}`}
                      >
                        Open
                      </button>
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
