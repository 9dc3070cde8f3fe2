import { z } from 'zod';
import { cmdRestoreCondition, restoreCmd } from '../../restore/cmd-stream';
import { defineAction } from './types';

/**
 * restore.cmd: a `stream` set (lifeboat backup cmd) fed to a command's standard input
 * (restore/cmd-stream.ts), confirmed by typing the set's system name. The stream is checked whole
 * before the command reads a byte, unless `stream: true` (then a failed check at the end comes
 * after the command consumed unverified bytes). The same in a drill: the runbook's command says
 * where the stream goes (a scratch Docker daemon, a scratch mongod), Lifeboat cannot.
 */
export const restoreCmdAction = defineAction({
  params: z
    .object({
      set: z.string().min(1),
      /** The command line, split like sh splits words and run without a shell unless `shell: true`. */
      command: z.string().min(1),
      shell: z.boolean().default(false),
      stream: z.boolean().default(false),
      allow_unsigned: z.boolean().default(false),
    })
    .strict(),
  describe: (p) =>
    `feed ${p.set} to \`${p.command}\`${p.shell ? ' (with /bin/sh)' : ''}${p.stream ? ' while it is checked (streamed: the command may read unverified bytes)' : ' once it is checked whole'}${p.allow_unsigned ? ' — UNSIGNED OR UNTRUSTED SET ALLOWED by the operator' : ''}`,
  condition: (p, checkpoint) => cmdRestoreCondition(p, checkpoint),
  run: (p, ctx) => restoreCmd(p, ctx),
});
