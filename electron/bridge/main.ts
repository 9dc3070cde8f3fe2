/**
 * `npm run bridge`: serve the built renderer over the web bridge on loopback, backed by the
 * real engine on LIFEBOAT_HOME (or the OS data dir). Development and tests only.
 */
import { join } from 'node:path';
import { createHandlers } from '../engine/api/handlers';
import { KeytarCredentialStore } from '../engine/credentials/credential-store';
import { Engine } from '../engine/engine';
import { createLogger, jsonLinesSink } from '../engine/log/logger';
import { resolveDataDir } from '../engine/settings/paths';
import { startBridge } from './server';

async function main(): Promise<void> {
  const logger = createLogger(jsonLinesSink((line) => process.stderr.write(line)), { base: { front: 'bridge' } });
  const engine = new Engine({ dataDir: resolveDataDir(), credentials: new KeytarCredentialStore(), frontDoor: 'bridge', logger });
  const portArg = process.argv.find((a) => a.startsWith('--port='));
  const bridge = await startBridge({
    engine,
    handlers: createHandlers(engine),
    rendererDir: join(__dirname, '../renderer'),
    port: portArg ? Number(portArg.slice('--port='.length)) : 0,
  });
  process.stdout.write(`Lifeboat web bridge (development only) on ${bridge.url}\nOpen: ${bridge.openUrl}\n`);
  const stop = (): void => {
    void bridge.close().then(() => engine.close()).then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

void main().catch((e: unknown) => {
  process.stderr.write(`bridge failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
