/**
 * Copyable command lines: each argument quoted for a POSIX shell only when it needs it, so what the operator pastes
 * runs as shown (`--input 'site=DR site'`, not `--input site=DR site`, which the shell splits in two).
 */

/** Characters a POSIX shell never treats specially in a word. */
const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;
/** A placeholder the operator replaces before running (`<key file>`): shown as is, never quoted. */
const PLACEHOLDER = /^<[^<>'\n]+>$/;

/** One argument for a POSIX shell: as is when safe, else in single quotes (a quote inside becomes '\''). */
export function shellQuote(arg: string): string {
  return PLACEHOLDER.test(arg) ? arg : shellWord(arg);
}

/** One word for a POSIX shell, whatever it holds (no placeholders: for commands Lifeboat itself runs or prints). */
export function shellWord(arg: string): string {
  if (arg === '') return "''";
  if (SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** A command line from its arguments, each quoted as needed (see shellQuote). */
export function shellLine(args: readonly string[]): string {
  return args.map(shellQuote).join(' ');
}
