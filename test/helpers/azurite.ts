import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Azurite's well-known development account (public: documented by Microsoft for the emulators). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

const BIN = join(__dirname, '../../node_modules/.bin/azurite-blob');

export interface Azurite {
  /** The blob endpoint, path-style: http://127.0.0.1:<port>/devstoreaccount1 */
  endpoint: string;
  port: number;
  /** AZURE_STORAGE_* for the CLI: the account, its key and the endpoint. */
  env: NodeJS.ProcessEnv;
  service: BlobServiceClient;
  createContainer(name: string): Promise<void>;
  /** SIGKILL: every connection drops mid-request, as when the storage account goes out of reach. */
  kill(): Promise<void>;
  /** Start again on the same port (in-memory: it comes back empty). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function launch(port: number, dir: string): Promise<ChildProcess> {
  // Loopback only, in memory, no telemetry (there is no internet here, and none is wanted).
  const child = spawn(
    BIN,
    [
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      String(port),
      '--inMemoryPersistence',
      '--disableTelemetry',
      '--skipApiVersionCheck',
      '--silent',
    ],
    // In memory: nothing is written, but it runs in its own temp dir all the same.
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Azurite did not start in 20 s: ${out}`)), 20_000);
    const seen = (d: Buffer): void => {
      out += d.toString();
      if (/successfully listens/i.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited (${code}) before listening: ${out}`));
    });
  });
  return child;
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** Azurite's blob service on 127.0.0.1, in memory, once per test file; stop() ends it. */
export async function startAzurite(): Promise<Azurite> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-azurite-'));
  const port = await freePort();
  let child = await launch(port, dir);
  const endpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  const service = new BlobServiceClient(endpoint, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY), {
    retryOptions: { maxTries: 1 },
  });
  return {
    endpoint,
    port,
    env: {
      AZURE_STORAGE_ACCOUNT: AZURITE_ACCOUNT,
      AZURE_STORAGE_KEY: AZURITE_KEY,
      AZURE_STORAGE_BLOB_ENDPOINT: endpoint,
    },
    service,
    createContainer: async (name) => {
      await service.getContainerClient(name).create();
    },
    kill: () => killed(child),
    restart: async () => {
      await killed(child);
      child = await launch(port, dir);
    },
    stop: async () => {
      await killed(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
