import { useEffect, useState } from 'react';
import type { SettingsView } from '../../../../shared/domain/settings';
import type { WireError } from '../../../../shared/errors';
import type { Result } from '../../../../shared/result';
import { ErrorBox } from '../../components/ErrorBox';
import { getApi } from '../../lib/api';
import { formatTimeWithAge } from '../../../../shared/format';
import { ConfirmButton } from '../../components/Confirm';
import { AboutCard } from './AboutCard';
import { CommandLineCard } from './CommandLineCard';
import { MaintenanceCard } from './MaintenanceCard';
import { SystemsCard } from './SystemsCard';

/**
 * Settings: the operator's name, the PostgreSQL tools, objectives per tier, each system's tier and validation queries,
 * pinned signing keys, catalog maintenance (journal verify, rebuild), and About (engine, tools, paths).
 */
export function SettingsScreen(): React.JSX.Element {
  const api = getApi();
  const [view, setView] = useState<SettingsView | null>(null);
  const [error, setError] = useState<WireError | null>(null);
  const [draft, setDraft] = useState({ operatorName: '', pgBinDir: '' });
  const [tiers, setTiers] = useState<SettingsView['tiers'] | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [pem, setPem] = useState('');
  const [label, setLabel] = useState('');
  const take = (r: Result<SettingsView>): void => {
    if (r.ok) {
      setView(r.value);
      setDraft({ operatorName: r.value.operatorName, pgBinDir: r.value.pgBinDir });
      setTiers(r.value.tiers);
      setError(null);
    } else setError(r.error);
  };
  useEffect(() => {
    void api.getSettings({}).then(take);
  }, [api]);
  if (!view) return error ? <ErrorBox error={error} /> : <p>Loading…</p>;
  return (
    <section aria-labelledby="screen-title">
      <h1 id="screen-title">Settings</h1>
      {error && <ErrorBox error={error} />}
      <article className="card">
        <h2>Operator and tools</h2>
        <form
          className="form"
          onSubmit={(e) => {
            e.preventDefault();
            void api.saveSettings(draft).then(take);
          }}
        >
          <label>
            Operator name (signs runs by default)
            <input
              type="text"
              value={draft.operatorName}
              onChange={(e) => setDraft({ ...draft, operatorName: e.target.value })}
              data-testid="settings-operator"
            />
          </label>
          <label>
            PostgreSQL tools directory (empty: PATH and the usual install folders)
            <input
              type="text"
              value={draft.pgBinDir}
              onChange={(e) => setDraft({ ...draft, pgBinDir: e.target.value })}
              placeholder="/usr/lib/postgresql/15/bin"
            />
          </label>
          <p className="muted" data-testid="settings-pg">
            Detected: {view.detectedPg.version ?? 'no pg_restore found'}{' '}
            {view.detectedPg.path ? `(${view.detectedPg.path})` : ''}
          </p>
          <div className="row">
            <button type="submit" className="primary" data-testid="settings-save">
              Save
            </button>
          </div>
        </form>
      </article>
      <CommandLineCard />
      <article className="card">
        <h2>Objectives per tier</h2>
        <form
          className="form"
          onSubmit={(e) => {
            e.preventDefault();
            if (!tiers) return;
            void api.saveSettings({ tiers }).then((r) => {
              take(r);
              setSaved(r.ok ? 'Objectives saved: the overview measures every system against them now.' : null);
            });
          }}
        >
          <table className="table" data-testid="tiers">
            <thead>
              <tr>
                <th scope="col">Tier</th>
                <th scope="col">RTO (minutes)</th>
                <th scope="col">RPO (minutes)</th>
              </tr>
            </thead>
            <tbody>
              {tiers &&
                (['critical', 'important', 'standard'] as const).map((t) => (
                  <tr key={t}>
                    <th scope="row">{t}</th>
                    {(['rtoMinutes', 'rpoMinutes'] as const).map((f) => (
                      <td key={f}>
                        <input
                          type="number"
                          min={1}
                          step={1}
                          required
                          aria-label={`${t} ${f === 'rtoMinutes' ? 'RTO' : 'RPO'} in minutes`}
                          data-testid={`tier-${t}-${f === 'rtoMinutes' ? 'rto' : 'rpo'}`}
                          value={tiers[t][f]}
                          onChange={(e) => setTiers({ ...tiers, [t]: { ...tiers[t], [f]: Number(e.target.value) } })}
                        />
                      </td>
                    ))}
                  </tr>
                ))}
            </tbody>
          </table>
          <div className="row">
            <button type="submit" className="primary" data-testid="tiers-save">
              Save objectives
            </button>
            {saved && (
              <span className="hint" role="status">
                {saved}
              </span>
            )}
          </div>
        </form>
        <p className="muted">Saved in settings.json in {view.dataDir}; each system’s tier is set below.</p>
      </article>
      <SystemsCard view={view} onSaved={take} />
      <article className="card wide">
        <h2>Pinned signing keys</h2>
        {view.trustedKeys.length === 0 ? (
          <p className="hint">
            No key is pinned: no set can pass the authenticity level. Pin your backup servers' public key.
          </p>
        ) : (
          <ul data-testid="trusted-keys">
            {view.trustedKeys.map((k) => (
              <li key={k.keyId}>
                <span className="mono">{k.keyId}</span> {k.label}{' '}
                <span className="muted">(pinned {formatTimeWithAge(k.addedAt)})</span>{' '}
                <ConfirmButton
                  danger
                  label={`Unpin ${k.label || k.keyId}`}
                  confirmLabel={`Yes, unpin ${k.label || k.keyId}`}
                  message={
                    view.trustedKeys.length === 1
                      ? 'This is the only pinned key: after unpinning it, no set passes the authenticity level until a key is pinned again.'
                      : `Sets signed by ${k.keyId} no longer pass the authenticity level.`
                  }
                  onConfirm={() => api.untrustSigningKey({ keyId: k.keyId }).then(take)}
                />
              </li>
            ))}
          </ul>
        )}
        <form
          className="form"
          onSubmit={(e) => {
            e.preventDefault();
            void api.trustSigningKey({ publicKeyPem: pem, label: label || undefined }).then((r) => {
              take(r);
              if (r.ok) setPem('');
            });
          }}
        >
          <label>
            Public key (PEM, from lifeboat keys signing-new … .pub)
            <textarea rows={4} value={pem} onChange={(e) => setPem(e.target.value)} data-testid="trust-pem" />
          </label>
          <label>
            Label
            <input type="text" value={label} onChange={(e) => setLabel(e.target.value)} />
          </label>
          <div className="row">
            <button type="submit" className="primary" disabled={!pem.trim()}>
              Pin this key
            </button>
          </div>
        </form>
      </article>
      <MaintenanceCard />
      <AboutCard />
    </section>
  );
}
