/** Kinds of backup sets (media format v1). */
export const SET_KINDS = ['pg-logical', 'pg-base', 'files', 'config', 'redis'] as const;
export type SetKind = (typeof SET_KINDS)[number];
