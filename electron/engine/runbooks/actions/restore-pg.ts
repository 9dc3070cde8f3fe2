import { z } from 'zod';
import { DB_NAME, pgLogicalCondition, restorePgLogical as restore } from '../../restore/pg-logical';
import { resolvePgTarget } from './pg-target';
import { defineAction } from './types';

/**
 * restore.pg-logical: `pg_restore -j` of a logical set into a target (restore/pg-logical.ts). A
 * new database is created by default (the run records that it made it, so an interrupted
 * restore is dropped and redone on resume; a failed one is dropped). An existing database needs
 * a typed confirmation of its name *and* `clean: true` (pg_restore --clean --if-exists: objects
 * in the dump are dropped and recreated; others stay). The set must be signed by a pinned key,
 * unless `allow_unsigned: true` (journaled with the step's parameters).
 */
export const restorePgLogical = defineAction({
  params: z
    .object({
      set: z.string().min(1),
      target: z.string().optional(),
      credential: z.string().optional(),
      database: z.string().regex(DB_NAME, 'a plain database name (letters, digits, _)'),
      clean: z.boolean().default(false),
      jobs: z.number().int().min(1).max(32).default(2),
      allow_unsigned: z.boolean().default(false),
      /** The non-superuser role pg_restore connects as (default lifeboat_restore), owner of a new database; see restoreRoleFor. */
      role: z
        .string()
        .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a plain role name')
        .optional(),
      /** Restore with the admin connection's own (superuser) rights: confirmed by typing superuser:<database>. */
      as_superuser: z.boolean().default(false),
      /** The set's deep check made on this restore's own read of the dump (after a verify.set with one_pass: true). */
      deep_check: z.boolean().default(false),
    })
    .strict(),
  describe: (p) =>
    `restore ${p.set} into the database ${p.database}${p.clean ? ' (--clean: objects in the dump are replaced)' : ' (a new database)'} with pg_restore -j ${p.jobs}${p.allow_unsigned ? ' — UNSIGNED OR UNTRUSTED SET ALLOWED by the operator' : ''}`,
  condition: pgLogicalCondition,
  // The restore is restore/pg-logical.ts; the step gives it the server (a drill's scratch one) once the set passed the trust rule.
  run: (p, ctx) => restore(p, ctx, () => resolvePgTarget(ctx, p.target, p.credential, 'postgres')),
});
