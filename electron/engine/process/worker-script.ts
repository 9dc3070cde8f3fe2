import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Where a worker thread's code is, and the Node options it needs to load it. */
export interface WorkerScript {
  filename: string;
  execArgv: string[];
}

/**
 * The file of a worker thread written in TypeScript beside its user (`<name>.ts`). The build
 * (electron.vite.config.ts) emits each one as its own entry, out/main/<name>.js, so the app and
 * the CLI load that; the code calling this then runs from out/main or out/main/chunks. The
 * tests run the TypeScript sources, where no .js exists: the .ts is loaded through jiti's
 * module hook (a dev dependency, never reached from a build).
 *
 * `dir` is the caller's __dirname.
 */
export function workerScript(dir: string, name: string): WorkerScript {
  for (const candidate of [join(dir, `${name}.js`), join(dir, '..', `${name}.js`)]) {
    if (existsSync(candidate)) return { filename: candidate, execArgv: [] };
  }
  const source = join(dir, `${name}.ts`);
  if (!existsSync(source))
    throw new Error(`The worker ${name} is neither built (${name}.js) nor a source beside ${dir}.`);
  return { filename: source, execArgv: ['--import', tsLoader()] };
}

/** jiti's ESM hook as a file URL (its "./register" export has no require condition). */
function tsLoader(): string {
  return pathToFileURL(join(dirname(require.resolve('jiti/package.json')), 'lib', 'jiti-register.mjs')).href;
}
