/**
 * Minimal glob matching for excludes: `*` (within a segment), `**` (across segments), `?`,
 * and character classes. A pattern without `/` matches any path segment's name; with `/` it
 * matches the whole relative path.
 */
function toRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        re += '.*';
        i++;
        if (glob[i + 1] === '/') i++;
      } else {
        re += '[^/]*';
      }
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '[') {
      const end = glob.indexOf(']', i);
      if (end > i) {
        re += glob.slice(i, end + 1).replace(/^\[!/, '[^');
        i = end;
      } else {
        re += '\\[';
      }
    } else {
      re += c.replace(/[.+^${}()|\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`);
}

export class ExcludeMatcher {
  private readonly byName: RegExp[] = [];
  private readonly byPath: RegExp[] = [];

  constructor(readonly patterns: string[]) {
    for (const p of patterns) {
      const clean = p.replace(/^\.\//, '').replace(/\/+$/, '');
      if (clean === '') continue;
      (clean.includes('/') ? this.byPath : this.byName).push(toRegExp(clean));
    }
  }

  /** `rel` is the path relative to the backed-up root, with `/` separators. */
  excludes(rel: string): boolean {
    const name = rel.slice(rel.lastIndexOf('/') + 1);
    return this.byName.some((r) => r.test(name)) || this.byPath.some((r) => r.test(rel));
  }
}

/** The seeds' default excludes. */
export const DEFAULT_EXCLUDES = ['node_modules', '*.tmp', '__pycache__', '.DS_Store'];
