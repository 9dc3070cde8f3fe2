import { LifeboatError, mapError } from '../../errors';
import type { ListedFile, Medium } from '../../storage/medium';
import { needsSecret } from '../secrets';
import { systemNameFrom } from '../names';
import type { ForeignContext, ForeignDetector, ForeignFinding, ForeignSet } from '../types';
import {
  PgbrNeedsPassphrase,
  readBackupInfo,
  readBackupManifest,
  stanzasIn,
  type BackupInfo,
  type BackupInfoEntry,
  type BackupManifest,
} from './repo';
import { walRanges } from './wal';

/**
 * pgBackRest repositories on a medium: `[<prefix>/]backup/<stanza>/backup.info`, each backup a set of kind
 * pg-base. Sizes come from pgBackRest's own records: the database size is the sum of the manifest's file
 * sizes, the repository size backup.info's repo-size (the backup with the files it references). An
 * encrypted repository is read with its passphrase (`pgbackrest-cipher` secret for the stanza); without
 * one it is a blocking finding, never a silent zero.
 */

function iso(seconds: number | null): string | null {
  return seconds === null ? null : new Date(seconds * 1000).toISOString();
}

/** One set from backup.info's entry and (when readable) its manifest. */
export function pgbackrestSet(
  root: string,
  info: BackupInfo,
  b: BackupInfoEntry,
  manifest: BackupManifest | null,
  wal: ReturnType<typeof walRanges>,
): ForeignSet {
  const facts: Record<string, unknown> = {
    stanza: info.stanza,
    label: b.label,
    type: b.type,
    wal_start: b.archiveStart,
    wal_stop: b.archiveStop,
    // backup.info's own totals (what `pgbackrest info` prints): the backup with everything it references.
    size_bytes: b.size,
    repo_size_bytes: b.repoSize,
    size_delta_bytes: typeof b.raw['backup-info-size-delta'] === 'number' ? b.raw['backup-info-size-delta'] : null,
    repo_size_delta_bytes:
      typeof b.raw['backup-info-repo-size-delta'] === 'number' ? b.raw['backup-info-repo-size-delta'] : null,
    references: b.references,
    pg_version: info.pgVersion,
    system_identifier: info.systemId,
    pgbackrest_version: b.version,
    encrypted: info.encrypted,
    wal_ranges: wal,
  };
  if (manifest) {
    facts.database_bytes = manifest.files.reduce((n, f) => n + f.size, 0);
    facts.files = manifest.files.length;
    facts.lsn_start = manifest.backup['backup-lsn-start'] ?? null;
    facts.lsn_stop = manifest.backup['backup-lsn-stop'] ?? null;
    facts.compress_type = manifest.compressType;
    facts.bundle = manifest.backup['backup-bundle'] === true;
    facts.block_incremental = manifest.backup['backup-block-incr'] === true;
  }
  if (info.notes.length || manifest?.notes.length) facts.notes = [...info.notes, ...(manifest?.notes ?? [])];
  return {
    system: systemNameFrom(info.stanza),
    setId: b.label,
    kind: 'pg-base',
    origin: 'pgbackrest',
    createdAt: iso(b.timestampStart) ?? new Date(0).toISOString(),
    finishedAt: iso(b.timestampStop),
    parentId: b.prior,
    setPath: `${root}backup/${info.stanza}/${b.label}`,
    // No artifacts: the backup's files are read from the repository at verification (foreign/pgbackrest/check.ts);
    // the catalog's size of the set is the repository size in the facts.
    artifacts: [],
    facts,
  };
}

async function walOf(medium: Medium, root: string, stanza: string): Promise<ReturnType<typeof walRanges>> {
  const files = await medium.listFiles(`${root}archive/${stanza}`, { maxDepth: 3, limit: 2_000_000 });
  return walRanges(files.map((f) => f.path.split('/').pop()!).filter((n) => /^[0-9A-F]{24}-[0-9a-f]{40}/.test(n)));
}

/** The sets of one stanza; an encrypted one without a passphrase is a finding. */
export async function findStanza(
  medium: Medium,
  root: string,
  stanza: string,
  passphrase: string | null,
  log: ForeignContext['log'],
): Promise<{ sets: ForeignSet[]; findings: ForeignFinding[] }> {
  const infoPath = `${root}backup/${stanza}/backup.info`;
  let info: BackupInfo;
  try {
    info = await readBackupInfo(medium, root, stanza, passphrase);
  } catch (e) {
    if (e instanceof PgbrNeedsPassphrase) {
      return {
        sets: [],
        findings: [
          {
            path: infoPath,
            what: `encrypted pgBackRest repository ${stanza}`,
            needs: needsSecret('pgbackrest-cipher', stanza),
            blocking: true,
          },
        ],
      };
    }
    const err = mapError(e);
    if (err.code === 'STORAGE_UNREACHABLE' || err.code === 'CANCELLED') throw err;
    const wrongPass = err.code === 'DECRYPTION_FAILED';
    return {
      sets: [],
      findings: [
        {
          path: infoPath,
          what: wrongPass
            ? `encrypted pgBackRest repository ${stanza} (the passphrase given does not open it)`
            : `pgBackRest repository ${stanza} with an unreadable backup.info: ${err.message}`,
          needs: wrongPass ? 'its right passphrase' : 'a readable backup.info or backup.info.copy',
          blocking: wrongPass,
        },
      ],
    };
  }
  const wal = await walOf(medium, root, stanza);
  const sets: ForeignSet[] = [];
  for (const b of info.backups) {
    let manifest: BackupManifest | null = null;
    try {
      manifest = await readBackupManifest(medium, root, info, b.label);
    } catch (e) {
      const err = mapError(e);
      if (err.code === 'STORAGE_UNREACHABLE' || err.code === 'CANCELLED') throw err;
      log(
        'warn',
        `pgBackRest backup ${stanza}/${b.label}: its manifest is not readable (${err.message}); cataloged from backup.info only`,
      );
    }
    sets.push(pgbackrestSet(root, info, b, manifest, wal));
  }
  return { sets, findings: [] };
}

export const pgbackrestDetector: ForeignDetector = {
  name: 'pgbackrest',
  async find(medium: Medium, files: ListedFile[], ctx: ForeignContext) {
    // The shared listing may stop above backup/<stanza>/ or skip backup/: the root's own folder is listed here too.
    let own: ListedFile[] = [];
    try {
      own = await medium.listFiles('backup', { maxDepth: 1 });
    } catch (e) {
      if (mapError(e).code !== 'NOT_FOUND') throw e;
    }
    const stanzas = stanzasIn([...files, ...own].map((f) => f.path));
    const sets: ForeignSet[] = [];
    const findings: ForeignFinding[] = [];
    for (const { root, stanza } of stanzas) {
      if (ctx.signal.aborted) throw new LifeboatError('CANCELLED', 'Cancelled.');
      const pass = await ctx.secrets.get('pgbackrest-cipher', stanza);
      const r = await findStanza(medium, root, stanza, pass, ctx.log);
      sets.push(...r.sets);
      findings.push(...r.findings);
    }
    return { sets, findings };
  },
};
