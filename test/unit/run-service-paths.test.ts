import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createHandlers, type Handlers } from '../../electron/engine/api/handlers';
import { MemoryCredentialStore } from '../../electron/engine/credentials/credential-store';
import { Engine } from '../../electron/engine/engine';
import { LifeboatError } from '../../electron/engine/errors';
import { tempDir } from '../helpers/temp';

/**
 * Issue 21 (review R2): a run started from the window with a relative folder restored into the bridge's own process
 * folder (/work/…/restored-config). The app refuses it, naming the input, before the run exists.
 */
let dir: ReturnType<typeof tempDir>;
let engine: Engine;
let handlers: Handlers;

beforeAll(() => {
  dir = tempDir();
  engine = new Engine({
    dataDir: join(dir.path, 'home'),
    credentials: new MemoryCredentialStore(),
    frontDoor: 'bridge',
  });
  handlers = createHandlers(engine);
});

afterAll(async () => {
  await engine?.close();
  dir?.cleanup();
});

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(LifeboatError);
    return { code: (e as LifeboatError).code, message: (e as LifeboatError).message };
  }
  throw new Error('started');
}

describe('runs started from the app', { timeout: 20_000 }, () => {
  it('refuse a relative restore folder or identity file, naming it, and start no run', async () => {
    const start = (dirInput: string, identityFiles: string[]): Promise<unknown> =>
      handlers.startRun({
        runbook: 'restore-files',
        inputs: { system: 'shop-config', set: 'shop-config/x', dir: dirInput },
        drill: false,
        identityFiles,
      });
    await expect(refusal(start('restored-config', []))).resolves.toEqual({
      code: 'BAD_INPUT',
      message: 'dir: restored-config is a relative path: give an absolute path (like /srv/restored).',
    });
    await expect(refusal(start('/srv/restored', ['keys/laptop.age']))).resolves.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringContaining('keys/laptop.age is a relative path'),
    });
    expect(await handlers.listRuns({})).toEqual([]);
  });
});
