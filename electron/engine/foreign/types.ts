import type { JobContext } from '../jobs/job-manager';
import type { ListedFile, Medium } from '../storage/medium';

/**
 * Other tools' backups, cataloged read-only: the seed scripts' folders, pgBackRest repositories,
 * restic repositories. Each format is a folder under foreign/ exporting one ForeignDetector;
 * foreign/discover.ts lists the medium once and runs every detector over the listing.
 */
export type ForeignOrigin = 'seed-script' | 'pgbackrest' | 'restic';

export interface ForeignArtifact {
  path: string; // relative to the medium root
  role: string;
  bytes: number;
  /** A SHA-256 the format itself records for the file (a seed script's manifest): integrity data when present. */
  sha256?: string;
}

export interface ForeignSet {
  system: string;
  setId: string;
  kind: 'pg-logical' | 'pg-base' | 'files' | 'config';
  origin: ForeignOrigin;
  createdAt: string;
  finishedAt: string | null;
  parentId: string | null;
  /** Where the set lives on the medium (a folder or a file). */
  setPath: string;
  artifacts: ForeignArtifact[];
  facts: Record<string, unknown>;
}

/**
 * Something a scan recognised but cannot read (never a silent zero): a restic repository without
 * the restic CLI or its password, an encrypted pgBackRest repository without its passphrase, a Borg
 * repository, an `.enc` file without a passphrase...
 */
export interface ForeignFinding {
  path: string;
  /** What it is, in the operator's words: "encrypted pgBackRest repository shop". */
  what: string;
  /** What is needed to read it: "its passphrase (lifeboat credentials add … or --passphrase-file)". */
  needs: string;
  /** True when the scan must exit 2 because of it (a backup we know how to read, missing its key). */
  blocking: boolean;
}

/** Passphrases and passwords of foreign formats: the keychain first, then files given on the command line. */
export interface ForeignSecrets {
  /** `scope` is what the secret opens: a stanza, a repository path, a file; null when none is known. */
  get(kind: 'pgbackrest-cipher' | 'openssl-enc' | 'restic-password', scope: string): Promise<string | null>;
}

export interface ForeignContext extends Pick<JobContext, 'log' | 'signal'> {
  secrets: ForeignSecrets;
  /** IANA zone that local times in file names are read in (a medium setting; default the laptop's zone). */
  timeZone: string;
}

export interface ForeignDetector {
  name: string;
  /** The sets of this format on the medium, from one shared listing (`files`, bounded depth) plus its own reads. */
  find(
    medium: Medium,
    files: ListedFile[],
    ctx: ForeignContext,
  ): Promise<{ sets: ForeignSet[]; findings: ForeignFinding[] }>;
}
