import { globMatcher } from '../format/glob';

/** Backup excludes in Lifeboat's glob dialect (format/glob.ts): an empty pattern excludes nothing. */
export class ExcludeMatcher {
  private readonly matchers: Array<(path: string) => boolean> = [];

  constructor(readonly patterns: string[]) {
    for (const p of patterns) {
      if (p.replace(/^(\.\/)+/, '').replace(/\/+$/, '') === '') continue;
      this.matchers.push(globMatcher(p));
    }
  }

  /** `rel` is the path relative to the backed-up root, with `/` separators. */
  excludes(rel: string): boolean {
    return this.matchers.some((m) => m(rel));
  }
}

/** The seeds' default excludes. */
export const DEFAULT_EXCLUDES = ['node_modules', '*.tmp', '__pycache__', '.DS_Store'];
