import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LifeboatError } from '../engine/errors';
import { resolveDataDir } from '../engine/settings/paths';

/** The value of `--name VALUE` or `--name=VALUE`, or null. */
export function argValue(argv: readonly string[], name: string): string | null {
  const i = argv.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return null;
  return argv[i]!.includes('=') ? argv[i]!.slice(name.length + 1) : (argv[i + 1] ?? null);
}

/** --demo-dir wins (its data dir is DIR/home, as the desktop app reads it); else LIFEBOAT_HOME or the OS data dir. */
export function bridgeDataDir(argv: readonly string[]): string {
  const demo = argValue(argv, '--demo-dir');
  if (demo === null) return resolveDataDir();
  if (!demo) throw new LifeboatError('BAD_INPUT', '--demo-dir needs a folder.');
  const home = join(resolve(demo), 'home');
  if (!existsSync(home))
    throw new LifeboatError(
      'NOT_FOUND',
      `${demo} holds no demo data (no home folder): run \`npx lifeboat demo --keep --dir ${demo}\` first.`,
    );
  return home;
}
