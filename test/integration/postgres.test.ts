import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, startPostgres, type ScratchCluster } from '../helpers/postgres';
import { existsSync } from 'node:fs';

let pg: ScratchCluster;
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(async () => {
  const dir = pg.dir;
  await pg.destroy();
  expect(existsSync(dir)).toBe(false);
});

describe('private PostgreSQL cluster', () => {
  it('listens on loopback on its own port and round-trips a table', async () => {
    await query(pg.url(), 'CREATE TABLE parcels (id int PRIMARY KEY, label text, payload jsonb, at timestamptz)');
    await query(pg.url(), "INSERT INTO parcels SELECT g, 'parcel ' || g, jsonb_build_object('n', g), now() FROM generate_series(1, 1000) g");
    const [row] = await query<{ n: string; s: string }>(pg.url(), "SELECT count(*) AS n, sum((payload->>'n')::int) AS s FROM parcels");
    expect(row).toEqual({ n: '1000', s: String((1000 * 1001) / 2) });
    const [version] = await query<{ server_version: string }>(pg.url(), 'SHOW server_version');
    expect(version?.server_version).toMatch(/^\d+/);
  });
});
