export type { ForeignArtifact, ForeignSet } from '../foreign/types';

// ---- seed-script folders: electron/engine/foreign/seed/ ----------------------------------------

import { systemNameFrom } from '../foreign/seed/names';
export { systemNameFrom };

// ---- pgBackRest: moved to foreign/pgbackrest/ (re-exported for the callers of this module) ----------------------------

export { parseIni, walRanges, type WalRange } from '../foreign/pgbackrest';
