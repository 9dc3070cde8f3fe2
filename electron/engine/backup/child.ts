import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
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

function startTool(path: string, args: string[], options: ToolOptions, stdout: 'pipe' | number): RunningTool<ChildProcess> {
  const child = spawn(path, args, { env: options.env ?? process.env, stdio: ['pipe', stdout, 'pipe'] });
  child.stdin!.end();
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-8000);
  });
  const onAbort = (): void => {
    child.kill('SIGTERM');
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', (e) => reject(new LifeboatError('TOOL_MISSING', `${options.what} could not be started: ${e.message}`, { cause: e })));
    child.once('close', (code, sig) => {
      options.signal?.removeEventListener('abort', onAbort);
      if (code === 0) return resolve();
      if (options.signal?.aborted) return reject(new LifeboatError('CANCELLED', 'Cancelled.'));
      const lines = redactText(stderr).trim().split('\n').slice(-4).join(' / ');
      reject(new LifeboatError(options.code ?? 'TOOL_FAILED', `${options.what} failed (${sig ?? `exit ${code}`}): ${lines || 'no message'}`));
    });
  });
  exited.catch(() => undefined);
  return { child, exited };
}

/** Spawn an external tool whose stdout we stream; stderr is kept (redacted) for errors. */
export function spawnTool(path: string, args: string[], options: ToolOptions): RunningTool {
  return startTool(path, args, options, 'pipe') as RunningTool;
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
    await (await this.started).exited;
  }

  static of(path: string, args: string[], options: ToolOptions): ToolSource {
    return new ToolSource((stdout) => startTool(path, args, options, stdout));
  }
}
