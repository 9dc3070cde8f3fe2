import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AzureMedium } from '../../electron/engine/storage/azure-medium';

// A storage endpoint that goes silent (a hung host, a black-holed network): no reset, no answer.
// The SDK's tryTimeoutInMs only asks the server to give up, so without a client-side limit every
// request, and a download's body, waited forever.
const KEY = Buffer.alloc(64, 7).toString('base64');
let server: Server;
let endpoint: string;
let requests = 0;
const sockets = new Set<Socket>();

beforeAll(async () => {
  process.env.LIFEBOAT_AZURE_TRY_TIMEOUT = '0.3';
  server = createServer((req, res) => {
    requests++;
    // A GET of the blob answers its headers and the first bytes of 1 MiB, then nothing more.
    if (req.method === 'GET' && req.url?.includes('/stalls.bin')) {
      res.writeHead(200, {
        'content-length': String(1024 * 1024),
        'content-type': 'application/octet-stream',
        etag: '"0x8D0000000000001"',
        'last-modified': new Date().toUTCString(),
      });
      res.write(Buffer.alloc(1000, 1));
    }
    // Every other request: no answer at all.
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}/acct1`;
});

afterAll(async () => {
  delete process.env.LIFEBOAT_AZURE_TRY_TIMEOUT;
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

function medium(): AzureMedium {
  return new AzureMedium('azure://backups/prod', { account: 'acct1', key: KEY, endpoint });
}

describe('an Azure endpoint that stops answering', () => {
  it('fails a request after its bounded tries, as unreachable', async () => {
    requests = 0;
    const t0 = Date.now();
    await expect(medium().stat('lifeboat-medium.json')).rejects.toMatchObject({ code: 'STORAGE_UNREACHABLE' });
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(requests).toBe(3);
  }, 15_000);

  it('fails a download whose body goes silent, as unreachable (not "cancelled", no hang)', async () => {
    const body = await medium().openRead('stalls.bin');
    const t0 = Date.now();
    const read = new Promise<number>((resolve, reject) => {
      let n = 0;
      body.on('data', (d: Buffer) => (n += d.length));
      body.on('end', () => resolve(n));
      body.on('error', reject);
    });
    const e = await read.catch((x: unknown) => x);
    expect(e, String(e)).toMatchObject({ code: 'STORAGE_UNREACHABLE' });
    expect(Date.now() - t0).toBeLessThan(12_000);
  }, 20_000);
});
