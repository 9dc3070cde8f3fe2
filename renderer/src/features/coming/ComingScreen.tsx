import type { ScreenId } from '../../../../shared/domain/screens';

/** What each screen will do, stated plainly; no invented data is ever shown. */
const PLANS: Record<Exclude<ScreenId, 'overview'>, { title: string; lines: string[] }> = {
  media: {
    title: 'Media',
    lines: ['Add a backup folder (USB drive, NAS) or an S3 bucket, scan it with a progress bar, and see its sets, size and last scan.'],
  },
  catalog: {
    title: 'Catalog',
    lines: ['Every backup set on every medium ever seen, searchable offline, with which drive holds it and its verification history.'],
  },
  verify: {
    title: 'Verify',
    lines: ['Check media at a chosen level — inventory, integrity, authenticity, deep, restore test — with live progress and results you can export.'],
  },
  runbooks: {
    title: 'Runbooks',
    lines: ['Checklist runbooks that perform the restore: manual steps with sign-off, automated restores and checks, RTO clock, resume after a crash.'],
  },
  credentials: {
    title: 'Credentials',
    lines: ['PostgreSQL targets, S3 keys, age identities and signing keys, stored in the OS keychain; this window only ever sees references.'],
  },
  reports: {
    title: 'Reports',
    lines: ['Recovery and drill reports for auditors, printable and exportable.'],
  },
  settings: {
    title: 'Settings',
    lines: ['Trusted signing keys, PostgreSQL tools directory, objectives per tier, the operator’s name.'],
  },
};

export function ComingScreen({ screen }: { screen: Exclude<ScreenId, 'overview'> }): React.JSX.Element {
  const plan = PLANS[screen];
  return (
    <section aria-labelledby="screen-title">
      <h1 id="screen-title">{plan.title}</h1>
      <div className="notice" data-testid="not-yet-available">
        <strong>Not available in this build yet.</strong>
        {plan.lines.map((l) => (
          <p key={l}>{l}</p>
        ))}
      </div>
    </section>
  );
}
