import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { CHANNEL_NAMES, contract, ipcChannel } from '../../shared/ipc/contract';
import { createHandlers } from '../../electron/engine/api/handlers';
import { dispatch } from '../../electron/engine/api/dispatch';
import { MemoryCredentialStore } from '../../electron/engine/credentials/credential-store';
import { Engine } from '../../electron/engine/engine';
import { silentLogger } from '../../electron/engine/log/logger';
import { tempDir } from '../helpers/temp';

// A fake electron module for the preload and register tests: records what they expose/register.
const exposed: Record<string, unknown> = {};
const registered = new Map<string, (event: unknown, raw: unknown) => Promise<unknown>>();
vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: (key: string, api: Record<string, unknown>) => (exposed[key] = api) },
  ipcRenderer: { invoke: vi.fn(async (channel: string, input: unknown) => ({ channel, input })), on: vi.fn(), removeListener: vi.fn() },
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
    for (const name of CHANNEL_NAMES) await expect(api[name]!({})).resolves.toEqual({ channel: ipcChannel(name), input: {} });
  });

  it('registers a main handler for every channel that refuses untrusted frames', async () => {
    const { registerIpc } = await import('../../electron/ipc/register');
    const handlers = createHandlers(engine);
    const unregister = registerIpc(engine, handlers, (frame) => frame !== null && (frame as { url: string }).url === 'file:///app/index.html');
    expect([...registered.keys()].sort()).toEqual(CHANNEL_NAMES.map(ipcChannel).sort());
    const handle = registered.get(ipcChannel('getAppInfo'))!;
    await expect(handle({ senderFrame: { url: 'https://evil.example/' } }, {})).resolves.toMatchObject({ ok: false, error: { code: 'BAD_INPUT' } });
    await expect(handle({ senderFrame: { url: 'file:///app/index.html' } }, {})).resolves.toMatchObject({ ok: true, value: { name: 'Lifeboat' } });
    unregister();
    expect(registered.size).toBe(0);
  });

  it('matches the committed surface snapshot (a change here is a contract change)', async () => {
    const surface = Object.fromEntries(
      CHANNEL_NAMES.map((name) => [name, { doc: contract[name].doc, input: z.toJSONSchema(contract[name].input, { unrepresentable: 'any' }), output: z.toJSONSchema(contract[name].output, { unrepresentable: 'any' }) }]),
    );
    await expect(`${JSON.stringify(surface, null, 2)}\n`).toMatchFileSnapshot(join(__dirname, '__snapshots__', 'ipc-surface.json'));
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
    await expect(dispatch(handlers, 'rm -rf', {}, silentLogger)).resolves.toMatchObject({ ok: false, error: { code: 'BAD_INPUT' } });
    await expect(dispatch(handlers, 'getJob', { id: 42 }, silentLogger)).resolves.toMatchObject({ ok: false, error: { code: 'BAD_INPUT', message: expect.stringContaining('id') } });
    await expect(dispatch(handlers, 'getAppInfo', { extra: true }, silentLogger)).resolves.toMatchObject({ ok: false, error: { code: 'BAD_INPUT' } });
  });

  it('turns a thrown engine error into a coded Result', async () => {
    const handlers = createHandlers(engine);
    await expect(dispatch(handlers, 'getJob', { id: 'job-missing' }, silentLogger)).resolves.toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    const broken = { ...handlers, getAppInfo: async () => { throw new Error('boom with password=hunter2'); } };
    const r = await dispatch(broken, 'getAppInfo', {}, silentLogger);
    expect(r).toMatchObject({ ok: false, error: { code: 'INTERNAL' } });
    expect(JSON.stringify(r)).not.toContain('hunter2');
  });

  it('refuses to send an answer that breaks the contract', async () => {
    const handlers = createHandlers(engine);
    const wrong = { ...handlers, getAppInfo: async () => ({ name: 'Other' }) } as unknown as typeof handlers;
    await expect(dispatch(wrong, 'getAppInfo', {}, silentLogger)).resolves.toMatchObject({ ok: false, error: { code: 'INTERNAL' } });
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
