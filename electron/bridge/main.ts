/**
 * `npm run bridge`: serve the built renderer over the web bridge on loopback, backed by the
 * real engine on LIFEBOAT_HOME (or the OS data dir). Development and tests only.
 * `npm run bridge -- --demo-dir DIR` opens a demo's data (`lifeboat demo --keep DIR` leaves it in DIR/home), as
 * `npm start -- --demo-dir DIR` does for the desktop app.
 */
import { join } from 'node:path';
import { createHandlers } from '../engine/api/handlers';
import { KeytarCredentialStore } from '../engine/credentials/credential-store';
import { Engine } from '../engine/engine';
import { createLogger, jsonLinesSink } from '../engine/log/logger';
import { argValue, bridgeDataDir } from './args';
import { startBridge } from './server';

async function main(): Promise<void> {
  const logger = createLogger(
    jsonLinesSink((line) => process.stderr.write(line)),
    { base: { front: 'bridge' } },
  );
  const dataDir = bridgeDataDir(process.argv.slice(2));
  const engine = new Engine({ dataDir, credentials: new KeytarCredentialStore(), frontDoor: 'bridge', logger });
  const port = argValue(process.argv.slice(2), '--port');
  const bridge = await startBridge({
    engine,
    handlers: createHandlers(engine),
    rendererDir: join(__dirname, '../renderer'),
    port: port ? Number(port) : 0,
  });
  process.stdout.write(
    `Lifeboat web bridge (development only) on ${bridge.url}, data in ${dataDir}\nOpen: ${bridge.openUrl}\n`,
  );
  const stop = (): void => {
    void bridge
      .close()
      .then(() => engine.close())
      .then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

void main().catch((e: unknown) => {
  process.stderr.write(`bridge failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
