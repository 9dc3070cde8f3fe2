import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import type { Catalog } from '../../electron/engine/catalog/catalog';
import type { AgeIdentity } from '../../electron/engine/crypto/age';
import type { ActionContext } from '../../electron/engine/runbooks/actions/types';
import { defaultSettings } from '../../electron/engine/settings/settings';
import type { MediumOpener } from '../../electron/engine/storage/open-medium';

/** A runbook step's context for calling a restore or verify action directly: a fresh work folder under `dir`, no journal. */
export function restoreContext(o: {
  catalog: Catalog;
  dir: string;
  identities: AgeIdentity[];
  stepId?: string;
  open?: MediumOpener;
  signal?: AbortSignal;
  progress?: (p: Record<string, unknown>) => void;
}): ActionContext {
  return {
    deps: {
      catalog: o.catalog,
      settings: defaultSettings(),
      dataDir: join(o.dir, 'home'),
      credentials: null as never,
      identities: o.identities,
      ...(o.open ? { openMedium: o.open } : {}),
    },
    runId: 'r1',
    stepId: o.stepId ?? 'restore',
    drill: false,
    workDir: mkdtempSync(join(o.dir, 'work-')),
    checkpoint: null,
    saveCheckpoint: () => undefined,
    confirmation: null,
    signal: o.signal ?? new AbortController().signal,
    progress: (p: Record<string, unknown>) => o.progress?.(p),
    log: () => undefined,
  } as unknown as ActionContext;
}
