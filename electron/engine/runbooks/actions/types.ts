import type { ForeignSecrets } from '../../foreign/types';
import type { z } from 'zod';
import type { Catalog } from '../../catalog/catalog';
import type { CredentialStore } from '../../credentials/credential-store';
import type { AgeIdentity } from '../../crypto/age';
import type { SecretFiles } from '../../foreign/secrets';
import { LifeboatError } from '../../errors';
import type { JobContext } from '../../jobs/job-manager';
import type { PgTarget } from '../../postgres/connection';
import type { Settings } from '../../settings/settings';
import type { MediumOpener } from '../../storage/open-medium';

/** The engine services every action may use. */
export interface ActionDeps {
  catalog: Catalog;
  settings: Settings;
  dataDir: string;
  credentials: CredentialStore;
  identities: AgeIdentity[];
  /** Opens media with the operator's S3 settings (the engine's opener); plain openMedium when absent. */
  openMedium?: MediumOpener;
  /** Files named on the command line for other tools' secrets (foreign/secrets.ts); the keychain is `credentials`. */
  foreignFiles?: SecretFiles;
  /** Passphrases of foreign formats (a seed script's .enc files); none known when absent. */
  foreignSecrets?: ForeignSecrets;
}

export interface ActionContext extends Pick<JobContext, 'signal' | 'progress' | 'log'> {
  deps: ActionDeps;
  runId: string;
  stepId: string;
  drill: boolean;
  /** A private folder of the run (decoded dumps, staging): removed when the run ends. */
  workDir: string;
  /** What the step saved last time it ran (null on its first attempt). */
  checkpoint: unknown;
  /** Persist progress that a resume can start from (journaled, before going on). */
  saveCheckpoint(data: unknown): void;
  /** The text the operator typed to confirm, when the step asked for it. */
  confirmation: string | null;
  /** Drills only: the run's scratch PostgreSQL (started on first use, removed at the end). */
  scratchPostgres(): Promise<PgTarget>;
  /** Drills only: make a server this step started (a PITR restore) the run's scratch server. */
  adoptScratchPostgres(dir: string, binDir: string, port: number): void;
  /** Drills only: a scratch folder of the run (removed at the end). */
  scratchDir(name: string): string;
  /** The run's report as it stands now (self-contained HTML). */
  renderReport(): string;
}

export interface ActionDefinition<P extends z.ZodType = z.ZodType> {
  params: P;
  /** A one-line summary of what it will do, for the journal and the terminal. */
  describe(params: z.infer<P>): string;
  run(params: z.infer<P>, ctx: ActionContext): Promise<Record<string, unknown>>;
  /** The state a target is left in when the action stops early (cancel, crash, failure). */
  condition?(params: z.infer<P>, checkpoint: unknown, drill: boolean): string;
}

/**
 * Thrown by an action that needs a typed confirmation before it may touch something that
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

export function defineAction<P extends z.ZodType>(d: ActionDefinition<P>): ActionDefinition<P> {
  return d;
}
