import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandlers } from '../../electron/engine/api/handlers';
import { trustKey } from '../../electron/engine/catalog/trust';
import { dispatch } from '../../electron/engine/api/dispatch';
import { MemoryCredentialStore } from '../../electron/engine/credentials/credential-store';
import { Engine } from '../../electron/engine/engine';
import { silentLogger } from '../../electron/engine/log/logger';
import { lifeboat } from '../helpers/cli';
import { tempDir } from '../helpers/temp';

let dir: ReturnType<typeof tempDir>;
let engine: Engine;
let medium: string;
let identity: string;

beforeAll(() => {
  dir = tempDir();
  const env = { LIFEBOAT_HOME: join(dir.path, 'server') };
  medium = join(dir.path, 'usb');
  identity = join(dir.path, 'id.age');
  lifeboat(env, 'medium', 'init', medium, '--label', 'usb');
  const recipient = lifeboat(env, 'keys', 'age-new', '--out', identity).stdout.trim();
  lifeboat(env, 'keys', 'signing-new', '--out', join(dir.path, 'sign.pem'));
  const src = join(dir.path, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'a.txt'), 'alpha');
  expect(
    lifeboat(
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
      join(dir.path, 'sign.pem'),
    ).status,
  ).toBe(0);
  engine = new Engine({
    dataDir: join(dir.path, 'app'),
    credentials: new MemoryCredentialStore(),
    frontDoor: 'bridge',
    throttleMs: 10,
  });
  trustKey(engine.catalog, readFileSync(join(dir.path, 'sign.pem.pub'), 'utf8'), 'servers');
});
afterAll(async () => {
  await engine.close();
  dir.cleanup();
});

describe('verification over the IPC contract', () => {
  it('runs as a job with progress events and a per-set result, and feeds the catalog', async () => {
    const events: string[] = [];
    const off = engine.jobs.subscribe((e) => events.push(e.type));
    const started = await dispatch(
      createHandlers(engine),
      'startVerify',
      { target: medium, level: 'deep', identityFiles: [identity] },
      silentLogger,
    );
    expect(started).toMatchObject({ ok: true });
    const id = (started as { value: { id: string } }).value.id;
    const final = await engine.jobs.wait(id);
    off();
    expect(final.status).toBe('succeeded');
    const report = final.result as { results: Array<{ verdict: string; key: string }>; bytes: number };
    expect(report.results).toHaveLength(1);
    expect(report.results[0]!.verdict).toBe('ok');
    expect(events).toContain('step');
    expect(events.at(-1)).toBe('finished');
    // Deep verification indexed the files; the catalog now answers find and the ledger knows.
    const h = createHandlers(engine);
    expect((await h.findFiles({ glob: '*a.txt' })).map((f) => f.path)).toEqual(['src/a.txt']);
    expect((await h.listSets({ verified: true })).map((s) => s.system)).toEqual(['docs']);
  });

  it('refuses an unreadable identity file with a clear error', async () => {
    const r = await dispatch(
      createHandlers(engine),
      'startVerify',
      { target: medium, level: 'deep', identityFiles: [join(dir.path, 'nope.age')] },
      silentLogger,
    );
    expect(r).toMatchObject({ ok: false, error: { code: 'KEY_INVALID' } });
  });
});
