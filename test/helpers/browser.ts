import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startBridge, type Bridge } from '../../electron/bridge/server';
import { createHandlers } from '../../electron/engine/api/handlers';
import type { Engine } from '../../electron/engine/engine';

export const RESULTS_DIR = resolve(__dirname, '../../test-results');
export const RENDERER_DIR = resolve(__dirname, '../../out/renderer');

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];

export interface BrowserSession {
  browser: Browser;
  page: Page;
  bridge: Bridge;
  /** Every WebSocket frame the bridge sent or received. */
  traffic: Array<{ direction: 'in' | 'out'; frame: string }>;
  /** Console errors and failed requests seen by the page. */
  problems: string[];
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * Debian's Chromium (through playwright-core, never a downloaded browser) showing the built
 * renderer over the web bridge, backed by the given engine.
 */
export async function openAppInBrowser(engine: Engine): Promise<BrowserSession> {
  const traffic: BrowserSession['traffic'] = [];
  const bridge = await startBridge({
    engine,
    handlers: createHandlers(engine),
    rendererDir: RENDERER_DIR,
    onTraffic: (direction, frame) => traffic.push({ direction, frame }),
  });
  const browser = await chromium.launch({
    executablePath: process.env.LIFEBOAT_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 820 } });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`requestfailed: ${r.url()}`));
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (url.hostname !== '127.0.0.1') problems.push(`remote request: ${r.url()}`);
  });
  await page.goto(bridge.openUrl);
  mkdirSync(RESULTS_DIR, { recursive: true });
  return {
    browser,
    page,
    bridge,
    traffic,
    problems,
    screenshot: async (name) => {
      const path = join(RESULTS_DIR, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    close: async () => {
      await browser.close();
      await bridge.close();
    },
  };
}
