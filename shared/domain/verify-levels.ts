/**
 * The verification levels, cheapest first. Kept apart from the zod schemas so the CLI can
 * register its commands without loading zod (PostgreSQL starts `lifeboat wal-push` per segment).
 */
export const VERIFY_LEVELS = ['inventory', 'integrity', 'authenticity', 'deep', 'restore'] as const;
export type VerifyLevel = (typeof VERIFY_LEVELS)[number];
