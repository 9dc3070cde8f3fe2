import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { CHANNEL_NAMES, contract, ipcChannel, type ChannelInput } from '../../shared/ipc/contract';
import { createHandlers } from '../../electron/engine/api/handlers';
import { dispatch } from '../../electron/engine/api/dispatch';
import { MemoryCredentialStore } from '../../electron/engine/credentials/credential-store';
import { Engine } from '../../electron/engine/engine';
import { silentLogger } from '../../electron/engine/log/logger';
import { isTrustedFrameAt, rendererEntry, type FrameLike } from '../../electron/main/trust';
import { tempDir } from '../helpers/temp';

// A fake electron module for the preload and register tests: records what they expose/register.
// Once a channel is registered, the preload's invoke reaches it as if from `sender` (the frame the
// test says the call came from); before, it echoes the call.
const exposed: Record<string, unknown> = {};
const registered = new Map<string, (event: unknown, raw: unknown) => Promise<unknown>>();
const sender: { frame: FrameLike | null } = { frame: null };
vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: (key: string, api: Record<string, unknown>) => (exposed[key] = api) },
  ipcRenderer: {
    invoke: vi.fn(async (channel: string, input: unknown) => {
      const handle = registered.get(channel);
      return handle ? handle({ senderFrame: sender.frame }, input) : { channel, input };
    }),
    on: vi.fn(),
    removeListener: vi.fn(),
  },
  ipcMain: {
    handle: (channel: string, fn: (event: unknown, raw: unknown) => Promise<unknown>) => registered.set(channel, fn),
    removeHandler: (channel: string) => registered.delete(channel),
  },
}));

let dir: ReturnType<typeof tempDir>;
let engine: Engine;
beforeAll(() => {
  dir = tempDir();
  engine = new Engine({ dataDir: dir.path, credentials: new MemoryCredentialStore(), frontDoor: 'bridge' });
});
afterAll(async () => {
  await engine.close();
  dir.cleanup();
});

describe('the IPC contract', () => {
  it('declares exactly the channel names list', () => {
    expect(Object.keys(contract).sort()).toEqual([...CHANNEL_NAMES].sort());
  });

  it('has an engine handler for every channel, and nothing else', () => {
    expect(Object.keys(createHandlers(engine)).sort()).toEqual([...CHANNEL_NAMES].sort());
  });

  it('has a preload entry for every channel, plus onJobEvent, and nothing else', async () => {
    await import('../../electron/preload/index');
    const api = exposed.lifeboat as Record<string, (input: unknown) => Promise<unknown>>;
    expect(Object.keys(api).sort()).toEqual([...CHANNEL_NAMES, 'onJobEvent'].sort());
    expect(Object.isFrozen(api)).toBe(true);
    for (const name of CHANNEL_NAMES)
      await expect(api[name]!({})).resolves.toEqual({ channel: ipcChannel(name), input: {} });
  });

  it('registers a main handler for every channel, behind the real trust check (main/trust.ts), reached through the preload', async () => {
    const { registerIpc } = await import('../../electron/ipc/register');
    await import('../../electron/preload/index');
    const api = exposed.lifeboat as Record<string, (input: unknown) => Promise<unknown>>;
    // As main/window.ts decides it for a packaged app: a leftover dev-server variable is ignored.
    const entry = rendererEntry({
      packaged: true,
      env: { ELECTRON_RENDERER_URL: 'http://localhost:5173/' },
      rendererFile: '/opt/Lifeboat/resources/app.asar/out/renderer/index.html',
    });
    const unregister = registerIpc(engine, createHandlers(engine), (frame) => isTrustedFrameAt(entry, frame));
    try {
      expect([...registered.keys()].sort()).toEqual(CHANNEL_NAMES.map(ipcChannel).sort());
      const own = 'file:///opt/Lifeboat/resources/app.asar/out/renderer/index.html';
      const refused = {
        ok: false,
        error: { code: 'BAD_INPUT', message: expect.stringMatching(/did not come from Lifeboat/) as unknown },
      };
      for (const frame of [
        null,
        { url: 'https://evil.example/', parent: null },
        { url: 'http://localhost:5173/', parent: null }, // the dev server, in a package
        { url: 'file:///opt/Lifeboat/resources/app.asar/out/renderer/other.html', parent: null },
        { url: own, parent: { url: own } }, // a subframe of our own page
      ]) {
        sender.frame = frame;
        await expect(api.getAppInfo!({})).resolves.toMatchObject(refused);
      }
      sender.frame = { url: `${own}#/verify`, parent: null };
      await expect(api.getAppInfo!({})).resolves.toMatchObject({ ok: true, value: { name: 'Lifeboat' } });
    } finally {
      unregister();
      sender.frame = null;
    }
    expect(registered.size).toBe(0);
  });

  it('lets callers leave out inputs that have defaults (ChannelInput is the input type; handlers get the parsed one)', () => {
    const input: ChannelInput<'startVerify'> = { target: '/mnt/usb1', level: 'integrity' };
    expect(contract.startVerify.input.parse(input)).toEqual({
      ...input,
      identityFiles: [],
      onlyNew: false,
      olderThanDays: null,
      jobs: 2,
    });
    const advance: ChannelInput<'advanceRun'> = { id: 'r1' };
    expect(contract.advanceRun.input.parse(advance)).toMatchObject({ identityFiles: [] });
  });

  it('matches the committed surface snapshot (a change here is a contract change)', async () => {
    const surface = Object.fromEntries(
      CHANNEL_NAMES.map((name) => [
        name,
        {
          doc: contract[name].doc,
          input: z.toJSONSchema(contract[name].input, { unrepresentable: 'any' }),
          output: z.toJSONSchema(contract[name].output, { unrepresentable: 'any' }),
        },
      ]),
    );
    await expect(`${JSON.stringify(surface, null, 2)}\n`).toMatchFileSnapshot(
      join(__dirname, '__snapshots__', 'ipc-surface.json'),
    );
  });
});

describe('dispatch', () => {
  it('answers every channel with a settled Result', async () => {
    const handlers = createHandlers(engine);
    for (const name of CHANNEL_NAMES) {
      const input = name === 'getJob' || name === 'cancelJob' ? { id: 'job-nope' } : {};
      const r = (await dispatch(handlers, name, input, silentLogger)) as { ok: boolean };
      expect(typeof r.ok).toBe('boolean');
    }
  });

  it('rejects unknown channels and invalid input with BAD_INPUT', async () => {
    const handlers = createHandlers(engine);
    await expect(dispatch(handlers, 'rm -rf', {}, silentLogger)).resolves.toMatchObject({
      ok: false,
      error: { code: 'BAD_INPUT' },
    });
    await expect(dispatch(handlers, 'getJob', { id: 42 }, silentLogger)).resolves.toMatchObject({
      ok: false,
      error: { code: 'BAD_INPUT', message: expect.stringContaining('id') },
    });
    await expect(dispatch(handlers, 'getAppInfo', { extra: true }, silentLogger)).resolves.toMatchObject({
      ok: false,
      error: { code: 'BAD_INPUT' },
    });
  });

  it('turns a thrown engine error into a coded Result', async () => {
    const handlers = createHandlers(engine);
    await expect(dispatch(handlers, 'getJob', { id: 'job-missing' }, silentLogger)).resolves.toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND' },
    });
    const broken = {
      ...handlers,
      getAppInfo: async () => {
        throw new Error('boom with password=hunter2');
      },
    };
    const r = await dispatch(broken, 'getAppInfo', {}, silentLogger);
    expect(r).toMatchObject({ ok: false, error: { code: 'INTERNAL' } });
    expect(JSON.stringify(r)).not.toContain('hunter2');
  });

  it('refuses to send an answer that breaks the contract', async () => {
    const handlers = createHandlers(engine);
    const wrong = { ...handlers, getAppInfo: async () => ({ name: 'Other' }) } as unknown as typeof handlers;
    await expect(dispatch(wrong, 'getAppInfo', {}, silentLogger)).resolves.toMatchObject({
      ok: false,
      error: { code: 'INTERNAL' },
    });
  });

  it('runs the self-check job through the contract', async () => {
    const handlers = createHandlers(engine);
    const started = await handlers.startSelfCheck({});
    expect(started.status).toBe('running');
    const final = await engine.jobs.wait(started.id);
    expect(final.status).toBe('succeeded');
    expect(final.result).toMatchObject({ catalogIntegrity: 'ok', keychain: { state: 'available' } });
    expect((await handlers.getJob({ id: started.id })).status).toBe('succeeded');
  });
});

it('the preload source never exposes ipcRenderer itself', () => {
  const source = readFileSync(join(__dirname, '../../electron/preload/index.ts'), 'utf8');
  expect(source).not.toMatch(/exposeInMainWorld\([^)]*ipcRenderer/);
});
