import type { ArtifactResult, Verdict } from '../../../shared/domain/verify';
import { checkBackup } from '../foreign/pgbackrest';
import type { ForeignSecrets } from '../foreign/types';
import type { JobContext } from '../jobs/job-manager';
import type { SetTarget } from './verify';

/**
 * A pgBackRest backup's verification: its artifacts are the repository files the backup needs (its own
 * and those it references), read and checked by foreign/pgbackrest/check.ts: stored size and SHA-1 at
 * integrity level, decoded content size and SHA-1 from deep up. The inventory level stats them only.
 */
export async function pgbackrestResults(
  t: SetTarget,
  level: { deep: boolean; read: boolean },
  secrets: ForeignSecrets | undefined,
  run: <T>(fn: () => Promise<T>) => Promise<T>,
  ctx: Pick<JobContext, 'signal'>,
  onBytes: (delta: number) => void,
): Promise<{ problems: Array<{ verdict: Verdict; detail: string }>; artifacts: ArtifactResult[]; bytes: number }> {
  const m = /^(.*?)backup\/([^/]+)\/([^/]+)$/.exec(t.setPath);
  if (!m || (m[1] !== '' && !m[1]!.endsWith('/'))) {
    return {
      problems: [
        { verdict: 'corrupted', detail: `${t.setPath} is not a pgBackRest backup folder (backup/<stanza>/<label>)` },
      ],
      artifacts: [],
      bytes: 0,
    };
  }
  const [, root, stanza, label] = m as unknown as [string, string, string, string];
  const passphrase = secrets ? await secrets.get('pgbackrest-cipher', stanza) : null;
  const r = await checkBackup(t.medium, root, stanza, label, {
    deep: level.deep,
    read: level.read,
    passphrase,
    signal: ctx.signal,
    onBytes,
    run,
  });
  return { problems: r.problems, artifacts: r.artifacts, bytes: r.bytes };
}
