/** Kinds of backup sets (media format v1). */
// prettier-ignore
export const SET_KINDS = [
  'pg-logical',
  'pg-base',
  'files',
  'config',
  'stream', // any tool's standard output (lifeboat backup cmd)
  'mysql',
] as const;
export type SetKind = (typeof SET_KINDS)[number];
