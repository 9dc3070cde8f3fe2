import { query } from './postgres';

/**
 * A small but realistic database: customers, orders and uploads metadata with text, numbers,
 * timestamps and jsonb, random enough to compress like real data (not pgbench's blanks).
 */
export async function loadSampleData(url: string, scale = 1): Promise<void> {
  const customers = 2000 * scale;
  const orders = 10000 * scale;
  await query(
    url,
    `
    CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL, email text NOT NULL, country text, created_at timestamptz NOT NULL, profile jsonb);
    CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers(id), total numeric(12,2) NOT NULL, status text NOT NULL, placed_at timestamptz NOT NULL, lines jsonb NOT NULL);
    CREATE TABLE uploads (id bigint PRIMARY KEY, order_id bigint REFERENCES orders(id), path text NOT NULL, bytes bigint NOT NULL, sha256 text NOT NULL, uploaded_at timestamptz NOT NULL);
    CREATE INDEX orders_customer ON orders(customer_id);
    INSERT INTO customers
      SELECT g, 'Customer ' || md5(g::text), substr(md5(random()::text), 1, 10) || '@example.com',
             (ARRAY['FR','DE','US','JP','BR','IN','NG'])[1 + (g % 7)],
             now() - (g || ' minutes')::interval,
             jsonb_build_object('tier', g % 3, 'tags', jsonb_build_array(md5(g::text), random()))
      FROM generate_series(1, ${customers}) g;
    INSERT INTO orders
      SELECT g, 1 + (g % ${customers}), round((random() * 1000)::numeric, 2),
             (ARRAY['new','paid','shipped','returned'])[1 + (g % 4)],
             now() - (g || ' seconds')::interval,
             jsonb_build_array(jsonb_build_object('sku', substr(md5(random()::text), 1, 8), 'qty', 1 + g % 5, 'note', md5(random()::text)))
      FROM generate_series(1, ${orders}) g;
    INSERT INTO uploads
      SELECT g, 1 + (g % ${orders}), '/uploads/' || md5(g::text) || '.pdf', (random() * 1e7)::bigint, md5(random()::text) || md5(random()::text), now() - (g || ' seconds')::interval
      FROM generate_series(1, ${orders / 2}) g;
    `,
  );
}

/** Row counts and an md5 of each table's ordered contents: equal means the same data. */
export async function fingerprint(url: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of ['customers', 'orders', 'uploads']) {
    const [row] = await query<{ n: string; h: string }>(url, `SELECT count(*)::text AS n, md5(string_agg(t::text, '|' ORDER BY id)) AS h FROM ${table} t`);
    out[table] = `${row!.n}:${row!.h}`;
  }
  return out;
}
