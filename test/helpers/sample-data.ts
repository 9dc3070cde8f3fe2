import pg from 'pg';
import { fingerprint as fingerprintWith, loadSampleData as loadWith } from '../../electron/demo/sample-data';

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The demo's sample shop database (customers, orders, uploads), at test size by default. */
export function loadSampleData(url: string, scale = 1): Promise<void> {
  return withClient(url, (c) => loadWith(c, { customers: 2000 * scale, orders: 10000 * scale }));
}

/** Row counts and an md5 of each table's ordered contents: equal means the same data. */
export function fingerprint(url: string): Promise<Record<string, string>> {
  return withClient(url, (c) => fingerprintWith(c));
}
