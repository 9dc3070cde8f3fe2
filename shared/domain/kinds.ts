/** Kinds of backup sets (media format v1). */
// prettier-ignore
export const SET_KINDS = [
  'pg-logical',
  'pg-base',
  'files',
  'config',
  'mysql',
] as const;
export type SetKind = (typeof SET_KINDS)[number];
