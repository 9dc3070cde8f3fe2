/**
 * Numbered, forward-only migrations of the catalog. Never edit a migration that has shipped:
 * add the next one. Each has its own test in test/unit/catalog-migrations.test.ts.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
  /**
   * Rebuilds a table other tables reference (SQLite's 12-step ALTER): applied with foreign keys off
   * (a DROP would cascade otherwise), then `foreign_key_check` must find nothing before it commits.
   */
  rebuildsReferencedTable?: boolean;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'media, systems, sets, artifacts, presence',
    sql: `
      CREATE TABLE media (
        id            TEXT PRIMARY KEY,          -- lifeboat-medium.json id, or 'path:<abs path>' for a folder without one
        kind          TEXT NOT NULL CHECK (kind IN ('folder', 's3')),
        label         TEXT,
        location      TEXT NOT NULL,             -- absolute path or s3://bucket/prefix
        endpoint      TEXT,                      -- S3 endpoint, when not AWS
        credential_ref TEXT,                     -- keychain reference only, never a secret
        format_version INTEGER,
        first_seen    TEXT NOT NULL,
        last_seen     TEXT,                      -- last time the medium answered
        last_sync     TEXT,                      -- last complete, successful scan
        last_error    TEXT
      );
      -- Not unique: drives are swapped at the same mount point; the medium id is the identity.
      CREATE INDEX media_location ON media(location);

      CREATE TABLE systems (
        name          TEXT PRIMARY KEY,
        tier          TEXT CHECK (tier IN ('critical', 'important', 'standard')),
        rto_minutes   INTEGER,
        rpo_minutes   INTEGER
      );

      CREATE TABLE sets (
        key           TEXT PRIMARY KEY,          -- '<system>/<set id>'
        set_id        TEXT NOT NULL,
        system        TEXT NOT NULL,
        kind          TEXT NOT NULL,
        origin        TEXT NOT NULL DEFAULT 'lifeboat' CHECK (origin IN ('lifeboat', 'seed-script', 'pgbackrest')),
        tier          TEXT,
        created_at    TEXT NOT NULL,
        finished_at   TEXT,
        parent_key    TEXT,
        bytes         INTEGER NOT NULL DEFAULT 0,
        artifact_count INTEGER NOT NULL DEFAULT 0,
        signed        INTEGER NOT NULL DEFAULT 0,
        signer_key_id TEXT,
        encrypted     INTEGER NOT NULL DEFAULT 0,
        manifest_sha256 TEXT,
        facts_json    TEXT                       -- the manifest's source, warnings, host... (artifacts are in their table)
      );
      CREATE INDEX sets_system_created ON sets(system, created_at DESC);
      CREATE INDEX sets_created ON sets(created_at DESC);

      CREATE TABLE artifacts (
        set_key       TEXT NOT NULL REFERENCES sets(key) ON DELETE CASCADE,
        path          TEXT NOT NULL,
        role          TEXT NOT NULL,
        bytes         INTEGER NOT NULL,
        sha256        TEXT,
        plain_bytes   INTEGER,
        plain_sha256  TEXT,
        encodings     TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (set_key, path)
      ) WITHOUT ROWID;

      CREATE TABLE presence (
        set_key       TEXT NOT NULL REFERENCES sets(key) ON DELETE CASCADE,
        medium_id     TEXT NOT NULL REFERENCES media(id) ON DELETE CASCADE,
        set_path      TEXT NOT NULL,             -- relative to the medium root
        first_seen    TEXT NOT NULL,
        last_seen     TEXT NOT NULL,
        missing_since TEXT,                      -- set when a scan no longer finds it; never deleted
        manifest_size INTEGER,
        manifest_mtime TEXT,
        manifest_etag TEXT,
        PRIMARY KEY (set_key, medium_id)
      ) WITHOUT ROWID;
      CREATE INDEX presence_medium ON presence(medium_id);

      CREATE TABLE unreadable (
        medium_id     TEXT NOT NULL REFERENCES media(id) ON DELETE CASCADE,
        path          TEXT NOT NULL,
        reason        TEXT NOT NULL,
        seen_at       TEXT NOT NULL,
        PRIMARY KEY (medium_id, path)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    name: 'file index of file sets',
    sql: `
      CREATE TABLE file_index (
        set_key       TEXT NOT NULL REFERENCES sets(key) ON DELETE CASCADE,
        path          TEXT NOT NULL,
        type          TEXT NOT NULL CHECK (type IN ('file', 'dir', 'symlink')),
        size          INTEGER NOT NULL DEFAULT 0,
        mtime         TEXT,
        mode          INTEGER,
        sha256        TEXT,
        PRIMARY KEY (set_key, path)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    name: 'verification ledger and pinned keys',
    sql: `
      CREATE TABLE verifications (
        id            INTEGER PRIMARY KEY,
        set_key       TEXT NOT NULL,
        medium_id     TEXT NOT NULL,
        artifact_path TEXT,                      -- NULL for the set-level verdict
        level         TEXT NOT NULL CHECK (level IN ('inventory', 'integrity', 'authenticity', 'deep', 'restore')),
        verdict       TEXT NOT NULL,
        sha256        TEXT,
        bytes         INTEGER,
        started_at    TEXT NOT NULL,
        duration_ms   INTEGER NOT NULL,
        bytes_per_sec REAL,
        detail        TEXT
      );
      CREATE INDEX verifications_set ON verifications(set_key, medium_id, started_at DESC);

      CREATE TABLE trusted_keys (
        key_id        TEXT PRIMARY KEY,          -- first 16 hex of SHA-256 of the raw Ed25519 public key
        label         TEXT NOT NULL,
        public_key_pem TEXT NOT NULL,            -- public keys only; private keys never enter the catalog
        added_at      TEXT NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'runbook runs and hash-chained journal',
    sql: `
      CREATE TABLE runs (
        id            TEXT PRIMARY KEY,
        runbook_id    TEXT NOT NULL,
        title         TEXT NOT NULL,
        drill         INTEGER NOT NULL DEFAULT 0,
        status        TEXT NOT NULL,
        operator      TEXT,
        incident_at   TEXT,
        started_at    TEXT NOT NULL,
        finished_at   TEXT,
        inputs_json   TEXT NOT NULL DEFAULT '{}',
        state_json    TEXT NOT NULL DEFAULT '{}'
      );

      CREATE TABLE journal (
        run_id        TEXT NOT NULL REFERENCES runs(id),
        seq           INTEGER NOT NULL,
        at            TEXT NOT NULL,
        actor         TEXT NOT NULL,
        type          TEXT NOT NULL,
        data_json     TEXT NOT NULL,
        prev_hash     TEXT NOT NULL,
        hash          TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 5,
    name: 'path texts for fast find',
    sql: `
      -- Every non-directory path of a set, one per line: \`find\` scans these texts with a
      -- substring search (much faster than GLOB over a million rows) and reads details above.
      -- A rowid table: its rows are large (a path per line), which WITHOUT ROWID tables handle badly.
      CREATE TABLE file_paths (
        id            INTEGER PRIMARY KEY,
        set_key       TEXT NOT NULL UNIQUE REFERENCES sets(key) ON DELETE CASCADE,
        paths         TEXT NOT NULL
      );
      INSERT INTO file_paths (set_key, paths)
        SELECT set_key, group_concat(path, char(10)) FROM file_index WHERE type != 'dir' GROUP BY set_key;
    `,
  },
  {
    version: 6,
    name: 'WAL archives seen on media',
    sql: `
      -- What a scan saw of each system's WAL archive on a medium (point-in-time recovery), so the
      -- catalog can say offline how far the archive reached and whether it has holes.
      CREATE TABLE wal_archives (
        medium_id     TEXT NOT NULL REFERENCES media(id) ON DELETE CASCADE,
        system        TEXT NOT NULL,
        files         INTEGER NOT NULL,
        bytes         INTEGER NOT NULL,
        timelines     TEXT NOT NULL,             -- JSON array of timeline ids
        first_segment TEXT,
        last_segment  TEXT,
        last_archived_at TEXT,                   -- the newest file's time on the medium
        gaps          INTEGER NOT NULL DEFAULT 0,
        scanned_at    TEXT NOT NULL,
        PRIMARY KEY (medium_id, system)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 7,
    name: 'restic snapshots as foreign sets',
    rebuildsReferencedTable: true,
    sql: `
      -- sets.origin gains 'restic' (issue 19): SQLite cannot change a CHECK, so the table is rebuilt
      -- as its documentation says (new table, copy, drop, rename, indexes); the tables that reference
      -- sets(key) keep their rows (foreign keys are off while this runs, checked before commit).
      CREATE TABLE sets_v7 (
        key           TEXT PRIMARY KEY,
        set_id        TEXT NOT NULL,
        system        TEXT NOT NULL,
        kind          TEXT NOT NULL,
        origin        TEXT NOT NULL DEFAULT 'lifeboat' CHECK (origin IN ('lifeboat', 'seed-script', 'pgbackrest', 'restic')),
        tier          TEXT,
        created_at    TEXT NOT NULL,
        finished_at   TEXT,
        parent_key    TEXT,
        bytes         INTEGER NOT NULL DEFAULT 0,
        artifact_count INTEGER NOT NULL DEFAULT 0,
        signed        INTEGER NOT NULL DEFAULT 0,
        signer_key_id TEXT,
        encrypted     INTEGER NOT NULL DEFAULT 0,
        manifest_sha256 TEXT,
        facts_json    TEXT
      );
      INSERT INTO sets_v7 (key, set_id, system, kind, origin, tier, created_at, finished_at, parent_key, bytes, artifact_count, signed, signer_key_id, encrypted, manifest_sha256, facts_json)
        SELECT key, set_id, system, kind, origin, tier, created_at, finished_at, parent_key, bytes, artifact_count, signed, signer_key_id, encrypted, manifest_sha256, facts_json FROM sets;
      DROP TABLE sets;
      ALTER TABLE sets_v7 RENAME TO sets;
      CREATE INDEX sets_system_created ON sets(system, created_at DESC);
      CREATE INDEX sets_created ON sets(created_at DESC);
    `,
  },
  {
    version: 8,
    name: 'ransomware indicator verdicts',
    sql: `
      -- The indicator's verdict per set (catalog/trends.ts): judged against the system's history
      -- when a set is made or scanned, from the measurements its manifest carries (source.measure),
      -- so a catalog rebuilt from the media judges it again. reasons: a JSON list of sentences.
      CREATE TABLE set_indicator (
        set_key       TEXT PRIMARY KEY REFERENCES sets(key) ON DELETE CASCADE,
        suspicious    INTEGER NOT NULL CHECK (suspicious IN (0, 1)),
        reasons       TEXT NOT NULL DEFAULT '[]',
        judged_at     TEXT NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 9,
    name: 'Azure Blob media',
    rebuildsReferencedTable: true,
    sql: `
      -- media.kind gains 'azure' (issue 23): SQLite cannot change a CHECK, so the table is rebuilt
      -- (new table, copy, drop, rename, index); the tables that reference media(id) keep their rows.
      CREATE TABLE media_v9 (
        id            TEXT PRIMARY KEY,
        kind          TEXT NOT NULL CHECK (kind IN ('folder', 's3', 'azure')),
        label         TEXT,
        location      TEXT NOT NULL,             -- absolute path, s3://bucket/prefix or azure://container/prefix
        endpoint      TEXT,
        credential_ref TEXT,
        format_version INTEGER,
        first_seen    TEXT NOT NULL,
        last_seen     TEXT,
        last_sync     TEXT,
        last_error    TEXT
      );
      INSERT INTO media_v9 (id, kind, label, location, endpoint, credential_ref, format_version, first_seen, last_seen, last_sync, last_error)
        SELECT id, kind, label, location, endpoint, credential_ref, format_version, first_seen, last_seen, last_sync, last_error FROM media;
      DROP TABLE media;
      ALTER TABLE media_v9 RENAME TO media;
      CREATE INDEX media_location ON media(location);
    `,
  },
  {
    version: 10,
    name: 'artifact hashes as 32-byte blobs',
    sql: `
      -- The artifacts table at fleet scale (issue 22: 1,000,000 rows at 100,000 sets) held each
      -- SHA-256 as 64 hex digits: as 32 bytes the table is about half its size and half its write
      -- time. A value that is not lowercase 64-digit hex (another tool's checksum) stays the text it
      -- was; readers convert back at their edge (catalog/hash-column.ts). Nothing references this
      -- table, so it is rebuilt with foreign keys on.
      CREATE TABLE artifacts_v10 (
        set_key       TEXT NOT NULL REFERENCES sets(key) ON DELETE CASCADE,
        path          TEXT NOT NULL,
        role          TEXT NOT NULL,
        bytes         INTEGER NOT NULL,
        sha256        BLOB,                      -- 32 bytes (see above)
        plain_bytes   INTEGER,
        plain_sha256  BLOB,
        encodings     TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (set_key, path)
      ) WITHOUT ROWID;
      INSERT INTO artifacts_v10 (set_key, path, role, bytes, sha256, plain_bytes, plain_sha256, encodings)
        SELECT set_key, path, role, bytes,
          CASE WHEN typeof(sha256) = 'text' AND length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*' THEN unhex(sha256) ELSE sha256 END,
          plain_bytes,
          CASE WHEN typeof(plain_sha256) = 'text' AND length(plain_sha256) = 64 AND plain_sha256 NOT GLOB '*[^0-9a-f]*' THEN unhex(plain_sha256) ELSE plain_sha256 END,
          encodings
        FROM artifacts;
      DROP TABLE artifacts;
      ALTER TABLE artifacts_v10 RENAME TO artifacts;
    `,
  },
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
