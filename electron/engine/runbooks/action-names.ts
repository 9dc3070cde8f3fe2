/**
 * The engine actions a runbook step can call (docs/runbook-format.md lists their parameters).
 */
export const ACTION_NAMES = [
  'catalog.select-set',
  'verify.set',
  'pitr.plan',
  'restore.pg-logical',
  'restore.pg-pitr',
  'restore.files',
  'restore.cmd',
  'restore.mysql',
  'restore.redis',
  'check.sql',
  'check.files',
  'wait.pg-ready',
  'pg.promote',
  'report.write',
] as const;
export type ActionName = (typeof ACTION_NAMES)[number];
