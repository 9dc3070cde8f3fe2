import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const BIN = join(__dirname, '../../bin/lifeboat.cjs');

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run the real `lifeboat` command (built CLI under plain Node) synchronously. */
export function lifeboat(env: NodeJS.ProcessEnv, ...args: string[]): CliRun {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The same, without blocking the test process (for commands that talk to in-process servers). */
export function lifeboatAsync(env: NodeJS.ProcessEnv, ...args: string[]): Promise<CliRun> {
  return lifeboatIn({ ...process.env, ...env }, ...args);
}

/** `lifeboat` in exactly this environment, nothing inherited (a cron job's), without blocking the test process. */
export function lifeboatIn(env: NodeJS.ProcessEnv, ...args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

export function json<T = Record<string, unknown>>(run: CliRun): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${run.status}): ${run.stdout}\n${run.stderr}`);
  }
}

/** Everything the CLI logged under a data directory (`<home>/logs`), one string; '' before the first log. */
export function loggedUnder(home: string): string {
  const d = join(home, 'logs');
  return existsSync(d)
    ? readdirSync(d)
        .map((f) => readFileSync(join(d, f), 'utf8'))
        .join('')
    : '';
}
