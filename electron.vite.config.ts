import { resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'electron-vite';
import type { Plugin } from 'vite';
import pkg from './package.json';
import { CSP_META } from './shared/csp';

const define = { __LIFEBOAT_VERSION__: JSON.stringify(pkg.version) };

// Dependencies stay external (native modules must be) except the ESM-only ones, which are
// bundled so the CommonJS output loads them under both Node 20 and Electron.
const bundled: string[] = [];

/** Writes the one CSP (shared/csp.ts) into the page's head: file:// pages get no headers, so this tag is the policy of the packaged app. */
function cspMeta(): Plugin {
  return {
    name: 'lifeboat-csp-meta',
    transformIndexHtml: () => [
      { tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: CSP_META }, injectTo: 'head-prepend' },
    ],
  };
}

export default defineConfig({
  main: {
    define,
    build: {
      outDir: 'out/main',
      externalizeDeps: { exclude: bundled },
      rollupOptions: {
        // The demo's S3 server is a dev dependency: loaded from node_modules when present, never bundled.
        external: ['s3rver'],
        input: {
          index: resolve(__dirname, 'electron/main/index.ts'),
          cli: resolve(__dirname, 'electron/cli/index.ts'),
          // Development/test only; electron-builder.yml leaves it out of the package.
          bridge: resolve(__dirname, 'electron/bridge/main.ts'),
          // Worker threads, each its own file (electron/engine/process/worker-script.ts finds them).
          'encoder-worker': resolve(__dirname, 'electron/engine/pipeline/encoder-worker.ts'),
          'decoder-worker': resolve(__dirname, 'electron/engine/pipeline/decoder-worker.ts'),
          'hash-worker': resolve(__dirname, 'electron/engine/verify/hash-worker.ts'),
          'wal-encode-worker': resolve(__dirname, 'electron/engine/pitr/wal-encode-worker.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      rollupOptions: { input: { index: resolve(__dirname, 'electron/preload/index.ts') } },
    },
  },
  renderer: {
    root: resolve(__dirname, 'renderer'),
    plugins: [cspMeta(), react()],
    build: {
      outDir: resolve(__dirname, 'out/renderer'),
      rollupOptions: { input: { index: resolve(__dirname, 'renderer/index.html') } },
    },
  },
});
