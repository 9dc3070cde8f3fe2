import { cliOnPath } from '../../../../shared/cli-on-path';
import { getApi } from '../../lib/api';
import { useResult } from '../../lib/use-result';

/** Settings card: the `lifeboat` command that comes with the app, and how to put it on PATH on this OS. */
export function CommandLineCard(): React.JSX.Element | null {
  const api = getApi();
  const [info] = useResult(() => api.getAppInfo({}));
  if (info.state !== 'ready') return null;
  const how = cliOnPath(info.value.platform);
  return (
    <article className="card" data-testid="settings-cli">
      <h2>The lifeboat command</h2>
      <p>
        The app carries the <code>lifeboat</code> command line (every “CLI:” line in the console), run by the app
        itself: no Node needed. <code>lifeboat doctor</code> says which tools this machine still lacks.
      </p>
      <ul>
        {how.steps.map((s) => (
          <li key={s}>{s}</li>
        ))}
      </ul>
      {how.command && <pre className="mono">{how.command}</pre>}
    </article>
  );
}
