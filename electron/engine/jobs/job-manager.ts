import { randomUUID } from 'node:crypto';
import type {
  JobCounters,
  JobEvent,
  JobEventType,
  JobOutcome,
  JobSnapshot,
  LogLevel,
} from '../../../shared/domain/jobs';
import { LifeboatError, mapError, toWireError } from '../errors';
import { silentLogger, type Logger } from '../log/logger';
import { redactText } from '../log/redact';

/** What an engine function receives when it runs as a job. */
export interface JobContext {
  signal: AbortSignal;
  /** Update counters (absolute values) and/or the current item. Cheap: events are throttled. */
  progress(update: Partial<JobCounters> & { current?: string | null }): void;
  /** Enter a named step ("dumping", "uploading", "writing manifest"...). */
  step(name: string): void;
  log(level: LogLevel, message: string): void;
}

/** How a job that ran to its end judges its own result (a verification that found failures is no pass). */
export interface JobJudgement {
  outcome: Extract<JobOutcome, 'passed' | 'findings'>;
  headline: string;
}

export interface JobSpec<T = unknown> {
  kind: string;
  title: string;
  /** Without it, a job that returns is `passed` with the headline "Done.". */
  judge?: (result: T) => JobJudgement;
}

export interface JobManagerOptions {
  /** Minimum interval between two progress events of one job. */
  throttleMs?: number;
  /** How many finished jobs are kept for re-fetching (the Jobs panel's recent list). */
  keepFinished?: number;
  logger?: Logger;
  now?: () => number;
}

interface JobState {
  snapshot: JobSnapshot;
  controller: AbortController;
  startedMs: number;
  lastProgressEmit: number;
  pendingTimer: NodeJS.Timeout | null;
  done: Promise<JobSnapshot>;
}

/**
 * Jobs: long work with an id, counters, a step, cancellation and a final result. Snapshots
 * can be re-fetched at any time (a reloaded window asks again); events carry a sequence number
 * rising across all jobs, and progress events are throttled per job.
 */
export class JobManager {
  private readonly jobs = new Map<string, JobState>();
  private readonly listeners = new Set<(event: JobEvent) => void>();
  private seq = 0;
  private readonly throttleMs: number;
  private readonly keepFinished: number;
  private readonly logger: Logger;
  private readonly now: () => number;

  constructor(options: JobManagerOptions = {}) {
    this.throttleMs = options.throttleMs ?? 100;
    this.keepFinished = options.keepFinished ?? 50;
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
  }

  subscribe(listener: (event: JobEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Start `fn` as a job; returns the first snapshot at once and a promise of the last. */
  start<T>(
    spec: JobSpec<T>,
    fn: (ctx: JobContext) => Promise<T>,
  ): { snapshot: JobSnapshot; done: Promise<JobSnapshot> } {
    const id = `job-${randomUUID()}`;
    const startedMs = this.now();
    const controller = new AbortController();
    const snapshot: JobSnapshot = {
      id,
      kind: spec.kind,
      title: spec.title,
      status: 'running',
      step: null,
      current: null,
      counters: { bytesDone: 0, bytesTotal: null, itemsDone: 0, itemsTotal: null },
      bytesPerSecond: null,
      etaSeconds: null,
      startedAt: new Date(startedMs).toISOString(),
      finishedAt: null,
      error: null,
      result: null,
      outcome: null,
      headline: null,
    };
    const state: JobState = {
      snapshot,
      controller,
      startedMs,
      lastProgressEmit: 0,
      pendingTimer: null,
      done: Promise.resolve(snapshot),
    };
    this.jobs.set(id, state);
    this.emit(state, 'started');
    const log = this.logger.child({ job: id, kind: spec.kind });
    log.info('job started', { title: spec.title });

    const ctx: JobContext = {
      signal: controller.signal,
      progress: (update) => {
        if (state.snapshot.status !== 'running') return;
        const { current, ...counters } = update;
        state.snapshot = {
          ...state.snapshot,
          counters: { ...state.snapshot.counters, ...counters },
          current: current === undefined ? state.snapshot.current : current,
        };
        this.scheduleProgress(state);
      },
      step: (name) => {
        if (state.snapshot.status !== 'running') return;
        state.snapshot = { ...state.snapshot, step: name };
        log.info('job step', { step: name });
        this.emit(state, 'step');
      },
      log: (level, message) => {
        const text = redactText(message);
        log[level](text);
        this.emit(state, 'log', { level, message: text });
      },
    };

    state.done = (async () => {
      try {
        // Run on the next tick so the caller gets the id before any work starts.
        await Promise.resolve();
        // Cancelled before it began: the work never starts.
        if (controller.signal.aborted) throw new LifeboatError('CANCELLED', 'Cancelled before it started.');
        const result = await fn(ctx);
        if (controller.signal.aborted) throw new LifeboatError('CANCELLED', 'Cancelled.');
        let judgement: JobJudgement = { outcome: 'passed', headline: 'Done.' };
        try {
          if (spec.judge) judgement = spec.judge(result);
        } catch (e) {
          // A judge that cannot read the result must not turn a finished job into a pass.
          judgement = { outcome: 'findings', headline: `The result could not be judged: ${mapError(e).message}` };
        }
        this.finish(state, 'succeeded', null, result ?? null, judgement);
        // The end of a job in the log, so step times can be read from it (how long the last step took).
        log.info('job succeeded', { durationMs: Date.now() - Date.parse(state.snapshot.startedAt) });
      } catch (e) {
        const err = controller.signal.aborted
          ? new LifeboatError('CANCELLED', 'Cancelled by the operator.', { cause: e })
          : mapError(e);
        if (err.code !== 'CANCELLED') log.error('job failed', { code: err.code, error: err.message, cause: err.cause });
        const cancelled = err.code === 'CANCELLED';
        this.finish(state, cancelled ? 'cancelled' : 'failed', err, null, {
          outcome: cancelled ? 'cancelled' : 'error',
          headline: err.message,
        });
      }
      return state.snapshot;
    })();
    return { snapshot: state.snapshot, done: state.done };
  }

  get(id: string): JobSnapshot | undefined {
    const state = this.jobs.get(id);
    return state ? this.withRates(state) : undefined;
  }

  list(): JobSnapshot[] {
    // Jobs started in the same millisecond keep their order (newest first): the map is in start order, the sort stable.
    return [...this.jobs.values()]
      .reverse()
      .sort((a, b) => b.startedMs - a.startedMs)
      .map((s) => this.withRates(s));
  }

  /** Ask a running job to stop. Returns false if it is unknown or already finished. */
  cancel(id: string): boolean {
    const state = this.jobs.get(id);
    if (!state || state.snapshot.status !== 'running') return false;
    state.controller.abort(new LifeboatError('CANCELLED', 'Cancelled by the operator.'));
    return true;
  }

  /** Resolves with the final snapshot of a job. */
  async wait(id: string): Promise<JobSnapshot> {
    const state = this.jobs.get(id);
    if (!state) throw new LifeboatError('NOT_FOUND', `No such job: ${id}`);
    return state.done;
  }

  /** Cancel everything still running (app quit) and wait for the jobs to settle. */
  async shutdown(): Promise<void> {
    const running = [...this.jobs.values()].filter((s) => s.snapshot.status === 'running');
    for (const s of running) s.controller.abort(new LifeboatError('CANCELLED', 'Lifeboat is shutting down.'));
    await Promise.allSettled(running.map((s) => s.done));
  }

  /** The running job of a kind, newest first (a screen re-attaching after a reload asks for "its" job). */
  running(kind: string): JobSnapshot | undefined {
    return this.list().find((j) => j.kind === kind && j.status === 'running');
  }

  private finish(
    state: JobState,
    status: JobSnapshot['status'],
    err: LifeboatError | null,
    result: unknown,
    judgement: { outcome: JobOutcome; headline: string },
  ): void {
    if (state.pendingTimer) clearTimeout(state.pendingTimer);
    state.pendingTimer = null;
    state.snapshot = {
      ...this.withRates(state),
      status,
      finishedAt: new Date(this.now()).toISOString(),
      error: err ? toWireError(err) : null,
      result,
      etaSeconds: status === 'succeeded' ? 0 : null,
      outcome: judgement.outcome,
      headline: judgement.headline,
    };
    this.emit(state, 'finished');
    this.prune();
  }

  private scheduleProgress(state: JobState): void {
    if (state.pendingTimer) return;
    const wait = state.lastProgressEmit + this.throttleMs - this.now();
    if (wait <= 0) {
      this.emit(state, 'progress');
      return;
    }
    state.pendingTimer = setTimeout(() => {
      state.pendingTimer = null;
      if (state.snapshot.status === 'running') this.emit(state, 'progress');
    }, wait);
    state.pendingTimer.unref?.();
  }

  private withRates(state: JobState): JobSnapshot {
    const s = state.snapshot;
    if (s.status !== 'running') return s;
    const elapsed = (this.now() - state.startedMs) / 1000;
    const rate = elapsed > 0 && s.counters.bytesDone > 0 ? s.counters.bytesDone / elapsed : null;
    const remaining = s.counters.bytesTotal !== null ? Math.max(0, s.counters.bytesTotal - s.counters.bytesDone) : null;
    const eta = rate && remaining !== null ? remaining / rate : null;
    return { ...s, bytesPerSecond: rate, etaSeconds: eta };
  }

  private emit(state: JobState, type: JobEventType, log?: JobEvent['log']): void {
    if (type === 'progress') state.lastProgressEmit = this.now();
    // A step, log or finish event carries the latest counters, so a pending progress event is moot.
    if (type !== 'progress' && state.pendingTimer) {
      clearTimeout(state.pendingTimer);
      state.pendingTimer = null;
    }
    const event: JobEvent = {
      seq: ++this.seq,
      type,
      jobId: state.snapshot.id,
      at: new Date(this.now()).toISOString(),
      snapshot: this.withRates(state),
      ...(log ? { log } : {}),
    };
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (e) {
        this.logger.warn('job event listener failed', { error: e });
      }
    }
  }

  private prune(): void {
    const finished = [...this.jobs.values()].filter((s) => s.snapshot.status !== 'running');
    const excess = finished.length - this.keepFinished;
    if (excess <= 0) return;
    finished.sort((a, b) => a.startedMs - b.startedMs);
    for (const s of finished.slice(0, excess)) this.jobs.delete(s.snapshot.id);
  }
}
