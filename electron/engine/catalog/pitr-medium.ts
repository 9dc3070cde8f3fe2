import type { Medium } from '../storage/medium';
import { openMedium, type MediumOpener } from '../storage/open-medium';
import type { Catalog } from './catalog';

/** A reachable medium holding base backups of the system (the WAL archive lives beside them). */
export async function pitrMedium(
  catalog: Catalog,
  system: string,
  location: string | undefined,
  open: MediumOpener = openMedium,
): Promise<Medium | null> {
  const locations = location
    ? [location]
    : (catalog
        .stmt(
          `SELECT DISTINCT m.location FROM presence p JOIN sets s ON s.key = p.set_key JOIN media m ON m.id = p.medium_id WHERE s.system = ? AND s.kind = 'pg-base' AND p.missing_since IS NULL ORDER BY m.last_seen DESC`,
        )
        .pluck()
        .all(system) as string[]);
  for (const loc of locations) {
    try {
      const m = await open(loc);
      await m.readInfo();
      return m;
    } catch {
      continue;
    }
  }
  return null;
}
