import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { LifeboatError } from '../../errors';
import { findExecutable } from '../../tools/tools';

/**
 * The restic CLI, driven read-only: the repository path in argv (not a secret), the password only
 * through RESTIC_PASSWORD_FILE (a 0600 file in a private 0700 folder, removed after), never argv or
 * RESTIC_PASSWORD. `--no-lock` everywhere: a medium may be read-only and nothing here writes to it;
 * `--no-cache`: no cache is left in the laptop's home. Children die with the job (AbortSignal).
 */

export function findRestic(): string | null {
  return findExecutable('restic');
}

/** The keychain scope of a repository's password: the repository folder's name. */
export const resticScope = (repoAbs: string): string => basename(repoAbs) || 'default';

export async function withPasswordFile<T>(password: string, fn: (file: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'lifeboat-restic-'));
  try {
    const file = join(dir, 'password');
    await writeFile(file, password, { mode: 0o600 });
    return await fn(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface ResticRun {
  restic: string;
  repo: string;
  password: string;
  signal: AbortSignal;
}

/** A restic failure in the operator's words: the wrong password is a key problem (exit 2), the rest a tool failure. */
export function resticFailure(repo: string, stderr: string, code: number | null): LifeboatError {
  const text = stderr.trim().split('\n').filter(Boolean).slice(-3).join(' ').slice(0, 400);
  if (/wrong password or no key found/i.test(stderr)) {
    return new LifeboatError('KEY_INVALID', `The password given does not open the restic repository ${repo}.`, {
      hint: 'Give the right one: --password-file <file>, or lifeboat credentials add restic <repository folder name> --from-file <file>.',
    });
  }
  if (/unable to open config file|Is there a repository at the following location/i.test(stderr)) {
    return new LifeboatError('FORMAT_INVALID', `${repo} is not a readable restic repository: ${text}`);
  }
  return new LifeboatError('TOOL_FAILED', `restic failed on ${repo} (exit ${code ?? 'signal'}): ${text}`);
}

/** Run restic to its end; stdout whole (bounded), stderr for the error. */
export async function runRestic(
  r: ResticRun,
  args: string[],
  o: { maxStdout?: number; cwd?: string } = {},
): Promise<string> {
  const max = o.maxStdout ?? 64 * 1024 * 1024;
  return withPasswordFile(
    r.password,
    (file) =>
      new Promise<string>((resolve, reject) => {
        const child = spawn(r.restic, ['-r', r.repo, '--no-lock', '--no-cache', ...args], {
          env: {
            ...process.env,
            RESTIC_PASSWORD_FILE: file,
            RESTIC_PASSWORD: '',
            RESTIC_PASSWORD_COMMAND: '',
            RESTIC_REPOSITORY: '',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
          signal: r.signal,
          cwd: o.cwd,
        });
        const out: Buffer[] = [];
        let outBytes = 0;
        let err = '';
        child.stdout.on('data', (d: Buffer) => {
          outBytes += d.length;
          if (outBytes > max) child.kill('SIGTERM');
          else out.push(d);
        });
        child.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-16_384)));
        child.on('error', (e: NodeJS.ErrnoException) => {
          if (r.signal.aborted) reject(new LifeboatError('CANCELLED', 'Cancelled.'));
          else
            reject(
              new LifeboatError(
                e.code === 'ENOENT' ? 'TOOL_MISSING' : 'TOOL_FAILED',
                `restic could not run: ${e.message}`,
              ),
            );
        });
        child.on('close', (code) => {
          if (r.signal.aborted) return reject(new LifeboatError('CANCELLED', 'Cancelled.'));
          if (outBytes > max)
            return reject(
              new LifeboatError('TOOL_FAILED', `restic wrote more than ${max} bytes for ${args[0]}: stopped.`),
            );
          if (code !== 0) return reject(resticFailure(r.repo, err, code));
          resolve(Buffer.concat(out).toString('utf8'));
        });
      }),
  );
}

/** Run restic and hand each stdout line to `onLine` (streamed: `ls --json` of a large snapshot); `onLine` returning false stops it. */
export async function streamRestic(
  r: ResticRun,
  args: string[],
  onLine: (line: string) => boolean,
): Promise<{ stopped: boolean }> {
  return withPasswordFile(
    r.password,
    (file) =>
      new Promise<{ stopped: boolean }>((resolve, reject) => {
        const child = spawn(r.restic, ['-r', r.repo, '--no-lock', '--no-cache', ...args], {
          env: {
            ...process.env,
            RESTIC_PASSWORD_FILE: file,
            RESTIC_PASSWORD: '',
            RESTIC_PASSWORD_COMMAND: '',
            RESTIC_REPOSITORY: '',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
          signal: r.signal,
        });
        let stopped = false;
        let err = '';
        child.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-16_384)));
        const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
        lines.on('line', (line) => {
          if (stopped) return;
          if (!onLine(line)) {
            stopped = true;
            child.kill('SIGTERM');
          }
        });
        child.on('error', (e: NodeJS.ErrnoException) => {
          if (r.signal.aborted) reject(new LifeboatError('CANCELLED', 'Cancelled.'));
          else
            reject(
              new LifeboatError(
                e.code === 'ENOENT' ? 'TOOL_MISSING' : 'TOOL_FAILED',
                `restic could not run: ${e.message}`,
              ),
            );
        });
        child.on('close', (code) => {
          if (r.signal.aborted) return reject(new LifeboatError('CANCELLED', 'Cancelled.'));
          if (stopped) return resolve({ stopped: true });
          if (code !== 0) return reject(resticFailure(r.repo, err, code));
          resolve({ stopped: false });
        });
      }),
  );
}
