import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { LifeboatError } from '../errors';
import { redactText } from '../log/redact';

export interface RunningTool<C extends ChildProcess = ChildProcessWithoutNullStreams> {
  child: C;
  /** Resolves when the tool exits 0; rejects with its last stderr lines otherwise. */
  exited: Promise<void>;
}

export interface ToolOptions {
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  what: string;
  code?: 'TOOL_FAILED' | 'DB_RESTORE_FAILED';
}

let setprivPath: string | null | undefined;

/**
 * util-linux's setpriv, when present: it sets PR_SET_PDEATHSIG and execs the tool, so the kernel
 * kills the tool when this process dies, even on `kill -9` (an orphaned pg_restore kept writing
 * into the target). Absent (macOS, Windows, a minimal container): children are still killed on
 * cancel and on a normal exit, only not on a hard kill of Node.
 */
export function setpriv(): string | null {
  if (setprivPath !== undefined) return setprivPath;
  setprivPath = null;
  if (process.platform !== 'linux' || process.env.LIFEBOAT_NO_SETPRIV === '1') return null;
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    try {
      accessSync(`${dir}/setpriv`, constants.X_OK);
      setprivPath = `${dir}/setpriv`;
      break;
    } catch {
      // not here
    }
  }
  return setprivPath;
}

/** The command line that makes a child die with this process (see setpriv()). */
export function dieWithParent(path: string, args: string[]): { cmd: string; argv: string[] } {
  const sp = setpriv();
  if (sp && path.startsWith('/')) {
    try {
      accessSync(path, constants.X_OK);
    } catch {
      // Spawned directly, a missing tool fails with ENOENT (TOOL_MISSING), not as setpriv's exit 127.
      return { cmd: path, argv: args };
    }
  }
  return sp ? { cmd: sp, argv: ['--pdeathsig', 'KILL', '--', path, ...args] } : { cmd: path, argv: args };
}

/** Children started here: each in its own process group, so a cancel reaches its own children too. */
const live = new Set<ChildProcess>();

function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    child.kill(sig);
  }
}

// A normal exit (including process.exit after an error) takes the children along.
process.once('exit', () => {
  for (const c of live) killGroup(c, 'SIGKILL');
});

/**
 * A watchdog for a tool's process group: a shell blocked reading a pipe from this process. When
 * this process dies, however it dies, the pipe closes and the shell kills the whole group —
 * including the tool's own children (pg_restore -j's workers), which PR_SET_PDEATHSIG does not
 * reach (it is not inherited across fork). Ended first when the tool exits by itself.
 */
function guardGroup(pgid: number): ChildProcess | null {
  try {
    const dog = spawn('/bin/sh', ['-c', 'read _; kill -KILL -"$1" 2>/dev/null', 'lifeboat-watchdog', String(pgid)], {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
      // Not this process's environment: it may hold PGPASSWORD, MYSQL_PWD or REDISCLI_AUTH.
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    dog.on('error', () => undefined);
    dog.stdin?.on('error', () => undefined);
    // Neither the watchdog nor its pipe keeps this process alive.
    dog.unref();
    (dog.stdin as unknown as { unref?: () => void }).unref?.();
    return dog;
  } catch {
    return null;
  }
}

function startTool(
  path: string,
  args: string[],
  options: ToolOptions,
  stdout: 'pipe' | number,
  feed = false,
): RunningTool<ChildProcess> {
  const { cmd, argv } = dieWithParent(path, args);
  const posix = process.platform !== 'win32';
  const child = spawn(cmd, argv, { env: options.env ?? process.env, stdio: ['pipe', stdout, 'pipe'], detached: posix });
  const dog = posix && child.pid !== undefined ? guardGroup(child.pid) : null;
  live.add(child);
  child.once('close', () => {
    live.delete(child);
    dog?.kill('SIGKILL');
  });
  if (!feed) child.stdin!.end();
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-8000);
  });
  const onAbort = (): void => {
    // The whole group: pg_restore -j's workers are its children.
    killGroup(child, 'SIGTERM');
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', (e) =>
      reject(new LifeboatError('TOOL_MISSING', `${options.what} could not be started: ${e.message}`, { cause: e })),
    );
    child.once('close', (code, sig) => {
      options.signal?.removeEventListener('abort', onAbort);
      if (code === 0) return resolve();
      if (options.signal?.aborted) return reject(new LifeboatError('CANCELLED', 'Cancelled.'));
      if (code === 127 && /setpriv: failed to execute/.test(stderr))
        return reject(
          new LifeboatError('TOOL_MISSING', `${options.what} could not be started: ${redactText(stderr).trim()}`),
        );
      const lines = redactText(stderr).trim().split('\n').slice(-4).join(' / ');
      reject(
        new LifeboatError(
          options.code ?? 'TOOL_FAILED',
          `${options.what} failed (${sig ?? `exit ${code}`}): ${lines || 'no message'}`,
        ),
      );
    });
  });
  exited.catch(() => undefined);
  return { child, exited };
}

/** Spawn an external tool whose stdout we stream; stderr is kept (redacted) for errors. */
export function spawnTool(path: string, args: string[], options: ToolOptions): RunningTool {
  return startTool(path, args, options, 'pipe') as RunningTool;
}

/** Spawn a tool that reads what we write to its stdin (restore cmd); stdout and stderr are kept like spawnTool's. */
export function spawnFedTool(path: string, args: string[], options: ToolOptions): RunningTool {
  return startTool(path, args, options, 'pipe', true) as RunningTool;
}

/**
 * The plaintext of an artifact as the standard output of a tool (pg_dump, pg_basebackup). The
 * encoder starts it when it is ready to read, on a FIFO its worker thread drains directly
 * (POSIX), or on a pipe read by the main thread (Windows).
 */
export class ToolSource {
  private resolveStarted!: (t: RunningTool<ChildProcess>) => void;
  private rejectStarted!: (e: Error) => void;
  /** Settles once the tool is running (or the artifact failed before it could start). */
  readonly started = new Promise<RunningTool<ChildProcess>>((resolve, reject) => {
    this.resolveStarted = resolve;
    this.rejectStarted = reject;
  });

  constructor(private readonly launch: (stdout: 'pipe' | number) => RunningTool<ChildProcess>) {
    this.started.catch(() => undefined);
  }

  /** Called by the encoder. */
  start(stdout: 'pipe' | number): RunningTool<ChildProcess> {
    const tool = this.launch(stdout);
    this.resolveStarted(tool);
    return tool;
  }

  /** Called by the encoder when the artifact failed before the tool started. */
  abandon(e: Error): void {
    this.rejectStarted(e);
  }

  /** The tool's exit: resolves when it exited 0. */
  async exited(): Promise<void> {
    await (
      await this.started
    ).exited;
  }

  static of(path: string, args: string[], options: ToolOptions): ToolSource {
    return new ToolSource((stdout) => startTool(path, args, options, stdout));
  }
}
