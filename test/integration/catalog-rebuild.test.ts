import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, lifeboat } from '../helpers/cli';
import { tempDir } from '../helpers/temp';

/**
 * `scan --rebuild` rebuilds what the media hold and keeps what they cannot give back: pinned keys, runs and their
 * journals, the verification ledger; when the old file cannot be read, it says exactly what was lost.
 */
let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let medium: string;
let setKey: string;
let catalogPath: string;
let signKey: string;

const RUNBOOK = `id: rebuild-check
title: Check a signed set
description: Select the newest signed set of docs and verify it at authenticity level.
level: 1
objectives: { rto: 15m, rpo: 1h }
steps:
  - { id: select, kind: action, title: Select the newest signed set, action: catalog.select-set, with: { system: docs, kind: files, signed: true } }
  - { id: check, kind: action, title: Verify it, action: verify.set, with: { set: "{{ steps.select.output.key }}", level: authenticity } }
`;

interface Rebuilt {
  previous_catalog: string | null;
  kept: Array<{ table: string; rows: number }>;
  lost: Array<{ table: string; why: string }>;
}

function rows(sql: string): unknown[] {
  const db = new Database(catalogPath, { readonly: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
}

beforeAll(() => {
  dir = tempDir();
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  catalogPath = join(dir.path, 'home', 'catalog.sqlite');
  medium = join(dir.path, 'usb');
  signKey = join(dir.path, 'sign.pem');
  expect(lifeboat(env, 'medium', 'init', medium, '--label', 'usb').status).toBe(0);
  lifeboat(env, 'keys', 'signing-new', '--out', signKey);
  const src = join(dir.path, 'src');
  mkdirSync(src);
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
    '--sign-key',
    signKey,
    '--json',
  );
  expect(r.status, r.stderr).toBe(0);
  setKey = `docs/${json<{ path: string }>(r).path.split('/').pop()!}`;
  expect(lifeboat(env, 'keys', 'trust', `${signKey}.pub`, '--label', 'servers').status).toBe(0);
}, 60_000);

afterAll(() => dir?.cleanup());

describe('scan --rebuild', () => {
  it('keeps pinned keys, runs, journals and the ledger: authenticity still passes after it', () => {
    expect(lifeboat(env, 'verify', medium, '--level', 'authenticity').status).toBe(0);
    const runbook = join(dir.path, 'rebuild-check.yaml');
    writeFileSync(runbook, RUNBOOK);
    const run = lifeboat(env, 'run', runbook, '--drill', '--yes', '--json');
    expect(run.status, run.stdout + run.stderr).toBe(0);
    const before = {
      runs: rows('SELECT id, status FROM runs'),
      journal: rows('SELECT run_id, seq, hash FROM journal ORDER BY run_id, seq'),
      ledger: rows('SELECT set_key, level, verdict, started_at FROM verifications ORDER BY id'),
      keys: rows('SELECT key_id FROM trusted_keys'),
    };
    expect(before.runs).toHaveLength(1);
    expect(before.journal.length).toBeGreaterThan(2);
    expect(before.keys).toHaveLength(1);

    const r = lifeboat(env, 'scan', '--rebuild');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /Kept from the old catalog: 1 pinned signing keys, 1 runbook runs, \d+ journal entries, \d+ verification ledger rows\. Lost: nothing\./,
    );
    const after = {
      runs: rows('SELECT id, status FROM runs'),
      journal: rows('SELECT run_id, seq, hash FROM journal ORDER BY run_id, seq'),
      ledger: rows('SELECT set_key, level, verdict, started_at FROM verifications ORDER BY id'),
      keys: rows('SELECT key_id FROM trusted_keys'),
    };
    expect(after).toEqual(before);
    // The set is back from the medium, still verified, and still authentic by its pinned key.
    const sets = json<Array<{ key: string; verified: boolean }>>(lifeboat(env, 'sets', '--json'));
    expect(sets).toEqual([expect.objectContaining({ key: setKey, verified: true })]);
    const v = lifeboat(env, 'verify', medium, '--level', 'authenticity', '--json');
    expect(v.status, v.stdout).toBe(0);
    expect(lifeboat(env, 'runs', '--json').stdout).toContain('rebuild-check');
  }, 120_000);

  it('an old file that cannot be read: the sets are rebuilt, and the message names what was kept and what was lost', () => {
    writeFileSync(catalogPath, Buffer.alloc(64 * 1024, 0x5a));
    for (const suffix of ['-wal', '-shm', '.clean'])
      if (existsSync(catalogPath + suffix)) writeFileSync(catalogPath + suffix, '');
    const r = lifeboat(env, 'scan', '--rebuild', '--json');
    expect(r.status, r.stderr).toBe(0);
    const report = json<Rebuilt>(r);
    expect(report.previous_catalog).toMatch(/catalog\.sqlite\.broken-/);
    expect(readFileSync(report.previous_catalog!).subarray(0, 4).toString()).toBe('ZZZZ');
    expect(report.kept).toEqual([]);
    expect(report.lost.map((l) => l.table)).toEqual(['trusted_keys', 'runs', 'journal', 'verifications']);
    expect(report.lost[0]!.why).toMatch(/not a database|could not be opened/);
    const text = lifeboat(env, 'scan', '--rebuild');
    expect(text.stdout).toMatch(/Kept from the old catalog: 0 pinned signing keys/);
    const sets = json<Array<{ key: string; verified: boolean }>>(lifeboat(env, 'sets', '--json'));
    expect(sets).toEqual([expect.objectContaining({ key: setKey, verified: false })]);
  }, 120_000);

  it("one damaged table: the others are kept, and the damaged one is named as lost with SQLite's reason", () => {
    expect(lifeboat(env, 'keys', 'trust', `${signKey}.pub`, '--label', 'servers').status).toBe(0);
    expect(lifeboat(env, 'verify', medium, '--level', 'authenticity').status).toBe(0);
    // Overwrite the pinned keys' table page (the CLI closed the file cleanly: no WAL left to replay).
    expect(existsSync(`${catalogPath}-wal`)).toBe(false);
    const db = new Database(catalogPath, { readonly: true });
    const page =
      (db.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'trusted_keys'").pluck().get() as number) - 1;
    const size = db.pragma('page_size', { simple: true }) as number;
    db.close();
    const fd = openSync(catalogPath, 'r+');
    writeSync(fd, Buffer.alloc(size, 0xff), 0, size, page * size);
    closeSync(fd);
    const r = lifeboat(env, 'scan', '--rebuild', '--json');
    expect(r.status, r.stderr).toBe(0);
    const report = json<Rebuilt>(r);
    expect(report.lost).toEqual([
      expect.objectContaining({ table: 'trusted_keys', why: expect.stringMatching(/malformed|SQLITE_CORRUPT/) }),
    ]);
    expect(report.kept.find((k) => k.table === 'verifications')?.rows).toBeGreaterThan(0);
    expect(json<Array<{ key: string; verified: boolean }>>(lifeboat(env, 'sets', '--json'))).toEqual([
      expect.objectContaining({ key: setKey, verified: true }),
    ]);
    // The key must be pinned again: authenticity says so instead of passing on a forgotten trust.
    const v = json<{ results: Array<{ verdict: string }> }>(
      lifeboat(env, 'verify', medium, '--level', 'authenticity', '--json'),
    );
    expect(v.results[0]!.verdict).toBe('untrusted-signer');
  }, 120_000);
});
