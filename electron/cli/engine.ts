import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { KeytarCredentialStore } from '../engine/credentials/credential-store';
import { Engine } from '../engine/engine';
import { createLogger, jsonLinesSink } from '../engine/log/logger';
import type { EncoderThreads } from '../engine/pipeline/encoder-thread';
import { resolveDataDir } from '../engine/settings/paths';

/** The CLI's engine: the data dir from LIFEBOAT_HOME or the OS default, logs to the data dir. */
export function openCliEngine(encoderThreads?: EncoderThreads): Engine {
  const dataDir = resolveDataDir();
  mkdirSync(join(dataDir, 'logs'), { recursive: true, mode: 0o700 });
  const stream = createWriteStream(join(dataDir, 'logs', 'cli.log'), { flags: 'a', mode: 0o600 });
  const logger = createLogger(
    jsonLinesSink((line) => stream.write(line)),
    { base: { front: 'cli', pid: process.pid } },
  );
  return new Engine({ dataDir, credentials: new KeytarCredentialStore(), frontDoor: 'cli', logger, encoderThreads });
}

/** Open the engine, run `fn`, and always close it (the catalog is stamped clean on close). */
export async function withCliEngine<T>(fn: (engine: Engine) => Promise<T>): Promise<T> {
  const engine = openCliEngine();
  try {
    return await fn(engine);
  } finally {
    await engine.close();
  }
}
