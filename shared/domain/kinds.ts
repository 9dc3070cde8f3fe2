/** Kinds of backup sets (media format v1). One a line: the branches that add kinds merge line by line. */
// prettier-ignore
export const SET_KINDS = [
  'pg-logical',
  'pg-base',
  'files',
  'config',
  'stream', // any tool's standard output (lifeboat backup cmd)
  'mysql',
  'redis',
] as const;
export type SetKind = (typeof SET_KINDS)[number];
