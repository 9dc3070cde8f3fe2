import picomatch from 'picomatch';

/**
 * Lifeboat's one glob dialect, for backup excludes (`--exclude`) and restore selections (`--path`,
 * `restore.files` paths), on relative paths with `/` separators:
 *
 *   `*`       any run of characters within one path segment (never `/`)
 *   `**`      any number of whole segments, none included (`logs/**\/*.gz` matches `logs/a.gz`)
 *   `?`       one character other than `/`
 *   `[abc]`   `[a-z]` `[!abc]` `[^abc]`: one character of (or not of) a class
 *   anything else, `\` included, stands for itself; names starting with a dot are matched like any other
 *
 * A pattern without `/` matches a name at any depth (`*.tmp`, `node_modules`); one with `/` matches
 * the path from the root of the backup (`etc/nginx`, `logs/**\/*.gz`). Leading `./` and trailing `/`
 * are ignored. Matching is picomatch's, with braces, extglobs and negation turned off so `{`, `(`,
 * `!` and `|` in file names are plain characters.
 */
export function globMatcher(pattern: string): (path: string) => boolean {
  const clean = pattern.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  // Backslashes are literal in file names (and in the dialect); picomatch reads them as escapes.
  const source = clean.replace(/\\/g, '\\\\').replace(/\[!/g, '[^');
  const match = picomatch(source, { dot: true, nobrace: true, noextglob: true, nonegate: true, windows: false });
  if (clean.includes('/')) return (path) => match(path);
  return (path) => match(path.slice(path.lastIndexOf('/') + 1));
}
