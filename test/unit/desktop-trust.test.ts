import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CSP, CSP_META } from '../../shared/csp';
import { isTrustedFrameAt, isTrustedUrl, mayNavigate, rendererEntry } from '../../electron/main/trust';

// The real trust rules of the desktop window (electron/main/trust.ts), over hand-made URLs.
const FILE = join('/opt', 'Lifeboat', 'resources', 'app.asar', 'out', 'renderer', 'index.html');
const OWN = pathToFileURL(FILE).href;

describe('renderer entry', () => {
  it('honours ELECTRON_RENDERER_URL only when the app is not packaged', () => {
    const env = { ELECTRON_RENDERER_URL: 'http://localhost:5173/' };
    expect(rendererEntry({ packaged: false, env, rendererFile: FILE }).devUrl).toBe('http://localhost:5173/');
    const packaged = rendererEntry({ packaged: true, env, rendererFile: FILE });
    expect(packaged.devUrl).toBeNull();
    // Packaged: a page on that "dev server" is not ours, even though the variable names it.
    expect(isTrustedUrl(packaged, 'http://localhost:5173/')).toBe(false);
    expect(isTrustedUrl(packaged, OWN)).toBe(true);
  });

  it('ignores a dev-server URL that is not http(s)', () => {
    for (const url of ['file:///etc/passwd', 'data:text/html,<p>x</p>', 'javascript:alert(1)', 'not a url']) {
      expect(
        rendererEntry({ packaged: false, env: { ELECTRON_RENDERER_URL: url }, rendererFile: FILE }).devUrl,
      ).toBeNull();
    }
  });
});

describe('trusted URLs and frames', () => {
  const dev = rendererEntry({
    packaged: false,
    env: { ELECTRON_RENDERER_URL: 'http://localhost:5173' },
    rendererFile: FILE,
  });
  const built = rendererEntry({ packaged: true, env: {}, rendererFile: FILE });

  it('compares the dev server by origin, not by prefix', () => {
    expect(isTrustedUrl(dev, 'http://localhost:5173/#/sets')).toBe(true);
    expect(isTrustedUrl(dev, 'http://localhost:5173/src/main.tsx?x=1')).toBe(true);
    // Prefix look-alikes that a startsWith check let through.
    expect(isTrustedUrl(dev, 'http://localhost:51730/')).toBe(false);
    expect(isTrustedUrl(dev, 'http://localhost:5173.evil.example/')).toBe(false);
    expect(isTrustedUrl(dev, 'http://localhost:5173@evil.example/')).toBe(false);
    expect(isTrustedUrl(dev, 'https://localhost:5173/')).toBe(false);
    expect(isTrustedUrl(dev, 'http://127.0.0.1:5173/')).toBe(false);
    expect(isTrustedUrl(dev, 'ws://localhost:5173/')).toBe(false);
    expect(isTrustedUrl(dev, OWN)).toBe(false);
  });

  it('trusts the built page by its exact file path only', () => {
    expect(isTrustedUrl(built, OWN)).toBe(true);
    expect(isTrustedUrl(built, `${OWN}#/runs/01ABC`)).toBe(true);
    expect(isTrustedUrl(built, `${OWN}?tab=1`)).toBe(true);
    expect(isTrustedUrl(built, OWN.replace('index.html', 'other.html'))).toBe(false);
    expect(isTrustedUrl(built, `${OWN}.evil.html`)).toBe(false);
    expect(isTrustedUrl(built, pathToFileURL('/tmp/index.html').href)).toBe(false);
    expect(isTrustedUrl(built, OWN.replace('file:///', 'file://evil.example/'))).toBe(false);
    expect(isTrustedUrl(built, 'http://localhost:5173/')).toBe(false);
    expect(isTrustedUrl(built, 'about:blank')).toBe(false);
    expect(isTrustedUrl(built, '')).toBe(false);
  });

  it('trusts main frames only, and the navigation guard follows the same rule', () => {
    expect(isTrustedFrameAt(built, { url: OWN, parent: null })).toBe(true);
    expect(isTrustedFrameAt(built, { url: OWN, parent: { url: OWN } })).toBe(false);
    expect(isTrustedFrameAt(built, null)).toBe(false);
    expect(isTrustedFrameAt(dev, { url: 'http://localhost:5173/', parent: null })).toBe(true);
    expect(isTrustedFrameAt(dev, { url: 'http://localhost:5174/', parent: null })).toBe(false);
    expect(mayNavigate(built, `${OWN}#/settings`)).toBe(true);
    expect(mayNavigate(built, 'https://example.com/')).toBe(false);
    expect(mayNavigate(dev, 'http://localhost:5173/#/x')).toBe(true);
    expect(mayNavigate(dev, 'http://localhost:51730/')).toBe(false);
  });
});

describe('one CSP', () => {
  it('is strict, and the meta form differs only by frame-ancestors', () => {
    expect(CSP).toContain("script-src 'self'");
    expect(CSP).toContain("object-src 'none'");
    expect(CSP).not.toMatch(/unsafe-eval|\*/);
    expect(CSP).toContain("frame-ancestors 'none'");
    expect(CSP_META).not.toContain('frame-ancestors');
    expect(`${CSP_META}; frame-ancestors 'none'`).toBe(CSP);
  });
});
