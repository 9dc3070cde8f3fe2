import type { Recoverability } from '../../../../shared/domain/recoverability';
import { formatAge, formatDuration, formatTimeWithAge } from '../../../../shared/format';
import { shellLine } from '../../../../shared/shell-quote';
import { CliCommand } from '../../components/JobProgress';
import { ErrorBox } from '../../components/ErrorBox';
import { getApi } from '../../lib/api';
import { setHashParams } from '../../lib/hash';
import { useResult } from '../../lib/use-result';
import { HistoryChart, ObjectiveBar, type Tone } from './charts';
import { TrendChart } from '../../components/TrendChart';
import type { SystemTrend } from '../../../../shared/domain/trends';
import { runEnded } from '../../../../shared/domain/runs';

const RPO_TONE: Record<Recoverability['rpo']['state'], Tone> = {
  ok: 'green',
  late: 'red',
  unverified: 'amber',
  'no-sets': 'red',
  'no-objective': 'muted',
};
const RPO_WORD: Record<Recoverability['rpo']['state'], string> = {
  ok: 'within RPO',
  late: 'over RPO',
  unverified: 'unverified',
  'no-sets': 'no sets',
  'no-objective': 'no objective',
};
const RTO_TONE: Record<Recoverability['rto']['state'], Tone> = {
  ok: 'green',
  over: 'red',
  unmeasured: 'amber',
  'no-objective': 'muted',
};
const RTO_WORD: Record<Recoverability['rto']['state'], string> = {
  ok: 'within RTO',
  over: 'over RTO',
  unmeasured: 'not measured',
  'no-objective': 'no objective',
};

const toneClass = (t: Tone): string => (t === 'muted' ? 'status' : `status status-${t}`);

/** The `lifeboat backup` command that makes a new set like the system's newest one. */
function backupArgs(r: Recoverability): string[] {
  const kind = r.newestSet?.kind ?? 'pg-logical';
  const head = ['lifeboat', 'backup'];
  if (kind === 'pg-base')
    return [...head, 'pg-base', '--system', r.system, '--db', '<postgres URL>', '--to', '<medium>'];
  if (kind === 'stream')
    return [...head, 'cmd', '--system', r.system, '--kind', '<label>', '--command', '<command>', '--to', '<medium>'];
  if (kind === 'mysql') return [...head, 'mysql', '--system', r.system, '--db', '<mysql URL>', '--to', '<medium>'];
  if (kind === 'redis') return [...head, 'redis', '--system', r.system, '--redis', '<redis URL>', '--to', '<medium>'];
  if (kind === 'files' || kind === 'config') {
    return [
      ...head,
      'files',
      '--system',
      r.system,
      ...(kind === 'config' ? ['--class', 'config'] : []),
      '--path',
      '<folder>',
      '--to',
      '<medium>',
    ];
  }
  return [...head, 'pg', '--system', r.system, '--db', '<postgres URL>', '--to', '<medium>'];
}

/** The button doing the system's next action (or a copyable CLI line for a backup, which the app does not make). */
function NextAction({ r }: { r: Recoverability }): React.JSX.Element {
  const n = r.next;
  const go = (params: Record<string, string | null>): void => setHashParams(params);
  const button = (label: string, onClick: () => void): React.JSX.Element => (
    <button type="button" className="primary" data-testid={`next-${r.system}`} data-action={n.action} onClick={onClick}>
      {label}
    </button>
  );
  switch (n.action) {
    case 'verify':
      return button(`Verify ${r.system}’s newest set`, () => go({ screen: 'verify', target: n.setKey, run: null }));
    case 'drill': {
      // A PostgreSQL system is drilled by the monthly restore drill; files and config by a restore of their files.
      // A MySQL system by its own drill.
      const pg = !r.newestSet || r.newestSet.kind.startsWith('pg');
      const drill = r.newestSet?.kind === 'mysql' ? 'mysql-drill' : pg ? 'monthly-drill' : 'restore-files';
      return button(`Start a drill of ${r.system}`, () =>
        go({ screen: 'runbooks', runbook: drill, system: r.system, run: null }),
      );
    }
    case 'check-suspicious': {
      // The ransomware runbook restores a database (pg-logical); a files or config system is restored by restore-files.
      const pg = !r.newestSet || r.newestSet.kind.startsWith('pg');
      const runbook = pg ? 'ransomware' : 'restore-files';
      return button(`Open the ${runbook} runbook for ${r.system}`, () =>
        go({ screen: 'runbooks', runbook, system: r.system, run: null }),
      );
    }
    case 'find-key':
      return button(`Find the key for ${r.system}`, () => go({ screen: 'credentials', run: null }));
    case 'scan-medium':
      return button(n.mediumLabel ? `Scan ${n.mediumLabel}` : `Scan a medium for ${r.system}`, () =>
        go({ screen: 'media', run: null }),
      );
    case 'back-up':
      // The app does not make backups (servers do, from cron): the command for this system's kind, to run there.
      return (
        <span data-testid={`next-${r.system}`} data-action="back-up">
          <CliCommand args={backupArgs(r)} />
        </span>
      );
    case 'none':
      return (
        <span className="status status-green" data-testid={`next-${r.system}`} data-action="none">
          nothing to do
        </span>
      );
  }
}

function SystemCard({ r, trend }: { r: Recoverability; trend: SystemTrend | undefined }): React.JSX.Element {
  const o = r.objectives;
  const source = o.source === 'tier' ? `tier ${o.tier}` : o.source === 'runbook' ? 'runbook' : 'no tier set';
  const drill = r.lastDrill;
  return (
    <article
      className="card system"
      aria-labelledby={`sys-${r.system}`}
      data-testid={`system-${r.system}`}
      data-rpo={r.rpo.state}
      data-rto={r.rto.state}
    >
      <h3 id={`sys-${r.system}`} tabIndex={-1}>
        {r.system} <span className="tag">{source}</span>
      </h3>
      <dl className="facts">
        <dt>RPO{o.rpoSeconds !== null ? ` ${formatDuration(o.rpoSeconds)}` : ''}</dt>
        <dd data-testid="rpo">
          <span className={toneClass(RPO_TONE[r.rpo.state])}>{RPO_WORD[r.rpo.state]}</span>
          <ObjectiveBar value={r.rpo.ageSeconds} objective={o.rpoSeconds} tone={RPO_TONE[r.rpo.state]} />
          <span className="state-text">{r.rpo.text}</span>
        </dd>
        <dt>RTO{o.rtoSeconds !== null ? ` ${formatDuration(o.rtoSeconds)}` : ''}</dt>
        <dd data-testid="rto">
          <span className={toneClass(RTO_TONE[r.rto.state])}>{RTO_WORD[r.rto.state]}</span>
          <ObjectiveBar value={r.rto.measured?.seconds ?? null} objective={o.rtoSeconds} tone={RTO_TONE[r.rto.state]} />
          <span className="state-text">
            {r.rto.text}
            {r.rto.measured && <span className="muted"> ({formatTimeWithAge(r.rto.measured.at)})</span>}
          </span>
        </dd>
        <dt>Last drill</dt>
        <dd data-testid="last-drill">
          {drill ? (
            <>
              <span
                className={toneClass(
                  drill.status === 'succeeded' ? 'green' : drill.status === 'failed' ? 'red' : 'amber',
                )}
              >
                {drill.status}
              </span>{' '}
              {formatTimeWithAge(drill.at)}
              {drill.restoreSeconds !== null && `, restored in ${formatDuration(drill.restoreSeconds)}`}{' '}
              <button
                type="button"
                className="link"
                onClick={() => setHashParams({ screen: 'runbooks', run: drill.runId })}
              >
                Open the drill of {r.system}
              </button>
            </>
          ) : (
            <span className="hint">never</span>
          )}
        </dd>
        <dt>Sets</dt>
        <dd>
          {r.sets}
          {r.newestSet && `, newest ${formatTimeWithAge(r.newestSet.createdAt)}`}
        </dd>
      </dl>
      {/* Lifeboat's own sets: the four trends and the ransomware indicator; other tools' sets: size and time. */}
      {trend && trend.points.length > 0 ? (
        <TrendChart trend={trend} max={20} />
      ) : (
        <HistoryChart system={r.system} history={r.history} />
      )}
      <div className="next">
        <p className="next-text">
          <strong>Next: </strong>
          <span data-testid="next-text">{r.next.text}</span>
        </p>
        <NextAction r={r} />
      </div>
    </article>
  );
}

/** Every system at a glance: one row each, RPO, RTO and drill as coloured cells (the words are in them too). */
function StateStrip({ systems }: { systems: Recoverability[] }): React.JSX.Element {
  const drillTone = (r: Recoverability): Tone =>
    !r.lastDrill
      ? 'amber'
      : r.lastDrill.status === 'succeeded'
        ? 'green'
        : r.lastDrill.status === 'failed'
          ? 'red'
          : 'amber';
  const cell = (tone: Tone, text: string): React.JSX.Element => <td className={`strip-cell strip-${tone}`}>{text}</td>;
  return (
    <div className="table-wrap">
      <table className="table strip" data-testid="state-strip">
        <caption className="sr-only">Recoverability of every system</caption>
        <thead>
          <tr>
            <th scope="col">System</th>
            <th scope="col">RPO</th>
            <th scope="col">RTO</th>
            <th scope="col">Drill</th>
            <th scope="col">Next</th>
          </tr>
        </thead>
        <tbody>
          {systems.map((r) => (
            <tr key={r.system}>
              <th scope="row">
                <a
                  href={`#sys-${r.system}`}
                  onClick={(e) => {
                    e.preventDefault();
                    document.getElementById(`sys-${r.system}`)?.focus();
                  }}
                >
                  {r.system}
                </a>
              </th>
              {cell(RPO_TONE[r.rpo.state], RPO_WORD[r.rpo.state])}
              {cell(RTO_TONE[r.rto.state], RTO_WORD[r.rto.state])}
              {cell(drillTone(r), r.lastDrill ? `${r.lastDrill.status}, ${formatAge(r.lastDrill.at)}` : 'never')}
              <td>{NEXT_WORD[r.next.action]}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const NEXT_WORD: Record<Recoverability['next']['action'], string> = {
  none: '—',
  'back-up': 'back up',
  verify: 'verify',
  drill: 'drill',
  'check-suspicious': 'check (suspicious)',
  'find-key': 'find the key',
  'scan-medium': 'scan a medium',
};

/** Open runs to resume: a restore or a drill left half-way is the first thing to see. */
function OpenRuns(): React.JSX.Element | null {
  const api = getApi();
  const [runs] = useResult(() => api.listRuns({}));
  const open = runs.state === 'ready' ? runs.value.filter((r) => !runEnded(r.status) && r.status !== 'failed') : [];
  if (open.length === 0) return null;
  return (
    <article className="card wide" aria-labelledby="runs-title" data-testid="overview-open-runs">
      <h2 id="runs-title">Unfinished runs</h2>
      <ul>
        {open.map((r) => (
          <li key={r.id}>
            <strong>{r.title}</strong>{' '}
            {r.drill ? <span className="tag">drill</span> : <span className="status status-red">LIVE</span>} {r.status}
            {r.currentStep ? ` at ${r.currentStep}` : ''}, started {formatTimeWithAge(r.startedAt)}{' '}
            <button
              type="button"
              className="secondary"
              onClick={() => setHashParams({ screen: 'runbooks', run: r.id })}
            >
              Resume {r.title} ({formatTimeWithAge(r.startedAt)})
            </button>
          </li>
        ))}
      </ul>
    </article>
  );
}

/** The verdicts that still stand, failures first, with media by label. */
function RecentVerifications(): React.JSX.Element | null {
  const api = getApi();
  const [verifications] = useResult(() => api.recentVerifications({}));
  const [media] = useResult(() => api.listMedia({}));
  if (verifications.state !== 'ready' || verifications.value.length === 0) return null;
  const label = (id: string): string =>
    media.state === 'ready'
      ? (media.value.find((m) => m.id === id)?.label ?? media.value.find((m) => m.id === id)?.location ?? id)
      : id;
  return (
    <article className="card wide" aria-labelledby="verifications-title">
      <h2 id="verifications-title">Latest verifications (failures first)</h2>
      <div className="table-wrap">
        <table className="table" data-testid="recent-verifications">
          <thead>
            <tr>
              <th scope="col">Set</th>
              <th scope="col">Medium</th>
              <th scope="col">Level</th>
              <th scope="col">Result</th>
              <th scope="col">When</th>
            </tr>
          </thead>
          <tbody>
            {verifications.value.slice(0, 10).map((v) => (
              <tr key={`${v.setKey}-${v.mediumId}-${v.level}-${v.at}`}>
                <td className="mono">{v.setKey}</td>
                <td>{label(v.mediumId)}</td>
                <td>{v.level}</td>
                <td>
                  <span className={`status status-${v.verdict === 'ok' ? 'green' : 'red'}`}>
                    {v.verdict === 'ok' ? 'passed' : v.verdict}
                  </span>{' '}
                  {v.detail ?? ''}
                </td>
                <td>{formatTimeWithAge(v.at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </article>
  );
}

/** Overview answers one question first: are we recoverable? Engine and tool details are in Settings → About. */
export function OverviewScreen(): React.JSX.Element {
  const api = getApi();
  const [systems] = useResult(() => api.getRecoverability({}));
  const [overview] = useResult(() => api.getOverview({}));
  const [trends] = useResult(() => api.getTrends({}));
  const trendOf = new Map(trends.state === 'ready' ? trends.value.map((t) => [t.system, t]) : []);
  const ready = systems.state === 'ready' ? systems.value : [];
  const fine = ready.filter((r) => r.next.action === 'none').length;
  return (
    <section aria-labelledby="screen-title">
      <h1 id="screen-title">Overview</h1>
      <h2 className="question">Are we recoverable?</h2>
      {systems.state === 'loading' && <p>Loading…</p>}
      {systems.state === 'error' && <ErrorBox error={systems.error} />}
      {systems.state === 'ready' && ready.length === 0 && (
        <div className="notice" data-testid="overview-empty">
          <p>No system is known yet: scan a medium that holds backups.</p>
          <button type="button" className="primary" onClick={() => setHashParams({ screen: 'media', run: null })}>
            Go to Media
          </button>
        </div>
      )}
      {ready.length > 0 && (
        <p className="lead" data-testid="overview-summary">
          {fine === ready.length
            ? 'Every system is within its objectives.'
            : `${ready.length - fine} of ${ready.length} system${ready.length === 1 ? ' needs' : 's need'} something done.`}{' '}
          <span className="muted">Objectives come from each system’s tier (Settings).</span>
        </p>
      )}
      {overview.state === 'ready' && overview.value.keychain.state !== 'available' && (
        <p className="hint" data-testid="overview-keychain">
          The keychain is {overview.value.keychain.state}: {overview.value.keychain.detail}{' '}
          {overview.value.keychain.hint ?? ''}
        </p>
      )}
      <OpenRuns />
      {ready.length > 1 && <StateStrip systems={ready} />}
      <div className="systems" data-testid="systems">
        {ready.map((r) => (
          <SystemCard key={r.system} r={r} trend={trendOf.get(r.system)} />
        ))}
      </div>
      <RecentVerifications />
      <p className="muted">
        Engine, tools and paths:{' '}
        <button type="button" className="link" onClick={() => setHashParams({ screen: 'settings', run: null })}>
          Settings → About
        </button>
        .{' '}
        <span className="cli-hint">
          CLI: <code>{shellLine(['lifeboat', 'systems'])}</code>,{' '}
          <code>{shellLine(['lifeboat', 'systems', '--trend'])}</code>
        </span>
      </p>
    </section>
  );
}
