import { LifeboatError } from '../errors';

/**
 * The command line of `lifeboat backup cmd` / `restore cmd`, split into argv the way a POSIX shell
 * splits words, and nothing more: single quotes keep everything, double quotes keep everything but
 * `\"` and `\\`, a backslash outside quotes keeps the next character. No expansion of any kind
 * (variables, globs, `~`, command substitution) and no operators: an unquoted `| & ; < > ( ) $ \``
 * `*` `?` is refused with a hint (quote it, or give --shell to have /bin/sh run the line), so a
 * line written for a shell never runs with a different meaning.
 */
export function splitCommandLine(line: string): string[] {
  const out: string[] = [];
  let word: string | null = null;
  let i = 0;
  const operator = (ch: string): LifeboatError =>
    new LifeboatError('BAD_INPUT', `The command line has an unquoted ${ch} at character ${i + 1}: ${line}`, {
      hint: `It runs without a shell: quote the character ('${ch}') to pass it as is, or add --shell to have /bin/sh run the line (pipes, redirections, variables).`,
    });
  while (i < line.length) {
    const ch = line[i]!;
    if (ch === ' ' || ch === '\t' || ch === '\n') {
      if (word !== null) out.push(word);
      word = null;
      i++;
      continue;
    }
    if (ch === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new LifeboatError('BAD_INPUT', `The command line has an unclosed ' quote: ${line}`);
      word = (word ?? '') + line.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    if (ch === '"') {
      let j = i + 1;
      let text = '';
      for (;;) {
        if (j >= line.length) throw new LifeboatError('BAD_INPUT', `The command line has an unclosed " quote: ${line}`);
        const c = line[j]!;
        if (c === '"') break;
        if (c === '\\' && (line[j + 1] === '"' || line[j + 1] === '\\')) {
          text += line[j + 1];
          j += 2;
          continue;
        }
        if (c === '$' || c === '`') {
          i = j;
          throw operator(c);
        }
        text += c;
        j++;
      }
      word = (word ?? '') + text;
      i = j + 1;
      continue;
    }
    if (ch === '\\') {
      if (i + 1 >= line.length) throw new LifeboatError('BAD_INPUT', `The command line ends with a backslash: ${line}`);
      word = (word ?? '') + line[i + 1];
      i += 2;
      continue;
    }
    if ('|&;<>()$`*?'.includes(ch) || (ch === '~' && word === null) || (ch === '#' && word === null))
      throw operator(ch);
    word = (word ?? '') + ch;
    i++;
  }
  if (word !== null) out.push(word);
  if (out.length === 0) throw new LifeboatError('BAD_INPUT', 'The command line is empty.');
  return out;
}

/** A URL with a password in it (scheme://user:secret@host). */
const URL_PASSWORD = /[a-z][a-z0-9+.-]*:\/\/[^\s/@:]*:[^\s/@]+@/i;
/** `--password=x`, `--pass=x`, `password=x` in a connection string or a --shell line. */
const PASSWORD_OPTION = /(^|[\s;&?])(--?)?([\w-]*(?:password|passwd|pass|pwd|secret|token|api[-_]?key))\s*=/i;

/**
 * Why a command line must not be recorded: a password in it would land in the manifest, the
 * catalog, the logs and `ps`. Secrets go to the command through the environment (it inherits
 * Lifeboat's: MONGODB_URI, PGPASSWORD, REDISCLI_AUTH…). Null when nothing looks like one.
 */
export function secretInCommand(parts: string[]): string | null {
  for (const p of parts) {
    if (URL_PASSWORD.test(p)) return 'a URL with a password in it';
    const option = PASSWORD_OPTION.exec(p);
    if (option) return `a password option (${option[2] ?? ''}${option[3]!}=…)`;
  }
  // A --shell line is one string: its words, roughly as sh splits them, for the options below.
  const words = parts.length === 1 ? parts[0]!.split(/[\s;&|()]+/).map((w) => w.replace(/^['"]|['"]$/g, '')) : parts;
  return passwordAsNextWord(words);
}

/** An option whose value is the next word: `--password X`, `--token X` (not `--no-password`). */
const PASSWORD_FLAG = /^--?[\w-]*(?:password|passwd|pass|pwd|secret|token|api[-_]?key)$/i;
const MYSQL_TOOLS = /^(mysql|mariadb|mysqldump|mariadb-dump)$/;
const MONGO_TOOLS = /^(mongodump|mongorestore|mongoexport|mongoimport|mongosh)$/;

/** A password given as an option's next word, or in a tool's own short option: `redis-cli -a X`, `mysqldump -pX`, `mongodump -p X`. */
function passwordAsNextWord(words: string[]): string | null {
  let tool = '';
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const hasNext = i + 1 < words.length && words[i + 1] !== '';
    const base = w.slice(w.lastIndexOf('/') + 1);
    if (base === 'redis-cli' || MYSQL_TOOLS.test(base) || MONGO_TOOLS.test(base)) {
      tool = base;
      continue;
    }
    if (tool === 'redis-cli' && hasNext && (w === '-a' || w === '--pass'))
      return `a password option (redis-cli ${w} …)`;
    if (MYSQL_TOOLS.test(tool) && /^-p./.test(w)) return `a password option (${tool} -p…)`;
    if (MONGO_TOOLS.test(tool) && hasNext && w === '-p') return `a password option (${tool} -p …)`;
    // Named only when it is a long option: `-pSecret` is a value, never echoed.
    if (hasNext && PASSWORD_FLAG.test(w) && !/^--?no-/i.test(w))
      return `a password option (${w.startsWith('--') ? w : 'an option'} …)`;
  }
  return null;
}

/** Refuse a command line with a secret in it, saying where secrets go instead. */
export function assertNoSecret(parts: string[], flag: string): void {
  const what = secretInCommand(parts);
  if (what)
    throw new LifeboatError('BAD_INPUT', `${flag} holds ${what}: refused, since the command line is recorded.`, {
      hint: 'Pass secrets through the environment the command inherits (e.g. PGPASSWORD, MYSQL_PWD, REDISCLI_AUTH, a variable your --shell line reads), never on the command line.',
    });
}

/** The kind label of a stream set (docker-image, mongodb-archive…): lower case, digits, dashes. */
export const STREAM_LABEL = /^[a-z][a-z0-9-]{0,39}$/;

export function assertStreamLabel(label: string): void {
  if (!STREAM_LABEL.test(label))
    throw new LifeboatError('BAD_INPUT', `--kind ${JSON.stringify(label)} is not a usable label.`, {
      hint: 'Use lower-case letters, digits and dashes, starting with a letter, at most 40 (e.g. docker-image, mongodb-archive, es-snapshot, redis-rdb).',
    });
}

/** The argv to run: the line split (no shell), or /bin/sh -c line (--shell). */
export function commandArgv(line: string, shell: boolean): { path: string; args: string[]; recorded: string[] } {
  if (shell) {
    if (line.trim() === '') throw new LifeboatError('BAD_INPUT', 'The command line is empty.');
    return { path: '/bin/sh', args: ['-c', line], recorded: ['/bin/sh', '-c', line] };
  }
  const argv = splitCommandLine(line);
  return { path: argv[0]!, args: argv.slice(1), recorded: argv };
}

/** The artifact of a stream set (`lifeboat backup cmd`), and its role. */
export const STREAM_ARTIFACT = 'stream';
export const STREAM_ROLE = 'stream';
/** How much of a command's stderr is kept (its tail), for the manifest, reports and errors. */
export const STDERR_TAIL_BYTES = 4096;

/** The command's argv (or its --shell line), checked: no secret in it, since it is recorded. */
export function streamCommand(line: string, shell: boolean, flag: string): ReturnType<typeof commandArgv> {
  // The line as written first: a parse error below quotes the line, which must hold no secret.
  assertNoSecret([line], flag);
  const c = commandArgv(line, shell);
  assertNoSecret(shell ? [line] : c.recorded, flag);
  return c;
}
