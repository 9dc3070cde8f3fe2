import { CHANNEL_NAMES } from '../../../shared/ipc/channels';
import type { LifeboatApi } from '../../../shared/ipc/api';
import type { JobEvent } from '../../../shared/domain/jobs';
import type { Result } from '../../../shared/result';

/**
 * The renderer side of the web bridge (tests and development): the same LifeboatApi as the
 * preload, over a WebSocket to the loopback bridge. The token comes in the URL fragment.
 */
export function createBridgeApi(token: string): LifeboatApi {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ipc?token=${encodeURIComponent(token)}`;
  const pending = new Map<number, (result: Result<unknown>) => void>();
  const listeners = new Set<(event: JobEvent) => void>();
  let nextId = 1;
  let socket: WebSocket | null = null;
  let opening: Promise<WebSocket> | null = null;

  const failAll = (message: string): void => {
    for (const resolve of pending.values()) resolve({ ok: false, error: { code: 'STORAGE_UNREACHABLE', message } });
    pending.clear();
  };

  const connect = (): Promise<WebSocket> => {
    if (socket && socket.readyState === WebSocket.OPEN) return Promise.resolve(socket);
    if (opening) return opening;
    opening = new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.onopen = () => {
        socket = ws;
        opening = null;
        resolve(ws);
      };
      ws.onerror = () => {
        opening = null;
        reject(new Error('The Lifeboat engine is not reachable.'));
      };
      ws.onclose = () => {
        socket = null;
        failAll('The connection to the Lifeboat engine was lost.');
      };
      ws.onmessage = (message: MessageEvent<string>) => {
        const data = JSON.parse(message.data) as { id?: number; result?: Result<unknown>; event?: JobEvent };
        if (data.event) for (const l of listeners) l(data.event);
        if (typeof data.id === 'number' && data.result) {
          pending.get(data.id)?.(data.result);
          pending.delete(data.id);
        }
      };
    });
    return opening;
  };

  const call = async (channel: string, input: unknown): Promise<Result<unknown>> => {
    let ws: WebSocket;
    try {
      ws = await connect();
    } catch (e) {
      return { ok: false, error: { code: 'STORAGE_UNREACHABLE', message: e instanceof Error ? e.message : String(e) } };
    }
    const id = nextId++;
    return new Promise((resolve) => {
      pending.set(id, resolve);
      ws.send(JSON.stringify({ id, channel, input: input ?? {} }));
    });
  };

  const api: Record<string, unknown> = {};
  for (const name of CHANNEL_NAMES) api[name] = (input: unknown) => call(name, input);
  api.onJobEvent = (listener: (event: JobEvent) => void) => {
    listeners.add(listener);
    void connect().catch(() => undefined);
    return () => listeners.delete(listener);
  };
  return api as LifeboatApi;
}
