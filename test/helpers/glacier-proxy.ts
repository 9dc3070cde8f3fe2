import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Glacier semantics in front of s3rver, on loopback, for the tests of cold storage. s3rver keeps an
 * object's x-amz-storage-class and returns it on HEAD/GET, but reads any class at once and lists
 * every object as STANDARD. This proxy, written for the tests (no real Glacier or emulator runs
 * here), adds what S3 does for GLACIER and DEEP_ARCHIVE objects:
 *  - GET answers 403 InvalidObjectState until a restore was requested and has completed;
 *  - POST ?restore (RestoreObject) starts a restore: 202, then 409 RestoreAlreadyInProgress while it
 *    runs, 200 once done; `complete()` finishes every running restore (the hours S3 takes);
 *  - HEAD adds x-amz-restore (ongoing-request="true", or "false" with an expiry-date);
 *  - ListObjectsV2 says each object's stored class and its RestoreStatus, as S3 does.
 * Requests pass through unchanged otherwise (their signatures hold: the Host header is kept).
 */
export interface GlacierProxy {
  endpoint: string;
  /** The storage class each key was written with through the proxy (PUT or multipart start); absent: none given. */
  classes: Map<string, string>;
  /** Every request that reached it, as "METHOD path?query". */
  seen: string[];
  complete(): void;
  stop(): Promise<void>;
}

const COLD = new Set(['GLACIER', 'DEEP_ARCHIVE']);

function s3Error(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/xml' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`);
}

export async function startGlacierProxy(upstream: string): Promise<GlacierProxy> {
  const target = new URL(upstream);
  const classes = new Map<string, string>();
  const restores = new Map<string, 'ongoing' | 'done'>();
  const seen: string[] = [];
  const expiry = new Date(Date.now() + 2 * 86_400_000).toUTCString();

  const forward = (req: IncomingMessage, body: Buffer, onResponse: (up: IncomingMessage) => void): void => {
    const up = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      onResponse,
    );
    up.on('error', () => undefined);
    up.end(body);
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://proxy');
      seen.push(`${req.method} ${url.pathname}${url.search}`);
      // Path style: /bucket/key.
      const key = decodeURIComponent(url.pathname).replace(/^\/[^/]+\/?/, '');
      const cls = req.headers['x-amz-storage-class'];
      if (key && typeof cls === 'string' && (req.method === 'PUT' || url.searchParams.has('uploads')))
        classes.set(key, cls);

      if (req.method === 'POST' && url.searchParams.has('restore')) {
        if (!COLD.has(classes.get(key) ?? ''))
          return s3Error(
            res,
            403,
            'InvalidObjectState',
            "Restore is not allowed for the object's current storage class",
          );
        const state = restores.get(key);
        if (state === 'ongoing')
          return s3Error(res, 409, 'RestoreAlreadyInProgress', 'Object restore is already in progress');
        if (!state) restores.set(key, 'ongoing');
        res.writeHead(state === 'done' ? 200 : 202);
        return res.end();
      }
      const isList = req.method === 'GET' && !key && url.searchParams.get('list-type') === '2';
      forward(req, body, (up) => {
        const headers = { ...up.headers };
        const stored = typeof up.headers['x-amz-storage-class'] === 'string' ? up.headers['x-amz-storage-class'] : '';
        const state = restores.get(key);
        if ((req.method === 'GET' || req.method === 'HEAD') && key && !isList && COLD.has(stored)) {
          if (state)
            headers['x-amz-restore'] =
              state === 'ongoing' ? 'ongoing-request="true"' : `ongoing-request="false", expiry-date="${expiry}"`;
          if (req.method === 'GET' && state !== 'done') {
            up.resume();
            return s3Error(res, 403, 'InvalidObjectState', "The operation is not valid for the object's storage class");
          }
        }
        if (!isList) {
          res.writeHead(up.statusCode ?? 502, headers);
          up.pipe(res);
          return;
        }
        const parts: Buffer[] = [];
        up.on('data', (c: Buffer) => parts.push(c));
        up.on('end', () => {
          const xml = Buffer.concat(parts)
            .toString('utf8')
            .replace(/<Contents>([\s\S]*?)<\/Contents>/g, (whole, inner: string) => {
              const k = /<Key>([^<]*)<\/Key>/.exec(inner)?.[1] ?? '';
              const c = classes.get(k.replace(/&amp;/g, '&'));
              if (!c) return whole;
              const r = restores.get(k);
              const status = r
                ? `<RestoreStatus><IsRestoreInProgress>${r === 'ongoing'}</IsRestoreInProgress>${r === 'done' ? `<RestoreExpiryDate>${new Date(expiry).toISOString()}</RestoreExpiryDate>` : ''}</RestoreStatus>`
                : '';
              return `<Contents>${inner.replace(/<StorageClass>[^<]*<\/StorageClass>/, `<StorageClass>${c}</StorageClass>`)}${status}</Contents>`;
            });
          delete headers['content-length'];
          delete headers['transfer-encoding'];
          res.writeHead(up.statusCode ?? 502, { ...headers, 'content-length': Buffer.byteLength(xml) });
          res.end(xml);
        });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    classes,
    seen,
    complete: () => {
      for (const [k, v] of restores) if (v === 'ongoing') restores.set(k, 'done');
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
