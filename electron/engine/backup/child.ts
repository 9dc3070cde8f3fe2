import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { LifeboatError } from '../errors';
import { redactText } from '../log/redact';

export interface RunningTool {
  child: ChildProcessWithoutNullStreams;
  /** Resolves when the tool exits 0; rejects with its last stderr lines otherwise. */
  exited: Promise<void>;
}

/** Spawn an external tool whose stdout we stream; stderr is kept (redacted) for errors. */
export function spawnTool(path: string, args: string[], options: { env?: NodeJS.ProcessEnv; signal?: AbortSignal; what: string; code?: 'TOOL_FAILED' | 'DB_RESTORE_FAILED' }): RunningTool {
  const child = spawn(path, args, { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.end();
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
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
