/** pgBackRest repositories, read natively (no pgbackrest binary or configuration): see docs/foreign-formats.md. */
export { pgbackrestDetector, pgbackrestSet, findStanza } from './detector';
export { checkBackup, loadManifests, type BackupCheck, type CheckOptions } from './check';
export { openPlainFile } from './open';
export { plainStages, openRange, type Encoding } from './decode';
export { parseIni, parseCheckedIni, json, type Ini } from './ini';
export {
  readBackupInfo,
  readBackupManifest,
  locate,
  stanzasIn,
  PgbrNeedsPassphrase,
  PGBR_KDF,
  type BackupInfo,
  type BackupInfoEntry,
  type BackupManifest,
  type ManifestFile,
  type CompressType,
} from './repo';
export { walRanges, type WalRange } from './wal';
