import type { ErrorCode } from '../../shared/errors';
import { LifeboatError, mapError } from '../engine/errors';
import type { Logger } from '../engine/log/logger';
import { redactText } from '../engine/log/redact';
import { isWrongAbiError } from './native-binding';

/**
 * The desktop app's start-up as a sequence of injected steps, so every way it can fail is
 * tested under Node: whatever fails before or while the first window opens ends in a visible
 * message (a dialog with the message, the hint, the data directory and a "Copy details"
 * button) and a log line, never in a silent exit. No Electron import here: index.ts passes the
 * steps that touch Electron.
 */
export interface StartupFacts {
  packaged: boolean;
  versions: { lifeboat: string; electron: string | null; node: string; platform: string; arch: string };
}

export interface StartupFailure {
  code: ErrorCode;
  title: string;
  message: string;
  hint: string;
  dataDir: string | null;
  logFile: string | null;
  /** Plain text for "Copy details": what a person pastes into a ticket. */
  details: string;
}

export interface StartupSteps<E> {
  facts: StartupFacts;
  /** Where the data lives (LIFEBOAT_HOME, --demo-dir, or the OS default). */
  dataDir: () => string;
  /** Opens the log in the data directory; throws when the directory cannot be written. */
  openLog: (dataDir: string) => { logger: Logger; logFile: string };
  openEngine: (dataDir: string, logger: Logger) => E;
  openWindow: (engine: E) => void | Promise<void>;
  closeEngine: (engine: E) => Promise<void>;
  /** Shown to the operator; resolves when they dismissed it. */
  showFailure: (failure: StartupFailure) => Promise<void>;
  /** Where the failure goes when the data directory's log could not be opened (stderr, a temp file); returns that file. */
  fallbackLog: (text: string) => string | null;
}

export type StartupResult<E> = { ok: true; engine: E; logger: Logger } | { ok: false; failure: StartupFailure };

/** The loader's own first line (which file, which version it wanted), from the error or the cause it wraps. */
function loaderLine(e: unknown): string {
  const inner = e instanceof Error && e.cause instanceof Error ? e.cause : e;
  const text = inner instanceof Error ? inner.message : String(inner);
  return redactText(text.replace(/\s+/g, ' ').trim()).slice(0, 400);
}

function nativeModuleError(e: unknown, packaged: boolean): LifeboatError {
  return new LifeboatError(
    'PRECONDITION_FAILED',
    `A native module could not be loaded by this Electron (built for another runtime or platform): ${loaderLine(e)}`,
    {
      hint: packaged
        ? 'This package is damaged or was built without its packaging hook: reinstall Lifeboat from a package made by `npm run dist`.'
        : 'better-sqlite3 (the catalog) is the module built per runtime: run `npm run native:electron` (it fetches or builds the Electron build and leaves the Node one alone), then `npm start` again.',
      cause: e,
    },
  );
}

/** What the operator sees when start-up fails. */
export function describeStartupFailure(
  e: unknown,
  ctx: { facts: StartupFacts; dataDir: string | null; logFile: string | null },
): StartupFailure {
  // The ABI check comes first: the catalog hands the loader's refusal on already mapped (INTERNAL, the loader's words kept).
  const err = isWrongAbiError(e) ? nativeModuleError(e, ctx.facts.packaged) : mapError(e);
  const hint = err.hint ?? 'The log has the details.';
  const v = ctx.facts.versions;
  const cause = err.cause instanceof Error ? err.cause : e instanceof Error && e !== err ? e : null;
  const details = [
    'Lifeboat could not start.',
    `Error: ${err.code}: ${redactText(err.message)}`,
    `What to do: ${hint}`,
    `Data directory: ${ctx.dataDir ?? '(not determined)'}`,
    `Log: ${ctx.logFile ?? '(none)'}`,
    `Versions: Lifeboat ${v.lifeboat}, Electron ${v.electron ?? '-'}, Node ${v.node}, ${v.platform}-${v.arch}${ctx.facts.packaged ? ', packaged' : ', from a checkout'}`,
    ...(cause ? [`Cause: ${redactText(cause.stack ?? cause.message)}`] : []),
  ].join('\n');
  return {
    code: err.code,
    title: 'Lifeboat could not start',
    message: redactText(err.message),
    hint,
    dataDir: ctx.dataDir,
    logFile: ctx.logFile,
    details,
  };
}

/** The data directory and its log: a failure here names the directory and the way out, whatever the OS said. */
function openDataDir<E>(steps: StartupSteps<E>, dataDir: string): { logger: Logger; logFile: string } {
  try {
    return steps.openLog(dataDir);
  } catch (e) {
    const mapped = mapError(e);
    const why = e instanceof Error ? e.message : String(e);
    throw new LifeboatError(
      mapped.code === 'INTERNAL' ? 'STORAGE_ERROR' : mapped.code,
      `The data directory ${dataDir} cannot be created or written: ${why}`,
      {
        hint: 'Make it writable for this user, or start Lifeboat with LIFEBOAT_HOME set to a writable directory.',
        cause: e,
      },
    );
  }
}

/**
 * Runs the steps in order. On a failure: closes what was opened, logs the failure (the data
 * directory's log, else the fallback), shows it, and returns it; the caller then exits non-zero.
 */
export async function startApp<E>(steps: StartupSteps<E>): Promise<StartupResult<E>> {
  let dataDir: string | null = null;
  let logger: Logger | null = null;
  let logFile: string | null = null;
  let engine: E | null = null;
  try {
    dataDir = steps.dataDir();
    ({ logger, logFile } = openDataDir(steps, dataDir));
    engine = steps.openEngine(dataDir, logger);
    await steps.openWindow(engine);
    return { ok: true, engine, logger };
  } catch (e) {
    if (engine !== null) await steps.closeEngine(engine).catch(() => undefined);
    let failure = describeStartupFailure(e, { facts: steps.facts, dataDir, logFile });
    if (logger) {
      logger.error('start-up failed', { code: failure.code, error: failure.message, hint: failure.hint });
    } else {
      const fallback = steps.fallbackLog(failure.details);
      if (fallback) failure = describeStartupFailure(e, { facts: steps.facts, dataDir, logFile: fallback });
    }
    await steps.showFailure(failure);
    return { ok: false, failure };
  }
}
