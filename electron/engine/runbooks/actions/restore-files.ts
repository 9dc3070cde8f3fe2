import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { LifeboatError } from '../../errors';
import { filesRestoreCondition, restoreFiles as restore } from '../../restore/restore-files';
import { defineAction } from './types';

/**
 * restore.files: a files or config set into a folder (restore/restore-files.ts does it). In a drill
 * the folder is a scratch folder of the run; live, an absolute path (absent, empty, or confirmed by
 * typing it).
 */
export const restoreFiles = defineAction({
  params: z
    .object({
      set: z.string().min(1),
      into: z.string().optional(),
      /** Globs of paths (a match brings its subtree); none: the whole set. */
      paths: z.array(z.string().min(1)).default([]),
      /** Into a non-empty folder: refuse (before moving anything) when an entry already exists there. */
      keep_existing: z.boolean().default(false),
      /** Restore a set not signed by a pinned key (journaled with the step's parameters). */
      allow_unsigned: z.boolean().default(false),
      /** As root: do not restore owners and groups (setuid/setgid bits are then cleared). */
      no_same_owner: z.boolean().default(false),
    })
    .strict(),
  describe: (p) =>
    `restore the files of ${p.set} into ${p.into ?? 'a scratch folder'}${p.allow_unsigned ? ' — UNSIGNED OR UNTRUSTED SET ALLOWED by the operator' : ''}`,
  condition: (p, checkpoint, drill) => filesRestoreCondition(p.into, checkpoint, drill),
  async run(p, ctx) {
    let into: string;
    if (ctx.drill) into = ctx.scratchDir(`files-${ctx.stepId}`);
    else {
      if (!p.into) throw new LifeboatError('BAD_INPUT', 'restore.files needs a folder to restore into (into:).');
      if (!isAbsolute(p.into))
        throw new LifeboatError('BAD_INPUT', `The restore folder must be an absolute path: ${p.into}`);
      into = resolve(p.into);
    }
    return restore(p, ctx, into);
  },
});
