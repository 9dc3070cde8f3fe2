import { describe, expect, it } from 'vitest';
import { ExcludeMatcher } from '../../electron/engine/backup/glob';
import { globMatcher } from '../../electron/engine/format/glob';
import { pathSelector } from '../../electron/engine/restore/select';

// One dialect (format/glob.ts) for backup excludes and restore selections: the same table holds for both.
const table: Array<[pattern: string, path: string, matches: boolean]> = [
  ['*.conf', 'nginx.conf', true],
  ['*.conf', 'etc/nginx/nginx.conf', true], // no '/': a name at any depth
  ['*', 'etc', true],
  ['etc/*', 'etc/hosts', true],
  ['etc/*', 'etc/nginx/nginx.conf', false], // '*' stays within a segment
  ['etc/**', 'etc/nginx/nginx.conf', true],
  ['logs/**/*.gz', 'logs/a.gz', true], // '**' may be no segment at all
  ['logs/**/*.gz', 'logs/2026/11/a.gz', true],
  ['logs/**/*.gz', 'other/logs/a.gz', false], // a '/' anchors at the root
  ['a*b', 'a/xb', false],
  ['a?c', 'abc', true],
  ['a?c', 'a/c', false],
  ['[ab]x', 'bx', true],
  ['[!ab]x', 'cx', true],
  ['[!ab]x', 'ax', false],
  ['[^ab]x', 'ax', false],
  ['.DS_Store', 'photos/.DS_Store', true],
  ['*', '.hidden', true], // dot files are not special
  ['caf\\xe9.txt', 'docs/caf\\xe9.txt', true], // a backslash is a plain character
  ['caf\\xe9.txt', 'docs/cafxe9.txt', false],
  ['{a,b}', '{a,b}', true], // no braces, extglobs or negation: plain characters
  ['{a,b}', 'a', false],
  ['!(x)|y', '!(x)|y', true],
  ['./etc/', 'etc', true],
];

describe("Lifeboat's one glob dialect", () => {
  it.each(table)('%s against %s: %s', (pattern, path, matches) => {
    expect(globMatcher(pattern)(path)).toBe(matches);
    expect(new ExcludeMatcher([pattern]).excludes(path)).toBe(matches);
  });

  it('a restore selection takes a matching folder with everything under it', () => {
    const selected = pathSelector(['etc/nginx', '*.pem']);
    expect(
      ['etc/nginx', 'etc/nginx/sites/default', 'keys/a.pem', 'keys/a.pem.bak', 'etc/nginx2', 'etc'].map(selected),
    ).toEqual([true, true, true, false, false, false]);
    expect(pathSelector(['etc/*'])('etc/nginx/nginx.conf')).toBe(true); // through its folder etc/nginx
    expect(pathSelector(['a*c'])('ab/c')).toBe(false);
  });

  it('an empty exclude pattern excludes nothing', () => {
    expect(new ExcludeMatcher(['', './', '/']).excludes('anything')).toBe(false);
  });
});
