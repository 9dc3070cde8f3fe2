import { useEffect, useState } from 'react';
import { OverviewScreen } from '../features/overview/OverviewScreen';
import { CatalogScreen } from '../features/catalog/CatalogScreen';
import { MediaScreen } from '../features/media/MediaScreen';
import { ReportsScreen } from '../features/reports/ReportsScreen';
import { RunbooksScreen } from '../features/runbooks/RunbooksScreen';
import { PitrScreen } from '../features/pitr/PitrScreen';
import { VerifyScreen } from '../features/verify/VerifyScreen';
import { CredentialsScreen } from '../features/credentials/CredentialsScreen';
import { SettingsScreen } from '../features/settings/SettingsScreen';
import { SCREENS, screenFromHash, type ScreenId } from '../../../shared/domain/screens';
import { setHashParams } from '../lib/hash';
import { JobsPanel } from '../components/JobsPanel';

function setScreenInHash(id: ScreenId): void {
  // A screen's own state (an open run, a report) does not follow to another screen.
  setHashParams({ screen: id, run: null, start: null, prefill: null, system: null, runbook: null });
}

function Screen({ id }: { id: ScreenId }): React.JSX.Element {
  switch (id) {
    case 'overview':
      return <OverviewScreen />;
    case 'media':
      return <MediaScreen />;
    case 'catalog':
      return <CatalogScreen />;
    case 'verify':
      return <VerifyScreen />;
    case 'runbooks':
      return <RunbooksScreen />;
    case 'pitr':
      return <PitrScreen />;
    case 'reports':
      return <ReportsScreen />;
    case 'credentials':
      return <CredentialsScreen />;
    case 'settings':
      return <SettingsScreen />;
    default:
      return <OverviewScreen />;
  }
}

export function App(): React.JSX.Element {
  const [screen, setScreen] = useState<ScreenId>(() => screenFromHash(location.hash));
  useEffect(() => {
    const onHash = (): void => setScreen(screenFromHash(location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  return (
    <div className="shell">
      <nav className="sidebar" aria-label="Screens">
        <div className="brand" aria-label="Lifeboat">
          <span className="brand-mark" aria-hidden="true">
            ◉
          </span>{' '}
          Lifeboat
        </div>
        <ul>
          {SCREENS.map((s) => (
            <li key={s.id}>
              <button
                type="button"
                data-testid={`nav-${s.id}`}
                className={s.id === screen ? 'nav-item active' : 'nav-item'}
                aria-current={s.id === screen ? 'page' : undefined}
                onClick={() => setScreenInHash(s.id)}
              >
                {s.label}
              </button>
            </li>
          ))}
        </ul>
        <JobsPanel />
      </nav>
      <main className="content" data-testid={`screen-${screen}`}>
        <Screen key={screen} id={screen} />
      </main>
    </div>
  );
}
