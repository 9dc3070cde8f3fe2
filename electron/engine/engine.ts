import { mkdirSync } from 'node:fs';
import { Catalog } from './catalog/catalog';
import type { CredentialStore } from './credentials/credential-store';
import { JobManager } from './jobs/job-manager';
import { silentLogger, type Logger } from './log/logger';
import { dataPaths, type DataPaths } from './settings/paths';
import { loadSettings, type Settings } from './settings/settings';

export type FrontDoor = 'app' | 'bridge' | 'cli';

export interface EngineOptions {
  dataDir: string;
  credentials: CredentialStore;
  frontDoor: FrontDoor;
  logger?: Logger;
  electronVersion?: string | null;
  /** Job event throttle (tests lower it). */
  throttleMs?: number;
}

/**
 * The engine's long-lived services, wired by hand at each entry point (app, CLI, bridge,
 * tests). No module-level singletons: two engines on two data dirs can live in one process.
 */
export class Engine {
  readonly paths: DataPaths;
  readonly catalog: Catalog;
  readonly jobs: JobManager;
  readonly credentials: CredentialStore;
  readonly logger: Logger;
  readonly frontDoor: FrontDoor;
  readonly electronVersion: string | null;

  constructor(options: EngineOptions) {
    this.paths = dataPaths(options.dataDir);
    mkdirSync(this.paths.dataDir, { recursive: true, mode: 0o700 });
    this.logger = options.logger ?? silentLogger;
    this.catalog = Catalog.open(this.paths.catalog);
    this.jobs = new JobManager({ logger: this.logger, throttleMs: options.throttleMs });
    this.credentials = options.credentials;
    this.frontDoor = options.frontDoor;
    this.electronVersion = options.electronVersion ?? null;
  }

  settings(): Settings {
    return loadSettings(this.paths.settings);
  }

  async close(): Promise<void> {
    await this.jobs.shutdown();
    this.catalog.close();
  }
}
