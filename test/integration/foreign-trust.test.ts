import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../electron/engine/catalog/catalog';
import { mapError } from '../../electron/engine/errors';
import { MemoryCredentialStore } from '../../electron/engine/credentials/credential-store';
import { selectSet } from '../../electron/engine/runbooks/actions/select-set';
import { openCopy } from '../../electron/engine/restore/set-access';
import type { ActionContext } from '../../electron/engine/runbooks/actions/types';
import { defaultSettings } from '../../electron/engine/settings/settings';
import { json, lifeboat } from '../helpers/cli';
import { tempDir } from '../helpers/temp';

/**
 * The one trust rule on a real foreign set (a seed script's dump, today's seed detector): at the
 * authenticity level it is named, never failed as unsigned; a restore of it is refused before a
 * first successful verification (unless the override), admitted after.
 */
let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let seed: string;
const KEY = 'x/20261202T030000-pg-logical-seed';

interface Report {
  ok: boolean;
  failed: number;
  results: Array<{ key: string; verdict: string; detail: string | null; trust?: string | null }>;
}

beforeAll(() => {
  dir = tempDir();
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  seed = join(dir.path, 'seed');
  mkdirSync(seed);
  writeFileSync(
    join(seed, 'postgres_x_20261202_030000.sql.gz'),
    gzipSync('-- PostgreSQL database dump\nCREATE TABLE t (x int);\n'),
  );
  const r = lifeboat(env, 'scan', seed);
  expect(r.status, r.stderr).toBe(0);
}, 60_000);

afterAll(() => dir?.cleanup());

/** catalog.select-set with `signed: true`: the trust rule decides which sets qualify. */
async function selectSigned(): Promise<Record<string, unknown>> {
  const catalog = Catalog.open(join(dir.path, 'home', 'catalog.sqlite'));
  try {
    const ctx = {
      deps: {
        catalog,
        settings: defaultSettings(),
        dataDir: join(dir.path, 'home'),
        credentials: new MemoryCredentialStore(),
        identities: [],
      },
      signal: new AbortController().signal,
      log: () => undefined,
      progress: () => undefined,
    } as unknown as ActionContext;
    return await selectSet.run(selectSet.params.parse({ system: 'x', kind: 'pg-logical', signed: true }), ctx);
  } finally {
    catalog.close();
  }
}

async function open(allowUnsigned: boolean): Promise<Awaited<ReturnType<typeof openCopy>>> {
  const catalog = Catalog.open(join(dir.path, 'home', 'catalog.sqlite'));
  try {
    return await openCopy(catalog, KEY, { allowUnsigned });
  } finally {
    catalog.close();
  }
}

describe('a foreign set under the trust rule', () => {
  it('before its first verification: a restore is refused, or admitted only with the override (journaled as such)', async () => {
    const err = await open(false).then(
      () => null,
      (e: unknown) => mapError(e),
    );
    expect(err?.code).toBe('UNTRUSTED_SIGNER');
    expect(err?.message).toMatch(/never verified successfully here/);
    expect(err?.hint).toMatch(/--allow-unsigned/);
    const copy = await open(true);
    expect(copy.origin).toBe('seed-script');
    if (copy.origin === 'lifeboat') throw new Error('a foreign copy expected');
    expect(copy.trust.text).toBe('foreign: not yet verified');
    expect(copy.decision.state).toBe('accepted-unsigned');
    expect(copy.artifacts.map((a) => [a.path, a.recordedSha256])).toEqual([
      ['postgres_x_20261202_030000.sql.gz', null],
    ]);
    await expect(selectSigned()).rejects.toMatchObject({
      code: 'NOT_FOUND',
      hint: expect.stringMatching(/never verified successfully here/),
    });
  }, 30_000);

  it('authenticity: not a failure, the named state; then a restore is admitted by it', async () => {
    const r = lifeboat(env, 'verify', seed, '--level', 'authenticity', '--json');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const [res] = json<Report>(r).results;
    expect(res).toMatchObject({ key: KEY, verdict: 'ok' });
    expect(res!.trust).toMatch(/^foreign: trusted on first verification \d{4}-\d\d-\d\d /);
    expect(res!.detail).toContain(res!.trust!);
    const text = lifeboat(env, 'verify', seed, '--level', 'authenticity');
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(
      /OK +x\/20261202T030000-pg-logical-seed +\[ok\] +foreign: trusted on first verification/,
    );
    expect(text.stdout).not.toMatch(/unsigned|FAIL/);
    const copy = await open(false);
    if (copy.origin === 'lifeboat') throw new Error('a foreign copy expected');
    expect(copy.decision).toEqual({ state: 'foreign', text: copy.trust.text });
    expect(copy.trust.state).toBe('foreign-first-verification');
    expect(copy.artifacts[0]!.recordedSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await selectSigned()).toMatchObject({
      key: KEY,
      trust: expect.stringMatching(/^foreign: trusted on first verification/),
    });
  }, 60_000);

  it('the file changed since the first verification: corrupted, and the state still names when it was trusted', () => {
    writeFileSync(
      join(seed, 'postgres_x_20261202_030000.sql.gz'),
      gzipSync('-- PostgreSQL database dump\nDROP TABLE t;;\n'),
    );
    // Same size or not, the scan re-reads it; the recorded hash decides.
    expect(lifeboat(env, 'scan', seed).status).toBe(0);
    const r = lifeboat(env, 'verify', seed, '--level', 'authenticity', '--json');
    expect(r.status).toBe(1);
    const [res] = json<Report>(r).results;
    expect(res!.verdict).toBe('corrupted');
    expect(res!.detail).toMatch(/recorded on its first verification/);
    expect(res!.trust).toMatch(/^foreign: trusted on first verification/);
  }, 60_000);
});
