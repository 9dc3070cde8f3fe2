import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CHANNEL_NAMES } from '../../shared/ipc/contract';
import { startBridge, type Bridge } from '../../electron/bridge/server';
import { createHandlers } from '../../electron/engine/api/handlers';
import { MemoryCredentialStore } from '../../electron/engine/credentials/credential-store';
import { Engine } from '../../electron/engine/engine';
import { RENDERER_DIR } from '../helpers/browser';
import { tempDir } from '../helpers/temp';

let home: ReturnType<typeof tempDir>;
let engine: Engine;
let bridge: Bridge;

beforeAll(async () => {
  home = tempDir();
  engine = new Engine({ dataDir: home.path, credentials: new MemoryCredentialStore(), frontDoor: 'bridge' });
  bridge = await startBridge({ engine, handlers: createHandlers(engine), rendererDir: RENDERER_DIR });
});
afterAll(async () => {
  await bridge.close();
  await engine.close();
  home.cleanup();
});

function connect(token: string, origin: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${bridge.port}/ipc?token=${encodeURIComponent(token)}`, {
      headers: { Origin: origin },
    });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

describe('the web bridge', () => {
  it('serves every contract channel over the WebSocket with a settled Result', async () => {
    const ws = await connect(bridge.token, `http://127.0.0.1:${bridge.port}`);
    const replies = new Map<number, { ok: boolean }>();
    ws.on('message', (data) => {
      const m = JSON.parse((data as Buffer).toString('utf8')) as { id?: number; result?: { ok: boolean } };
      if (m.id !== undefined && m.result) replies.set(m.id, m.result);
    });
    CHANNEL_NAMES.forEach((channel, i) =>
      ws.send(
        JSON.stringify({
          id: i + 1,
          channel,
          input: channel === 'getJob' || channel === 'cancelJob' ? { id: 'job-x' } : {},
        }),
      ),
    );
    ws.send(JSON.stringify({ id: 999, channel: 'notAChannel', input: {} }));
    const deadline = Date.now() + 10_000;
    while (replies.size < CHANNEL_NAMES.length + 1 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(replies.size).toBe(CHANNEL_NAMES.length + 1);
    expect(replies.get(1)).toMatchObject({ ok: true });
    expect(replies.get(999)).toMatchObject({ ok: false, error: { code: 'BAD_INPUT' } });
    ws.close();
  });

  it('refuses a wrong token and a foreign origin', async () => {
    await expect(connect('wrong', `http://127.0.0.1:${bridge.port}`)).rejects.toThrow(/403/);
    await expect(connect(bridge.token, 'https://evil.example')).rejects.toThrow(/403/);
  });

  it('listens on loopback only and serves nothing outside the renderer folder', async () => {
    expect(bridge.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const index = await fetch(bridge.url);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    const escape = await fetch(`${bridge.url}..%2f..%2fpackage.json`);
    expect([403, 404]).toContain(escape.status);
  });
});
