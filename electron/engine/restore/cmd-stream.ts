import { createReadStream, createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { shellLine } from '../../../shared/shell-quote';
import { STREAM_ROLE, STDERR_TAIL_BYTES, streamCommand } from '../process/command-line';
import { LifeboatError, mapError } from '../errors';
import { redactText } from '../log/redact';
import { spawnFedTool } from '../process/child';
import { ConfirmationNeeded, type RestoreContext } from './context';
import { openVerifiedArtifact, untilVerified } from './gate';
import { openTrustedCopy } from './set-access';

export interface RestoreCmdParams {
  set: string;
  command: string;
  shell: boolean;
  /**
   * Feed the command while the stream is read and checked, instead of staging it first. The
   * stream's hashes are known only at its end: if they fail, the command has already consumed
   * the bytes read so far (it is killed, and the step fails saying so).
   */
  stream: boolean;
  allow_unsigned: boolean;
}

/** What the target is left in when restore.cmd stops early. */
export function cmdRestoreCondition(p: { command: string }, checkpoint: unknown): string {
  return checkpoint
    ? `the command (${p.command}) was started: it may have acted on part of the stream`
    : 'the command was not started: nothing was changed';
}

function tailOf(text: string): string {
  const t = redactText(text).trim();
  return t.length > STDERR_TAIL_BYTES ? `…${t.slice(-STDERR_TAIL_BYTES)}` : t;
}

/**
 * restore.cmd: the plaintext of a `stream` set fed to a command's standard input (`docker load`,
 * `mongorestore --archive`). By default the stream is first decoded and checked whole into the
 * run's private folder (plaintext-size of free space there), so the command reads only verified
 * bytes; `stream: true` feeds it while checking (no disk, but a failed check at the end comes after
 * the command consumed unverified bytes: it is then killed and the step fails saying so). The
 * command's exit status, the bytes it took and the tails of its output are reported; a command
 * that stops reading before the end fails the step; a cancel kills its whole process group.
 */
export async function restoreCmd(p: RestoreCmdParams, ctx: RestoreContext): Promise<Record<string, unknown>> {
  const cmd = streamCommand(p.command, p.shell, 'command');
  const display = p.shell ? p.command : shellLine(cmd.recorded);
  const copy = await openTrustedCopy(ctx.deps.catalog, p.set, {
    allowUnsigned: p.allow_unsigned,
    open: ctx.deps.openMedium,
  });
  const artifact = copy.manifest.artifacts.find((a) => a.role === STREAM_ROLE);
  if (copy.manifest.kind !== 'stream' || !artifact)
    throw new LifeboatError('FORMAT_INVALID', `${copy.key} is a ${copy.manifest.kind} set, not a command's stream.`, {
      hint: 'restore cmd feeds sets made by lifeboat backup cmd; use restore pg / restore files for the others.',
    });
  const label = typeof copy.manifest.source.label === 'string' ? copy.manifest.source.label : 'stream';
  // The command acts on something live (a Docker daemon, a MongoDB): confirmed by typing the system's name.
  const expect = copy.manifest.system;
  if (ctx.confirmation !== expect)
    throw new ConfirmationNeeded(
      `Feed ${copy.key} (${label}, ${artifact.plain_bytes} bytes) to \`${display}\`: the command acts on whatever it loads into. Type the system name ${expect} to confirm.`,
      expect,
      ctx.confirmation !== null,
    );
  const total = artifact.plain_bytes;
  const identities = ctx.deps.identities;
  const started = Date.now();
  let staged: string | null = null;
  let source: Readable;
  let verifying: Promise<void> = Promise.resolve();
  const verified = await openVerifiedArtifact(copy, artifact, {
    identities,
    trust: copy.trust,
    signal: ctx.signal,
    onPlainBytes: (n) => ctx.progress({ bytesDone: p.stream ? n : Math.floor(n / 2), bytesTotal: total }),
  });
  if (!p.stream) {
    mkdirSync(ctx.workDir, { recursive: true, mode: 0o700 });
    staged = join(ctx.workDir, `stream-${ctx.stepId}`);
    const file = staged;
    await untilVerified(verified, pipeline(verified.stream, createWriteStream(file, { mode: 0o600 })));
    source = createReadStream(file);
  } else {
    source = verified.stream;
    verifying = verified.verified;
  }
  try {
    ctx.saveCheckpoint({ started: true });
    const kill = new AbortController();
    const onCancel = (): void => kill.abort();
    ctx.signal.addEventListener('abort', onCancel, { once: true });
    const what = p.shell ? 'the --shell command' : cmd.path;
    const tool = spawnFedTool(cmd.path, cmd.args, { signal: kill.signal, what });
    let stderr = '';
    let stdout = '';
    tool.child.stderr.on(
      'data',
      (d: string | Buffer) => (stderr = (stderr + d.toString()).slice(-STDERR_TAIL_BYTES * 2)),
    );
    tool.child.stdout.on('data', (d: Buffer) => (stdout = (stdout + d.toString('utf8')).slice(-STDERR_TAIL_BYTES)));
    let exit: { code: number | null; signal: string | null } = { code: null, signal: null };
    tool.child.once('close', (code, sig) => (exit = { code, signal: sig }));
    tool.child.stdin.on('error', () => undefined);
    let fed = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _e, cb) {
        fed += chunk.length;
        if (!p.stream) ctx.progress({ bytesDone: Math.floor(total / 2 + fed / 2), bytesTotal: total });
        cb(null, chunk);
      },
    });
    const feeding = pipeline(source, counter, tool.child.stdin).then(
      () => null,
      (e: unknown) => e,
    );
    // The check of the stream (streaming mode): a failure kills the command, which has read unverified bytes.
    const gate = await verifying.then(
      () => null,
      (e: unknown) => {
        kill.abort();
        return mapError(e);
      },
    );
    const fedError = await feeding;
    const exited = await tool.exited.then(
      () => null,
      (e: unknown) => mapError(e),
    );
    ctx.signal.removeEventListener('abort', onCancel);
    if (ctx.signal.aborted)
      throw new LifeboatError('CANCELLED', 'Cancelled: the command was stopped (its process group killed).');
    const durationMs = Date.now() - started;
    if (gate)
      throw new LifeboatError(
        gate.code,
        `${gate.message} The command had already read ${fed} bytes of the stream (streamed without staging): it was stopped, and may have acted on them.`,
        {
          hint: 'Check what the command loaded, and restore from another copy; without --stream the stream is checked whole before the command sees a byte.',
        },
      );
    if (exited)
      throw new LifeboatError(exited.code, `${exited.message} (it read ${fed} of ${total} bytes)`, {
        hint: 'Its stderr is above; the set itself passed its checks.',
      });
    const pipeGone = ['EPIPE', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_PREMATURE_CLOSE'].includes(
      String((fedError as { code?: unknown } | null)?.code),
    );
    if (fedError && !pipeGone) throw mapError(fedError);
    if (fed < total)
      throw new LifeboatError(
        'TOOL_FAILED',
        `${what} exited 0 but read only ${fed} of ${total} bytes: it did not take the whole stream (a wrong command, or one that ignores its input?).`,
        {
          hint: 'Give a command that reads the whole stream from its standard input (docker load, mongorestore --archive, tar -x…).',
        },
      );
    return {
      set: copy.key,
      label,
      command: display,
      exit_status: exit.code ?? 0,
      bytes_fed: fed,
      duration_ms: durationMs,
      staged: !p.stream,
      stderr_tail: tailOf(stderr),
      stdout_tail: tailOf(stdout),
    };
  } finally {
    if (staged) rmSync(staged, { force: true });
  }
}
