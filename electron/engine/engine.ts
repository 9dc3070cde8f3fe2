import { mkdirSync } from 'node:fs';
import { Catalog } from './catalog/catalog';
import type { CredentialStore } from './credentials/credential-store';
import { JobManager } from './jobs/job-manager';
import { EncoderThreads } from './pipeline/encoder-thread';
import { silentLogger, type Logger } from './log/logger';
import { dataPaths, type DataPaths } from './settings/paths';
import { loadSettings, type Settings } from './settings/settings';
import { LifeboatError } from './errors';
import type { Medium } from './storage/medium';
import { openMedium } from './storage/open-medium';
import type { AzureOptions } from './storage/azure-client';
import { azureSecretOptions } from './storage/azure-secret';
import type { S3Options } from './storage/s3-client';

export type FrontDoor = 'app' | 'bridge' | 'cli';

export interface EngineOptions {
  dataDir: string;
  credentials: CredentialStore;
  frontDoor: FrontDoor;
  logger?: Logger;
  electronVersion?: string | null;
  /** better-sqlite3's binary for this runtime when it is not the default one (the desktop app from a checkout: electron/main/native-binding.ts). */
  sqliteNativeBinding?: string;
  /** Job event throttle (tests lower it). */
  throttleMs?: number;
  /** Encoder threads started before the engine (the CLI starts one while the engine loads). */
  encoderThreads?: EncoderThreads;
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
  /** The write path's threads of this engine's backups. */
  readonly encoderThreads: EncoderThreads;

  constructor(options: EngineOptions) {
    this.paths = dataPaths(options.dataDir);
    mkdirSync(this.paths.dataDir, { recursive: true, mode: 0o700 });
    this.logger = options.logger ?? silentLogger;
    this.catalog = Catalog.open(this.paths.catalog, { nativeBinding: options.sqliteNativeBinding });
    this.jobs = new JobManager({ logger: this.logger, throttleMs: options.throttleMs });
    this.credentials = options.credentials;
    this.frontDoor = options.frontDoor;
    this.electronVersion = options.electronVersion ?? null;
    this.encoderThreads = options.encoderThreads ?? new EncoderThreads();
  }

  settings(): Settings {
    return loadSettings(this.paths.settings);
  }

  /**
   * Open a medium as the operator set it up: an s3:// location saved in settings gets its
   * endpoint, region and keys (the secret read from the keychain now, never stored elsewhere);
   * anything else opens as given (S3 then uses the standard AWS sources).
   */
  readonly openMedium = async (location: string): Promise<Medium> =>
    openMedium(location, await this.s3Options(location), await this.azureOptions(location));

  /**
   * An azure:// location saved in settings: its endpoint and the secret of its keychain entry (an
   * account key, a SAS token or a connection string, told apart by their form). Without saved
   * settings the AZURE_STORAGE_* variables apply.
   */
  private async azureOptions(location: string): Promise<AzureOptions | undefined> {
    if (!location.startsWith('azure://')) return undefined;
    const s = this.settings();
    const entry = s.azureMedia
      .filter((m) => location === m.location || location.startsWith(`${m.location.replace(/\/$/, '')}/`))
      .sort((a, b) => b.location.length - a.location.length)[0];
    if (!entry) return undefined;
    const options: AzureOptions = {};
    if (entry.endpoint) options.endpoint = entry.endpoint;
    if (entry.credential) {
      const secret = await this.credentials.get(entry.credential);
      if (secret === null)
        throw new LifeboatError(
          'CREDENTIAL_UNAVAILABLE',
          `The Azure key ${entry.credential} for ${entry.location} is not in the keychain.`,
          {
            hint: 'Add it on the Credentials screen (the account key, a SAS token or a connection string), or unlock the keychain.',
          },
        );
      const account = s.azureKeys[entry.credential.slice('azure:'.length)]?.account;
      Object.assign(options, azureSecretOptions(secret), account ? { account } : {});
    }
    return options;
  }

  private async s3Options(location: string): Promise<S3Options | undefined> {
    if (!location.startsWith('s3://')) return undefined;
    const s = this.settings();
    const entry = s.s3Media
      .filter((m) => location === m.location || location.startsWith(`${m.location.replace(/\/$/, '')}/`))
      .sort((a, b) => b.location.length - a.location.length)[0];
    if (!entry) return undefined;
    const options: S3Options = {};
    if (entry.endpoint) options.endpoint = entry.endpoint;
    if (entry.region) options.region = entry.region;
    if (entry.credential) {
      const id = entry.credential.slice('s3:'.length);
      const accessKeyId = s.s3Keys[id]?.accessKeyId;
      const secret = await this.credentials.get(entry.credential);
      if (!accessKeyId || secret === null) {
        throw new LifeboatError(
          'CREDENTIAL_UNAVAILABLE',
          `The S3 keys ${entry.credential} for ${entry.location} are not in the keychain.`,
          { hint: 'Add them on the Credentials screen (access key id and secret key), or unlock the keychain.' },
        );
      }
      options.credentials = { accessKeyId, secretAccessKey: secret };
    }
    return options;
  }

  async close(): Promise<void> {
    await this.jobs.shutdown();
    this.catalog.close();
    await this.encoderThreads.close();
  }
}
