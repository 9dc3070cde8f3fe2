import pg from 'pg';
import { ScratchCluster } from '../../electron/engine/postgres/scratch-cluster';

export { ScratchCluster };

/** Start a private PostgreSQL for a test file; always pair with `destroy()` in afterAll. */
export async function startPostgres(settings: Record<string, string> = {}): Promise<ScratchCluster> {
  return ScratchCluster.start({ settings });
}

/** Run SQL on a cluster and return the rows. */
export async function query<T extends Record<string, unknown> = Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query<T>(sql, params);
    return r.rows;
  } finally {
    await client.end();
  }
}
