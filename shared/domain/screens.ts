/** The screens of the console, in navigation order (the renderer and the e2e tests share it). */
export const SCREENS = [
  { id: 'overview', label: 'Overview' },
  { id: 'media', label: 'Media' },
  { id: 'catalog', label: 'Catalog' },
  { id: 'verify', label: 'Verify' },
  { id: 'pitr', label: 'PITR planner' },
  { id: 'runbooks', label: 'Runbooks' },
  { id: 'credentials', label: 'Credentials' },
  { id: 'reports', label: 'Reports' },
  { id: 'settings', label: 'Settings' },
] as const;

export type ScreenId = (typeof SCREENS)[number]['id'];

export function screenFromHash(hash: string): ScreenId {
  const id = new URLSearchParams(hash.slice(1)).get('screen');
  return SCREENS.some((s) => s.id === id) ? (id as ScreenId) : 'overview';
}
