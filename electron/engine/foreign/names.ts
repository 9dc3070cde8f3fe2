/**
 * The catalog's system name for a name another tool chose (a pgBackRest stanza, a seed script's
 * file-name prefix, a restic repository): lower case, runs of other characters become `-`, no leading
 * punctuation, at most 63 characters (a PostgreSQL identifier's length); `fallback` when nothing is left.
 */
export function systemNameFrom(raw: string, fallback = 'unnamed'): string {
  const s = raw
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 63);
  return s || fallback;
}
