import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../electron/engine/catalog/catalog';
import { currentVerdicts } from '../../electron/engine/catalog/queries';
import { parseIdentityFile } from '../../electron/engine/crypto/age';
import { mapError } from '../../electron/engine/errors';
import { defaultSettings } from '../../electron/engine/settings/settings';
import { runVerify } from '../../electron/engine/verify/run';
import { json, lifeboat } from '../helpers/cli';
import { startPostgres, type ScratchCluster } from '../helpers/postgres';
import { loadSampleData } from '../helpers/sample-data';
import { tempDir } from '../helpers/temp';

/**
 * Verdicts are facts about the set, never about the run: what could not be checked here (a cancel, no matching key) is
 * `not-checked`, exits 2 and records nothing; a folder that is not a medium never passes; the state follows the verdict
 * that still stands per level and medium.
 */
let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let medium: string;
let identity: string;
let otherIdentity: string;
let filesSet: string;
let signKey: string;

interface Report {
  ok: boolean;
  not_checked: number;
  failed: number;
  results: Array<{
    key: string;
    verdict: string;
    detail: string | null;
    artifacts: Array<{ path: string; verdict: string }>;
  }>;
}

/** The set-level rows of the ledger, read straight from the catalog file. */
function ledger(key: string): Array<{ level: string; verdict: string }> {
  const db = new Database(join(dir.path, 'home', 'catalog.sqlite'), { readonly: true });
  try {
    return db
      .prepare(
        'SELECT level, verdict FROM verifications WHERE set_key = ? AND artifact_path IS NULL ORDER BY started_at',
      )
      .all(key) as Array<{ level: string; verdict: string }>;
  } finally {
    db.close();
  }
}

function setRow(key: string): { verified: boolean } {
  const rows = json<Array<{ key: string; verified: boolean }>>(lifeboat(env, 'sets', '--json'));
  const row = rows.find((r) => r.key === key);
  expect(row, `set ${key} in the catalog`).toBeDefined();
  return row!;
}

beforeAll(() => {
  dir = tempDir();
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  medium = join(dir.path, 'usb');
  identity = join(dir.path, 'id.age');
  otherIdentity = join(dir.path, 'other.age');
  signKey = join(dir.path, 'sign.pem');
  lifeboat(env, 'keys', 'signing-new', '--out', signKey);
  expect(lifeboat(env, 'keys', 'trust', `${signKey}.pub`, '--label', 'servers').status).toBe(0);
  expect(lifeboat(env, 'medium', 'init', medium, '--label', 'usb').status).toBe(0);
  const recipient = lifeboat(env, 'keys', 'age-new', '--out', identity).stdout.trim();
  lifeboat(env, 'keys', 'age-new', '--out', otherIdentity);
  const src = join(dir.path, 'src');
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'a.txt'), 'alpha');
  const r = lifeboat(
    env,
    'backup',
    'files',
    '--system',
    'docs',
    '--path',
    src,
    '--to',
    medium,
    '--recipient',
    recipient,
    '--sign-key',
    signKey,
    '--json',
  );
  expect(r.status, r.stderr).toBe(0);
  filesSet = join(medium, json<{ path: string }>(r).path);
}, 60_000);

afterAll(() => dir?.cleanup());

describe('a missing key is not a verdict', () => {
  it('deep with no identity, or with one that is not a recipient: not-checked, exit 2, nothing recorded, the set not failed', () => {
    const key = `docs/${filesSet.split('/').pop()!}`;
    expect(lifeboat(env, 'verify', medium, '--level', 'integrity').status).toBe(0);
    expect(setRow(key).verified).toBe(true);
    for (const extra of [[], ['--identity', otherIdentity]]) {
      const r = lifeboat(env, 'verify', medium, '--level', 'deep', ...extra, '--json');
      expect(r.status, r.stdout + r.stderr).toBe(2);
      const report = json<Report>(r);
      expect(report).toMatchObject({ ok: false, not_checked: 1, failed: 0 });
      expect(report.results[0]!.verdict).toBe('not-checked');
      expect(report.results[0]!.detail).toMatch(/no identity given for key [0-9a-f]{16}/);
    }
    const text = lifeboat(env, 'verify', medium, '--level', 'deep');
    expect(text.status).toBe(2);
    expect(text.stdout).toMatch(/not checked: .*no identity given/);
    expect(text.stdout).not.toMatch(/FAIL/);
    // Only the integrity pass is in the ledger; the set is still verified and the Overview shows no failure.
    expect(ledger(key)).toEqual([{ level: 'integrity', verdict: 'ok' }]);
    expect(setRow(key).verified).toBe(true);
    const media = json<Array<{ failingSets: number }>>(lifeboat(env, 'media', '--json'));
    expect(media[0]!.failingSets).toBe(0);
    // With the right identity the deep check is made and recorded.
    expect(lifeboat(env, 'verify', medium, '--level', 'deep', '--identity', identity).status).toBe(0);
    expect(ledger(key).map((l) => `${l.level}:${l.verdict}`)).toEqual(['integrity:ok', 'deep:ok']);
  }, 120_000);
});

describe('the state follows the verdict that still stands', () => {
  it('a later failure supersedes an older pass, and a later pass an older failure', () => {
    const key = `docs/${filesSet.split('/').pop()!}`;
    const artifact = join(filesSet, readdirArtifact(filesSet));
    const good = readFileSync(artifact);
    const bad = Buffer.from(good);
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 0xff;
    writeFileSync(artifact, bad);
    expect(lifeboat(env, 'verify', medium, '--level', 'integrity').status).toBe(1);
    expect(setRow(key).verified).toBe(false);
    expect(json<Array<{ failingSets: number }>>(lifeboat(env, 'media', '--json'))[0]!.failingSets).toBe(1);
    const catalogPath = join(dir.path, 'home', 'catalog.sqlite');
    let catalog = Catalog.open(catalogPath);
    expect(currentVerdicts(catalog).map((v) => `${v.level}:${v.verdict}`)).toEqual(['integrity:corrupted', 'deep:ok']);
    catalog.close();

    writeFileSync(artifact, good);
    expect(lifeboat(env, 'verify', medium, '--level', 'integrity').status).toBe(0);
    expect(setRow(key).verified).toBe(true);
    expect(json<Array<{ failingSets: number }>>(lifeboat(env, 'media', '--json'))[0]!.failingSets).toBe(0);
    catalog = Catalog.open(catalogPath);
    // The old failure is history (still in the set's detail), not a state: the Overview lists what stands.
    expect(currentVerdicts(catalog).map((v) => `${v.level}:${v.verdict}`)).toEqual(['integrity:ok', 'deep:ok']);
    catalog.close();
  }, 120_000);
});

function readdirArtifact(setPath: string): string {
  const manifest = JSON.parse(readFileSync(join(setPath, 'manifest.json'), 'utf8')) as {
    artifacts: Array<{ path: string }>;
  };
  return manifest.artifacts[0]!.path;
}

describe('nothing to verify is never a pass', () => {
  it('an empty folder (an unmounted mount point) and a folder of other things: "no Lifeboat medium here", exit 2', () => {
    const empty = join(dir.path, 'mnt-backup');
    mkdirSync(empty);
    let r = lifeboat(env, 'verify', empty, '--json');
    expect(r.status).toBe(2);
    expect(r.stderr + r.stdout).toMatch(/No Lifeboat medium here/);
    const other = join(dir.path, 'photos');
    mkdirSync(other);
    writeFileSync(join(other, 'cat.jpg'), 'meow');
    r = lifeboat(env, 'verify', other);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/No Lifeboat medium here/);
    // Neither became a medium of the catalog.
    const media = json<Array<{ location: string }>>(lifeboat(env, 'media', '--json'));
    expect(media.map((m) => m.location)).toEqual([medium]);
  }, 60_000);

  it('a path that does not exist (a mount point gone, a typo): nothing verified, exit 2, not the exit 1 of a failed set', () => {
    const r = lifeboat(env, 'verify', join(dir.path, 'no-such-mount'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/neither a medium.*Nothing was verified/);
  }, 60_000);

  it('an initialized medium with no set: "no sets on this medium", exit 2', () => {
    const fresh = join(dir.path, 'fresh');
    expect(lifeboat(env, 'medium', 'init', fresh, '--label', 'fresh').status).toBe(0);
    const r = lifeboat(env, 'verify', fresh);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/No sets on this medium/);
  }, 60_000);

  it('a seed-script folder the scan recognizes is still a medium', () => {
    const seed = join(dir.path, 'seed-backups');
    mkdirSync(join(seed, 'database'), { recursive: true });
    writeFileSync(join(seed, 'database', 'postgres_myproject_nexa_20260204_120000.sql'), 'SELECT 1;\n');
    const r = lifeboat(env, 'verify', seed, '--json');
    expect(r.status, r.stderr).toBe(0);
    expect(json<Report>(r).results).toHaveLength(1);
  }, 60_000);
});

describe('a cancel is not a verdict', () => {
  let pg: ScratchCluster;
  beforeAll(async () => {
    pg = await startPostgres();
    await loadSampleData(pg.url());
  }, 120_000);
  afterAll(async () => pg?.destroy());

  it('cancelling a restore-level verification while the test restore runs records no restore-failed', async () => {
    const recipient = readFileSync(`${identity}`, 'utf8');
    const ids = parseIdentityFile(recipient);
    const backed = lifeboat(
      env,
      'backup',
      'pg',
      '--system',
      'shop',
      '--db',
      pg.url(),
      '--to',
      medium,
      '--recipient',
      ids[0]!.recipient.text,
      '--sign-key',
      signKey,
      '--json',
    );
    expect(backed.status, backed.stderr).toBe(0);
    const setPath = join(medium, json<{ path: string }>(backed).path);
    const key = `shop/${setPath.split('/').pop()!}`;
    const catalog = Catalog.open(join(dir.path, 'home', 'catalog.sqlite'));
    const abort = new AbortController();
    const logs: string[] = [];
    try {
      const run = runVerify(
        { catalog, settings: defaultSettings(), dataDir: join(dir.path, 'home') },
        { target: setPath, level: 'restore', identities: ids, onlyNew: false, olderThanDays: null, jobs: 1 },
        {
          signal: abort.signal,
          progress: () => undefined,
          step: () => undefined,
          // Cancel as the scratch PostgreSQL of the test restore starts: the moment a cancel used to become `restore-failed`.
          log: (_level, message) => {
            logs.push(message);
            if (/starting a scratch PostgreSQL/.test(message)) abort.abort();
          },
        },
      );
      const err = await run.then(
        () => null,
        (e: unknown) => mapError(e),
      );
      expect(
        logs.some((l) => /starting a scratch PostgreSQL/.test(l)),
        logs.join('\n'),
      ).toBe(true);
      expect(err?.code).toBe('CANCELLED');
    } finally {
      catalog.close();
    }
    expect(ledger(key)).toEqual([]);
  }, 180_000);

  it('a scratch PostgreSQL that cannot start here: the restore level is not checked (exit 2), never restore-failed', () => {
    // An initdb that fails, reachable by the postgres user the scratch server runs as.
    const fake = mkdtempSync(join(tmpdir(), 'lifeboat-fake-pg-'));
    try {
      chmodSync(fake, 0o755);
      writeFileSync(join(fake, 'initdb'), '#!/bin/sh\necho "initdb: simulated failure" >&2\nexit 1\n', { mode: 0o755 });
      const sets = json<Array<{ key: string; kind: string }>>(lifeboat(env, 'sets', '--json')).filter(
        (x) => x.kind === 'pg-logical' && x.key.startsWith('shop/'),
      );
      expect(sets).toHaveLength(1);
      const r = lifeboat(
        { ...env, LIFEBOAT_PG_SERVER_BIN: fake },
        'verify',
        sets[0]!.key,
        '--level',
        'restore',
        '--identity',
        identity,
        '--json',
      );
      expect(r.status, r.stdout + r.stderr).toBe(2);
      const report = json<Report>(r);
      expect(report.results[0]).toMatchObject({
        verdict: 'not-checked',
        detail: expect.stringMatching(
          /the test restore could not run here: no scratch PostgreSQL could be started here/,
        ),
      });
      // What was checked (everything up to deep) is recorded as such; nothing at restore level.
      expect(ledger(sets[0]!.key)).toEqual([{ level: 'deep', verdict: 'ok' }]);
    } finally {
      rmSync(fake, { recursive: true, force: true });
    }
  }, 180_000);
});
