import type { Catalog } from '../catalog/catalog';
import type { CredentialStore } from '../credentials/credential-store';
import type { AgeIdentity } from '../crypto/age';
import { LifeboatError } from '../errors';
import type { SecretFiles } from '../foreign/secrets';
import type { ForeignSecrets } from '../foreign/types';
import type { JobContext } from '../jobs/job-manager';
import type { Settings } from '../settings/settings';
import type { MediumOpener } from '../storage/open-medium';

/** The engine services a restore uses (a runbook action's deps are these and more). */
export interface RestoreDeps {
  catalog: Catalog;
  settings: Settings;
  credentials: CredentialStore;
  identities: AgeIdentity[];
  /** Opens media with the operator's S3 settings (the engine's opener); plain openMedium when absent. */
  openMedium?: MediumOpener;
  /** Files named on the command line for other tools' secrets (foreign/secrets.ts); the keychain is `credentials`. */
  foreignFiles?: SecretFiles;
  /** Passphrases of foreign formats (a seed script's .enc files); none known when absent. */
  foreignSecrets?: ForeignSecrets;
}

/**
 * What a restore runs in: a step of a run (the runbook runner gives it, `lifeboat restore` drives
 * the same run). Checkpoints make a restore resumable; the confirmation is the operator's typed
 * answer to a ConfirmationNeeded.
 */
export interface RestoreContext extends Pick<JobContext, 'signal' | 'progress' | 'log'> {
  deps: RestoreDeps;
  runId: string;
  stepId: string;
  /** A drill restores into scratch targets only. */
  drill: boolean;
  /** A private folder of the run (decoded dumps, staging): removed when the run ends. */
  workDir: string;
  /** What the step saved last time it ran (null on its first attempt). */
  checkpoint: unknown;
  /** Persist progress that a resume can start from (journaled, before going on). */
  saveCheckpoint(data: unknown): void;
  /** The text the operator typed to confirm, when the step asked for it. */
  confirmation: string | null;
}

/**
 * Thrown by a restore that needs a typed confirmation before it may touch something that
 * already exists (a database, a non-empty folder). The run waits for the operator.
 */
export class ConfirmationNeeded extends LifeboatError {
  constructor(
    readonly prompt: string,
    readonly expect: string,
    mismatch: boolean,
  ) {
    super('CONFIRMATION_REQUIRED', mismatch ? `${prompt} The confirmation typed did not match "${expect}".` : prompt, {
      hint: `Type "${expect}" to confirm (in a terminal: lifeboat run --resume <run id>).`,
    });
  }
}
