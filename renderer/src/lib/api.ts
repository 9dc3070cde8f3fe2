import type { LifeboatApi } from '../../../shared/ipc/api';
import { createBridgeApi } from './bridge-client';

declare global {
  interface Window {
    lifeboat?: LifeboatApi;
  }
}

let cached: LifeboatApi | null = null;

/** The engine API: the preload's in the app, the web bridge's in a browser. */
export function getApi(): LifeboatApi {
  if (cached) return cached;
  if (window.lifeboat) {
    cached = window.lifeboat;
    return cached;
  }
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  if (!token) throw new Error('No engine: open Lifeboat from the app, or from the URL the web bridge printed.');
  cached = createBridgeApi(token);
  return cached;
}
