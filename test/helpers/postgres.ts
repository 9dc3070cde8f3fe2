import pg from 'pg';
import { ScratchCluster } from '../../electron/engine/postgres/scratch-cluster';

export { ScratchCluster };

/** Start a private PostgreSQL for a test file; always pair with `destroy()` in afterAll. */
export async function startPostgres(settings: Record<string, string> = {}): Promise<ScratchCluster> {
  const cluster = await ScratchCluster.start({ settings });
  // The harness checks itself (what postgres.test.ts did): a loopback server that answers SQL.
  const host = new URL(cluster.url()).hostname;
  const [row] = await query<{ one: number; version: string }>(
    cluster.url(),
    'SELECT 1 AS one, current_setting($1) AS version',
    ['server_version'],
  );
  if (
    (host !== '127.0.0.1' && host !== 'localhost' && !host.startsWith('%2F') && !host.startsWith('/')) ||
    row?.one !== 1 ||
    !/^\d+/.test(row.version)
  ) {
    await cluster.destroy();
    throw new Error(`The test PostgreSQL on ${host} did not answer as expected: ${JSON.stringify(row)}`);
  }
  return cluster;
}

/** Run SQL on a cluster and return the rows. */
export async function query<T extends Record<string, unknown> = Record<string, unknown>>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query<T>(sql, params);
    return r.rows;
  } finally {
    await client.end();
  }
}
