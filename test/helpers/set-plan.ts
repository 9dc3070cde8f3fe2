import type { SetPlan } from '../../electron/engine/backup/set-writer';
import type { Medium } from '../../electron/engine/storage/medium';

/** The plan of a small files set written straight through writeSet: not encrypted, not signed, started now. */
export function filesPlan(media: Medium[], system: string): SetPlan {
  return {
    media,
    system,
    kind: 'files',
    tier: null,
    parent: null,
    recipients: [],
    signingKey: null,
    startedAt: new Date(),
  };
}
