import { openSync, readFileSync, readSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../electron/engine/catalog/catalog';
import { parseIdentityFile, type AgeIdentity } from '../../electron/engine/crypto/age';
import { mapError } from '../../electron/engine/errors';
import { parseManifest, type Manifest } from '../../electron/engine/format/manifest';
import { parsePgUrl } from '../../electron/engine/postgres/connection';
import { restorePgLogical, type PgLogicalParams } from '../../electron/engine/restore/pg-logical';
import { verifySetAction } from '../../electron/engine/runbooks/actions/verify-set';
import type { ActionContext } from '../../electron/engine/runbooks/actions/types';
import { defaultSettings } from '../../electron/engine/settings/settings';
import type { Medium } from '../../electron/engine/storage/medium';
import { openMedium, type MediumOpener } from '../../electron/engine/storage/open-medium';
import { runVerify } from '../../electron/engine/verify/run';
import { json, lifeboat } from '../helpers/cli';
import { query, startPostgres, type ScratchCluster } from '../helpers/postgres';
import { loadSampleData } from '../helpers/sample-data';
import { tempDir } from '../helpers/temp';
import { restoreContext } from '../helpers/restore-context';

/**
 * One pass (issue 22): a restore that verifies reads each artifact's stored bytes from the medium
 * exactly once — `verify --level restore`, `restore pg` with its checks through the gate, and a
 * runbook's verify step (one_pass) followed by the restore of the same set (deep_check). Bytes are
 * counted where they leave the medium (every openRead of a folder medium, through a wrapper).
 */
let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let medium: string;
let pg: ScratchCluster;
let ids: AgeIdentity[];
let key: string;
let setPath: string;
let manifest: Manifest;
let catalog: Catalog;

/** A folder medium whose reads are counted per path (localPath hidden: every byte goes through openRead). */
function counting(): { open: MediumOpener; reads: Map<string, number> } {
  const reads = new Map<string, number>();
  const wrap = (m: Medium): Medium =>
    new Proxy(m, {
      get(target, prop, receiver) {
        if (prop === 'localPath') return () => null;
        if (prop === 'openRead')
          return async (rel: string) => {
            const source = await target.openRead(rel);
            const counter = new Transform({
              transform(chunk: Buffer, _e, cb) {
                reads.set(rel, (reads.get(rel) ?? 0) + chunk.length);
                cb(null, chunk);
              },
            });
            pipeline(source, counter).catch(() => undefined);
            return counter;
          };
        const v: unknown = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  return { open: async (location) => wrap(await openMedium(location)), reads };
}

/** The bytes read of each artifact of the set, by its path in the set. */
function artifactReads(reads: Map<string, number>): Record<string, number> {
  return Object.fromEntries(manifest.artifacts.map((a) => [a.path, reads.get(`${setPath}/${a.path}`) ?? 0]));
}
const storedSizes = (): Record<string, number> => Object.fromEntries(manifest.artifacts.map((a) => [a.path, a.bytes]));

function deepRows(): Array<{ level: string; verdict: string }> {
  const db = new Database(join(dir.path, 'home', 'catalog.sqlite'), { readonly: true });
  try {
    return db
      .prepare(
        "SELECT level, verdict FROM verifications WHERE set_key = ? AND artifact_path IS NULL AND level = 'deep' ORDER BY id",
      )
      .all(key) as Array<{ level: string; verdict: string }>;
  } finally {
    db.close();
  }
}

const restoreCtx = (open: MediumOpener, stepId: string): ActionContext =>
  restoreContext({ catalog, dir: dir.path, identities: ids, stepId, open });

const params = (database: string, deep = false): PgLogicalParams => ({
  set: key,
  database,
  clean: false,
  jobs: 2,
  allow_unsigned: false,
  as_superuser: false,
  deep_check: deep,
});

beforeAll(async () => {
  dir = tempDir();
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  medium = join(dir.path, 'usb');
  const identity = join(dir.path, 'id.age');
  const signKey = join(dir.path, 'sign.pem');
  pg = await startPostgres();
  await loadSampleData(pg.url());
  lifeboat(env, 'keys', 'signing-new', '--out', signKey);
  expect(lifeboat(env, 'keys', 'trust', `${signKey}.pub`, '--label', 'servers').status).toBe(0);
  expect(lifeboat(env, 'medium', 'init', medium, '--label', 'usb').status).toBe(0);
  const recipient = lifeboat(env, 'keys', 'age-new', '--out', identity).stdout.trim();
  ids = parseIdentityFile(readFileSync(identity, 'utf8'));
  // A folder set path as the catalog records it, with the key `lifeboat sets` gives.
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
    recipient,
    '--sign-key',
    signKey,
    '--json',
  );
  expect(backed.status, backed.stderr).toBe(0);
  setPath = json<{ path: string }>(backed).path;
  key = `shop/${setPath.split('/').pop()!}`;
  manifest = parseManifest(readFileSync(join(medium, setPath, 'manifest.json')));
  catalog = Catalog.open(join(dir.path, 'home', 'catalog.sqlite'));
}, 120_000);

afterAll(async () => {
  catalog?.close();
  await pg?.destroy();
  dir?.cleanup();
});

describe('one pass over the medium', () => {
  it('verify --level restore: the deep check and the test restore share one read of each artifact', async () => {
    const { open, reads } = counting();
    const r = await runVerify(
      { catalog, settings: defaultSettings(), dataDir: join(dir.path, 'home'), openMedium: open },
      { target: key, level: 'restore', identities: ids, onlyNew: false, olderThanDays: null, jobs: 2 },
      { signal: new AbortController().signal, progress: () => undefined, step: () => undefined, log: () => undefined },
    );
    expect(r.results[0], JSON.stringify(r.results[0])).toMatchObject({ verdict: 'ok', detail: /measured RTO/ });
    expect(r.results[0]!.restore?.checks.every((c) => c.ok)).toBe(true);
    expect(artifactReads(reads)).toEqual(storedSizes());
  }, 90_000);

  it('restore pg: the dump is read once, through the gate', async () => {
    const { open, reads } = counting();
    const out = await restorePgLogical(params('onepass_plain'), restoreCtx(open, 'restore'), () =>
      Promise.resolve(parsePgUrl(pg.url())),
    );
    expect(out.tables).toBeGreaterThan(0);
    expect(out.verification).toBeUndefined();
    expect(artifactReads(reads)).toEqual(storedSizes());
  }, 90_000);

  it('a runbook verify step (one_pass) then the restore (deep_check): one read, a deep verdict in the ledger', async () => {
    const before = deepRows().length;
    const { open, reads } = counting();
    const verified = await verifySetAction.run(
      verifySetAction.params.parse({ set: key, level: 'deep', one_pass: true }),
      restoreCtx(open, 'verify'),
    );
    expect(verified).toMatchObject({
      verdict: 'ok',
      level: 'authenticity',
      deep: /runs with the restore, in one pass/,
    });
    // The verify step read no artifact: the restore step reads each once and makes the deep check on that pass.
    expect(Object.values(artifactReads(reads)).every((n) => n === 0)).toBe(true);
    const out = await restorePgLogical(params('onepass_pair', true), restoreCtx(open, 'restore'), () =>
      Promise.resolve(parsePgUrl(pg.url())),
    );
    expect(out.tables).toBeGreaterThan(0);
    expect(out.verification).toMatchObject({ level: 'deep', verdict: 'ok' });
    expect(artifactReads(reads)).toEqual(storedSizes());
    expect(deepRows().slice(before)).toEqual([{ level: 'deep', verdict: 'ok' }]);
  }, 90_000);

  it('a set whose dump was altered fails the restore step with the verify error; nothing is restored, the verdict recorded', async () => {
    // One byte flipped in the middle of the stored dump: same size, so the one_pass verify step passes on sizes.
    const dump = manifest.artifacts.find((a) => a.role === 'pg-dump')!;
    const fd = openSync(join(medium, setPath, dump.path), 'r+');
    const b = Buffer.alloc(1);
    const at = Math.floor(dump.bytes / 2);
    readSync(fd, b, 0, 1, at);
    b[0] = b[0]! ^ 0xff;
    writeSync(fd, b, 0, 1, at);
    closeSync(fd);
    const { open } = counting();
    const verified = await verifySetAction.run(
      verifySetAction.params.parse({ set: key, level: 'deep', one_pass: true }),
      restoreCtx(open, 'verify'),
    );
    expect(verified).toMatchObject({ verdict: 'ok' });
    const err = await restorePgLogical(params('onepass_bad', true), restoreCtx(open, 'restore'), () =>
      Promise.resolve(parsePgUrl(pg.url())),
    ).then(
      () => null,
      (e: unknown) => mapError(e),
    );
    expect(err?.code).toBe('CHECKSUM_MISMATCH');
    expect(err?.message).toMatch(/failed verification at deep level: .*Nothing was restored/);
    expect(deepRows().at(-1)).toEqual({ level: 'deep', verdict: 'corrupted' });
    const dbs = await query<{ n: string }>(
      pg.url(),
      "SELECT count(*)::text AS n FROM pg_database WHERE datname = 'onepass_bad'",
    );
    expect(dbs[0]!.n).toBe('0');
  }, 90_000);
});
