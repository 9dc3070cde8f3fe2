import { spawn } from 'node:child_process';
import type { JobContext } from '../jobs/job-manager';
import { LifeboatError } from '../errors';
import { redactText } from '../log/redact';
import { ToolSource } from '../process/child';
import { writeSet, type SetPlan, type WrittenSet } from './set-writer';
import {
  assertStreamLabel,
  STDERR_TAIL_BYTES,
  STREAM_ARTIFACT,
  STREAM_ROLE,
  streamCommand,
} from '../process/command-line';

export interface CmdBackupInput extends Omit<SetPlan, 'kind' | 'parent' | 'startedAt'> {
  /** The user's label of what the stream is (docker-image, mongodb-archive…). */
  label: string;
  command: string;
  shell: boolean;
  versionCommand?: string | undefined;
}

function tail(text: string): string {
  const t = redactText(text).trim();
  return t.length > STDERR_TAIL_BYTES ? `…${t.slice(-STDERR_TAIL_BYTES)}` : t;
}

/** `--version-command`: its first line of output (stdout, else stderr), at most 200 characters. */
async function toolVersion(line: string, shell: boolean, signal: AbortSignal): Promise<string> {
  const c = streamCommand(line, shell, '--version-command');
  return new Promise((resolve, reject) => {
    const child = spawn(c.path, c.args, { stdio: ['ignore', 'pipe', 'pipe'], signal, timeout: 30_000 });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(0, 4096)));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(0, 4096)));
    child.once('error', (e) =>
      reject(new LifeboatError('TOOL_MISSING', `--version-command could not be started: ${e.message}`)),
    );
    child.once('close', (code, sig) => {
      if (code !== 0)
        return reject(
          new LifeboatError(
            'TOOL_FAILED',
            `--version-command failed (${sig ?? `exit ${code}`}): ${tail(err) || 'no message'}`,
          ),
        );
      const first = (out.trim() || err.trim()).split('\n')[0]!.slice(0, 200);
      resolve(redactText(first));
    });
  });
}

/**
 * `lifeboat backup cmd`: a command's standard output is the set's one artifact (`docker save`,
 * `mongodump --archive`…), through the same pipeline as every set (zstd, age, signed manifest,
 * several media at once). The command runs without a shell unless `shell` (command-line.ts). Its
 * exit status decides: non-zero, a signal or a cancel and the set writer removes everything, so
 * no medium ever shows a set of a failed command. The manifest records the command line (checked
 * for secrets), its exit status, duration, the tail of its stderr, and the tool's version when asked.
 */
export async function backupCmd(input: CmdBackupInput, ctx: JobContext): Promise<WrittenSet> {
  assertStreamLabel(input.label);
  const cmd = streamCommand(input.command, input.shell, '--command');
  const version = input.versionCommand ? await toolVersion(input.versionCommand, input.shell, ctx.signal) : null;
  const startedAt = new Date();
  const plan: SetPlan = { ...input, kind: 'stream', parent: null, startedAt };
  return writeSet(plan, ctx, async (add) => {
    ctx.step(`running ${cmd.recorded[0]!}`);
    const what = input.shell ? 'the --shell command' : cmd.path;
    const tool = ToolSource.of(cmd.path, cmd.args, { signal: ctx.signal, what });
    let stderr = '';
    let began = 0;
    let status: { code: number | null; signal: string | null } = { code: null, signal: null };
    void tool.started.then(
      (t) => {
        began = Date.now();
        t.child.stderr?.on('data', (d: string | Buffer) => {
          stderr = (stderr + d.toString()).slice(-STDERR_TAIL_BYTES * 2);
        });
        t.child.once('close', (code, sig) => (status = { code, signal: sig }));
      },
      () => undefined,
    );
    const stored = add({
      name: STREAM_ARTIFACT,
      role: STREAM_ROLE,
      source: tool,
      onPlainBytes: (n) => ctx.progress({ bytesDone: n }),
    });
    // The command may fail after writing part of its output: its exit status decides. A storage
    // failure comes first (it is what broke the command's pipe).
    const [written, exit] = await Promise.allSettled([stored, tool.exited()]);
    if (ctx.signal.aborted) throw new LifeboatError('CANCELLED', 'Cancelled.');
    if (written.status === 'rejected') throw written.reason;
    if (exit.status === 'rejected') {
      const e = exit.reason as LifeboatError;
      throw new LifeboatError(e.code ?? 'TOOL_FAILED', `${e.message} No set was written.`, {
        hint: 'The command must exit 0 for its output to become a set; its stderr above says why it did not.',
      });
    }
    const source: Record<string, unknown> = {
      label: input.label,
      command: cmd.recorded,
      shell: input.shell,
      exit_status: status.code ?? 0,
      duration_ms: began ? Date.now() - began : 0,
      stderr_tail: tail(stderr),
      ...(version !== null ? { tool_version: version, version_command: input.versionCommand } : {}),
    };
    return { source, warnings: [] };
  });
}
