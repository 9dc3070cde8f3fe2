import { describe, expect, it } from 'vitest';
import {
  assertStreamLabel,
  commandArgv,
  secretInCommand,
  splitCommandLine,
  streamCommand,
} from '../../electron/engine/process/command-line';

describe('the command-line splitter of backup cmd / restore cmd (no shell)', { timeout: 5_000 }, () => {
  it('splits words like sh: quotes, backslashes, adjacent pieces', () => {
    expect(splitCommandLine('docker save app:1.4')).toEqual(['docker', 'save', 'app:1.4']);
    expect(splitCommandLine(`tar -c -C '/srv/my data' .`)).toEqual(['tar', '-c', '-C', '/srv/my data', '.']);
    expect(splitCommandLine(`echo "a \\"b\\" \\\\ c" x'y'"z"`)).toEqual(['echo', 'a "b" \\ c', 'xyz']);
    expect(splitCommandLine(`a\\ b  \t c`)).toEqual(['a b', 'c']);
    expect(splitCommandLine(`printf '' x`)).toEqual(['printf', '', 'x']);
    // Inside single quotes nothing is special, not even what the splitter refuses unquoted.
    expect(splitCommandLine(`sh -c 'a | b; $X > f'`)).toEqual(['sh', '-c', 'a | b; $X > f']);
    expect(splitCommandLine(`find . -name '*.log'`)).toEqual(['find', '.', '-name', '*.log']);
  });

  it('refuses what only a shell would give meaning to, with a hint to quote or use --shell', () => {
    for (const line of [
      'tar -c | gzip',
      'a; b',
      'a > f',
      'echo $HOME',
      'echo `id`',
      'ls *.txt',
      'cd ~',
      'a && b',
      'echo "$X"',
    ])
      expect(() => splitCommandLine(line), line).toThrow(/unquoted/);
    try {
      splitCommandLine('tar -c | gzip');
    } catch (e) {
      expect((e as { hint?: string }).hint).toMatch(/--shell/);
    }
    expect(() => splitCommandLine(`echo 'open`)).toThrow(/unclosed ' quote/);
    expect(() => splitCommandLine(`echo "open`)).toThrow(/unclosed " quote/);
    expect(() => splitCommandLine('echo x\\')).toThrow(/backslash/);
    expect(() => splitCommandLine('   ')).toThrow(/empty/);
  });

  it('finds passwords in a command line (URLs, --password=, key=value), never a plain word', () => {
    expect(secretInCommand(['mongodump', '--uri=mongodb://app:s3cret@db:27017/x'])).toMatch(/URL with a password/);
    expect(secretInCommand(['mysqldump', '--password=hunter2'])).toMatch(/--password=/);
    expect(secretInCommand(['tool', 'host=db password=x'])).toMatch(/password=/);
    expect(secretInCommand(['curl', 'https://es:9200/_snapshot?api_key=abc'])).toMatch(/api_key=/);
    expect(secretInCommand(['docker', 'save', 'app:1.4'])).toBeNull();
    expect(secretInCommand(['mongodump', '--uri=mongodb://db:27017/x', '--password-file=/run/pw'])).toBeNull();
    expect(() => streamCommand('pg_dump postgres://u:pw@h/db', false, '--command')).toThrow(/--command holds a URL/);
    expect(() => streamCommand('PGPASSWORD=x pg_dump db', true, '--command')).toThrow(/password option/);
  });

  it("finds a password given as an option's next word or in a tool's own short option", () => {
    expect(secretInCommand(['redis-cli', '-p', '6380', '-a', 'hunter2', '--rdb', '-'])).toMatch(/redis-cli -a/);
    expect(secretInCommand(['/usr/bin/mysqldump', '-phunter2', 'shop'])).toMatch(/mysqldump -p/);
    expect(secretInCommand(['mongodump', '-u', 'app', '-p', 'hunter2', '--archive'])).toMatch(/mongodump -p/);
    expect(secretInCommand(['tool', '--password', 'hunter2'])).toMatch(/--password …/);
    expect(secretInCommand(['mysql', '-pMySecret', 'x'])).toBe('a password option (mysql -p…)');
    expect(secretInCommand(['tool', '-xMySecret', 'x'])).not.toContain('MySecret');
    // Refused as a secret before a parse error could quote the line back.
    expect(() => streamCommand('mysqldump -pSe$cret shop', false, '--command')).toThrow(/mysqldump -p…\)/);
    expect(secretInCommand(['redis-cli -a hunter2 --rdb - | cat'])).toMatch(/redis-cli -a/);
    expect(secretInCommand(['redis-cli', '-p', '6380', '--rdb', '-'])).toBeNull();
    expect(secretInCommand(['mysqldump', '-p', 'shop'])).toBeNull();
    expect(secretInCommand(['pg_dump', '--no-password', 'app'])).toBeNull();
    expect(secretInCommand(['mongodump', '--password-file', '/run/pw'])).toBeNull();
  });

  it('runs a --shell line with /bin/sh -c, and validates the kind label', () => {
    expect(commandArgv('a | b', true)).toEqual({
      path: '/bin/sh',
      args: ['-c', 'a | b'],
      recorded: ['/bin/sh', '-c', 'a | b'],
    });
    expect(commandArgv('docker save x', false).path).toBe('docker');
    expect(() => assertStreamLabel('docker-image')).not.toThrow();
    for (const bad of ['Docker', '-x', 'a/b', '', 'x'.repeat(41), 'a b'])
      expect(() => assertStreamLabel(bad), bad).toThrow(/not a usable label/);
  });
});
