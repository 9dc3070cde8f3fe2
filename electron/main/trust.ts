import { pathToFileURL } from 'node:url';

/**
 * Which pages are Lifeboat's own window, decided over URLs only (no Electron import) so the
 * rules are tested under Node exactly as the main process runs them.
 */
export interface RendererEntry {
  /** The electron-vite dev server, only in an unpackaged run. */
  devUrl: string | null;
  /** The built renderer page. */
  file: string;
}

/**
 * The dev-server URL is honoured only when the app is not packaged: in a package, a launch with
 * ELECTRON_RENDERER_URL set would otherwise load any page and hand it the whole API. Only http(s)
 * URLs count (a file:// or data: "dev server" has no origin to compare).
 */
export function rendererEntry(facts: {
  packaged: boolean;
  env: Record<string, string | undefined>;
  rendererFile: string;
}): RendererEntry {
  const raw = facts.packaged ? undefined : facts.env.ELECTRON_RENDERER_URL;
  let devUrl: string | null = null;
  if (raw) {
    try {
      const u = new URL(raw);
      if (u.protocol === 'http:' || u.protocol === 'https:') devUrl = u.href;
    } catch {
      devUrl = null;
    }
  }
  return { devUrl, file: facts.rendererFile };
}

/**
 * True when `url` is our renderer: the dev server's origin (scheme, host and port all equal), or
 * the built page's exact file path (its query and fragment are the page's own state). Anything
 * else (another file, another port, a look-alike host) is not.
 */
export function isTrustedUrl(entry: RendererEntry, url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (entry.devUrl)
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === new URL(entry.devUrl).origin;
  const own = pathToFileURL(entry.file);
  return (
    u.protocol === 'file:' && u.host === own.host && decodeURIComponent(u.pathname) === decodeURIComponent(own.pathname)
  );
}

/** The shape of Electron's WebFrameMain this check reads. */
export interface FrameLike {
  url: string;
  parent: unknown;
}

/** True for the main frame (never a subframe) of a window showing our own renderer. */
export function isTrustedFrameAt(entry: RendererEntry, frame: FrameLike | null | undefined): boolean {
  if (!frame || frame.parent !== null) return false;
  return isTrustedUrl(entry, frame.url);
}

/** The navigation guard: a window may only navigate within our own renderer. */
export function mayNavigate(entry: RendererEntry, url: string): boolean {
  return isTrustedUrl(entry, url);
}
