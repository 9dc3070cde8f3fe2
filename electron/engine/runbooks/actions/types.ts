import type { z } from 'zod';
import type { PgTarget } from '../../postgres/connection';
import type { RestoreContext, RestoreDeps } from '../../restore/context';

/** The engine services every action may use: a restore's, and the data dir (reports). */
export interface ActionDeps extends RestoreDeps {
  dataDir: string;
}

/** A step's context: a restore's (restore/context.ts), and what only a run has (scratch targets, its report). */
export interface ActionContext extends RestoreContext {
  deps: ActionDeps;
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

/** Thrown by a step that needs a typed confirmation (restore/context.ts); the runner waits for the operator. */
export { ConfirmationNeeded } from '../../restore/context';

export function defineAction<P extends z.ZodType>(d: ActionDefinition<P>): ActionDefinition<P> {
  return d;
}
