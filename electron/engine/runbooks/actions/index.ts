import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { z } from 'zod';
import type { ActionName } from '../action-names';
import { LifeboatError } from '../../errors';
import { sha256Hex } from '../../format/manifest';
import { checkFiles, checkSql, waitPgReady } from './checks';
import { pgPromote } from './pg-promote';
import { pitrPlan, restorePgPitr } from './pitr';
import { restoreCmdAction } from './restore-cmd';
import { restoreFiles } from './restore-files';
import { restorePgLogical } from './restore-pg';
import { restoreMysqlAction } from './restore-mysql';
import { restoreRedis } from './restore-redis';
import { selectSet } from './select-set';
import { defineAction, type ActionDefinition } from './types';
import { verifySetAction } from './verify-set';

/** report.write: the run's report as it stands, into the data dir's reports folder (and a copy where asked). */
const reportWrite = defineAction({
  params: z.object({ out: z.string().optional() }).strict(),
  describe: (p) => `write the recovery report${p.out ? ` to ${p.out}` : ''}`,
  run(p, ctx) {
    const html = ctx.renderReport();
    const path = join(ctx.deps.dataDir, 'reports', `${ctx.runId}.html`);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, html, { mode: 0o600 });
    const written = [path];
    if (p.out) {
      if (!isAbsolute(p.out)) throw new LifeboatError('BAD_INPUT', `report.write needs an absolute path: ${p.out}`);
      mkdirSync(dirname(p.out), { recursive: true });
      writeFileSync(p.out, html);
      written.push(p.out);
    }
    return Promise.resolve({ path, copies: written.slice(1), bytes: Buffer.byteLength(html), sha256: sha256Hex(html) });
  },
});

export const ACTIONS: Record<ActionName, ActionDefinition> = {
  'catalog.select-set': selectSet,
  'verify.set': verifySetAction,
  'pitr.plan': pitrPlan,
  'restore.pg-logical': restorePgLogical,
  'restore.pg-pitr': restorePgPitr,
  'restore.files': restoreFiles,
  'restore.cmd': restoreCmdAction,
  'restore.mysql': restoreMysqlAction,
  'restore.redis': restoreRedis,
  'check.sql': checkSql,
  'check.files': checkFiles,
  'wait.pg-ready': waitPgReady,
  'pg.promote': pgPromote,
  'report.write': reportWrite,
};
