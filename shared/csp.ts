/**
 * The one Content Security Policy of Lifeboat's window: nothing remote, no inline scripts, no
 * eval. The renderer bundles its fonts and icons, so 'self' is enough. It reaches the page two
 * ways, both from this list: the `<meta>` tag written into renderer/index.html at build time
 * (file:// pages get no response headers, so the meta tag is what guards the packaged app), and
 * the response header the main process adds for the dev server and the web bridge.
 */
const DIRECTIVES: ReadonlyArray<readonly [string, string]> = [
  ['default-src', "'self'"],
  ['script-src', "'self'"],
  ['style-src', "'self' 'unsafe-inline'"],
  ['img-src', "'self' data:"],
  ['font-src', "'self'"],
  ['connect-src', "'self'"],
  ['object-src', "'none'"],
  ['base-uri', "'none'"],
  ['form-action', "'none'"],
  ['frame-ancestors', "'none'"],
];

/** The policy as a response header. */
export const CSP = DIRECTIVES.map(([k, v]) => `${k} ${v}`).join('; ');

/** The same policy for a `<meta>` tag: browsers ignore frame-ancestors there (and warn), so it is left out. */
export const CSP_META = DIRECTIVES.filter(([k]) => k !== 'frame-ancestors')
  .map(([k, v]) => `${k} ${v}`)
  .join('; ');
