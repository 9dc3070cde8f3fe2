import { useEffect, useState } from 'react';

/** The window's location hash holds the screen and its state (`screen=runbooks&run=…`), next to the bridge token. */
export function hashParam(name: string): string | null {
  return new URLSearchParams(location.hash.slice(1)).get(name);
}

export function setHashParams(values: Record<string, string | null>): void {
  const params = new URLSearchParams(location.hash.slice(1));
  for (const [k, v] of Object.entries(values)) {
    if (v === null) params.delete(k);
    else params.set(k, v);
  }
  location.hash = params.toString();
}

/** A hash parameter as state, following the window's hash as it changes. */
export function useHashParam(name: string): string | null {
  const [value, setValue] = useState<string | null>(() => hashParam(name));
  useEffect(() => {
    const onHash = (): void => setValue(hashParam(name));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, [name]);
  return value;
}

/** Save text as a file from the window (exports of reports and results). */
export function downloadText(name: string, type: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  URL.revokeObjectURL(url);
}
