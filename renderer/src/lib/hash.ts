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
