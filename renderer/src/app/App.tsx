import { useEffect, useState } from 'react';
import { ComingScreen } from '../features/coming/ComingScreen';
import { OverviewScreen } from '../features/overview/OverviewScreen';
import { SCREENS, screenFromHash, type ScreenId } from '../../../shared/domain/screens';

function setScreenInHash(id: ScreenId): void {
  const params = new URLSearchParams(location.hash.slice(1));
  params.set('screen', id);
  location.hash = params.toString();
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
          <span className="brand-mark" aria-hidden="true">◉</span> Lifeboat
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
      </nav>
      <main className="content" data-testid={`screen-${screen}`}>
        {screen === 'overview' ? <OverviewScreen /> : <ComingScreen screen={screen} />}
      </main>
    </div>
  );
}
