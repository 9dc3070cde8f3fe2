import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { dispatch } from '../engine/api/dispatch';
import type { Handlers } from '../engine/api/handlers';
import type { Engine } from '../engine/engine';
import { CSP } from '../../shared/csp';

/**
 * The web bridge: serves the built renderer to a browser and implements the IPC contract over
 * a WebSocket, backed by the same engine and the same `dispatch` as Electron main. For tests
 * and development only: it listens on loopback, requires a random token, and is never part of
 * the packaged app (electron-builder.yml excludes it).
 *
 * Protocol: client → `{ id, channel, input }`; server → `{ id, result }` for each call and
 * `{ event }` for every job event.
 */
export interface BridgeOptions {
  engine: Engine;
  handlers: Handlers;
  rendererDir: string;
  port?: number;
  /** Every frame in and out, for tests that assert what crosses the wire. */
  onTraffic?: (direction: 'in' | 'out', frame: string) => void;
}

export interface Bridge {
  url: string;
  /** The URL to open: carries the token in the fragment, never sent to the server in logs. */
  openUrl: string;
  token: string;
  port: number;
  close(): Promise<void>;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
};

// The window's own policy (shared/csp.ts), sent as a header.
const BRIDGE_CSP = CSP;

function sameToken(a: string, b: string): boolean {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}

export async function startBridge(options: BridgeOptions): Promise<Bridge> {
  const token = randomBytes(24).toString('base64url');
  const root = normalize(options.rendererDir);
  const sockets = new Set<WebSocket>();

  const serveStatic = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    const rel = pathname === '/' ? 'index.html' : pathname.slice(1);
    const file = normalize(join(root, rel));
    if (file !== root && !file.startsWith(root + sep)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, {
        'Content-Type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
        'Content-Security-Policy': BRIDGE_CSP,
        'X-Content-Type-Options': 'nosniff',
        'Cache-Control': 'no-store',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
    }
  };

  const server = createServer((req, res) => {
    void serveStatic(req, res);
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 * 1024 });

  server.on('upgrade', (req, socket, head) => {
    const address = server.address() as AddressInfo;
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const origin = req.headers.origin ?? '';
    const allowedOrigins = [`http://127.0.0.1:${address.port}`, `http://localhost:${address.port}`];
    if (
      url.pathname !== '/ipc' ||
      !sameToken(url.searchParams.get('token') ?? '', token) ||
      !allowedOrigins.includes(origin)
    ) {
      socket.write('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws));
  });

  const send = (ws: WebSocket, payload: unknown): void => {
    const frame = JSON.stringify(payload);
    options.onTraffic?.('out', frame);
    ws.send(frame);
  };

  wss.on('connection', (ws: WebSocket) => {
    sockets.add(ws);
    const unsubscribe = options.engine.jobs.subscribe((event) => send(ws, { event }));
    ws.on('close', () => {
      unsubscribe();
      sockets.delete(ws);
    });
    ws.on('message', (data) => {
      const frame = (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)).toString('utf8');
      options.onTraffic?.('in', frame);
      let message: { id?: unknown; channel?: unknown; input?: unknown };
      try {
        message = JSON.parse(frame) as typeof message;
      } catch {
        return;
      }
      if (typeof message.id !== 'number' || typeof message.channel !== 'string') return;
      const id = message.id;
      void dispatch(options.handlers, message.channel, message.input, options.engine.logger).then((result) =>
        send(ws, { id, result }),
      );
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}/`;
  return {
    url,
    openUrl: `${url}#token=${token}`,
    token,
    port,
    close: async () => {
      for (const ws of sockets) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
