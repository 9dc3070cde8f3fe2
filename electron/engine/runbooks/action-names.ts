/**
 * The engine actions a runbook step can call (docs/runbook-format.md lists their parameters).
 * `restore.pg-pitr` joins them with point-in-time recovery.
 */
export const ACTION_NAMES = [
  'catalog.select-set',
  'verify.set',
  'restore.pg-logical',
  'restore.files',
  'check.sql',
  'check.files',
  'wait.pg-ready',
  'report.write',
] as const;
export type ActionName = (typeof ACTION_NAMES)[number];
