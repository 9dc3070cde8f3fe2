import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';

export interface SampleScale {
  customers: number;
  orders: number;
}

/**
 * A small but realistic shop database: customers, orders and uploads metadata with text,
 * numbers, timestamps and jsonb, random enough to compress like real data (about 2–3×), not
 * pgbench's blank padding.
 */
export async function loadSampleData(
  client: pg.Client,
  scale: SampleScale = { customers: 2000, orders: 10000 },
): Promise<void> {
  const { customers, orders } = scale;
  await client.query(`
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
      FROM generate_series(1, ${Math.floor(orders / 2)}) g;
  `);
}

/** Row counts and an md5 of each table's ordered contents: equal means the same data. */
export async function fingerprint(client: pg.Client): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of ['customers', 'orders', 'uploads']) {
    const r = await client.query<{ n: string; h: string }>(
      `SELECT count(*)::text AS n, md5(string_agg(t::text, '|' ORDER BY id)) AS h FROM ${table} t`,
    );
    out[table] = `${r.rows[0]!.n}:${r.rows[0]!.h}`;
  }
  return out;
}

/** Deterministic pseudo-random bytes (SHA-256 in counter mode): reproducible sample files. */
function bytesFor(seed: string, n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  for (let i = 0, off = 0; off < n; i++) {
    const block = createHash('sha256').update(`${seed}:${i}`).digest();
    off += block.copy(out, off);
  }
  return out;
}

/** An uploads folder (invoices, photos, text) and a config folder (with a secret, so it is encrypted). */
export function writeSampleFiles(
  root: string,
  files = 240,
): { files: string; config: string; count: number; bytes: number } {
  const filesDir = join(root, 'uploads');
  const configDir = join(root, 'app-config');
  let bytes = 0;
  for (let i = 0; i < files; i++) {
    const month = String(1 + (i % 11)).padStart(2, '0');
    const dir = join(filesDir, '2026', month);
    mkdirSync(dir, { recursive: true });
    const kind = i % 3;
    const name = kind === 0 ? `invoice-${1000 + i}.pdf` : kind === 1 ? `photo-${i}.jpg` : `note-${i}.txt`;
    const body =
      kind === 2
        ? Buffer.from(
            `Order note ${i}\n${'Delivered to the loading dock; signed by the customer.\n'.repeat(20 + (i % 50))}`,
          )
        : bytesFor(name, 20_000 + ((i * 7919) % 120_000));
    writeFileSync(join(dir, name), body);
    bytes += body.length;
  }
  mkdirSync(configDir, { recursive: true });
  writeFileSync(
    join(configDir, 'app.conf'),
    'listen = 0.0.0.0:8080\nworkers = 4\ndatabase = postgres://app@db1/shop\n',
  );
  writeFileSync(join(configDir, 'secrets.env'), `STRIPE_KEY=sk_demo_${bytesFor('k', 12).toString('hex')}\n`, {
    mode: 0o600,
  });
  writeFileSync(
    join(configDir, 'nginx.conf'),
    'server {\n  listen 80;\n  location / { proxy_pass http://127.0.0.1:8080; }\n}\n',
  );
  return { files: filesDir, config: configDir, count: files, bytes };
}
