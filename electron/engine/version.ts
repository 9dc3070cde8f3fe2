/** The product version, injected at build time from package.json (see electron.vite.config.ts). */
declare const __LIFEBOAT_VERSION__: string | undefined;

export const LIFEBOAT_VERSION: string =
  typeof __LIFEBOAT_VERSION__ === 'string' ? __LIFEBOAT_VERSION__ : (process.env.npm_package_version ?? '0.0.0-dev');
