import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scramVerifier } from '../../electron/engine/postgres/restore-role';
import { query, startPostgres, type ScratchCluster } from '../helpers/postgres';

// The restore role's one-time password reaches the server only as a SCRAM verifier (a server
// logging statements must not log a password): the verifier must be exactly PostgreSQL's own.

let pg: ScratchCluster;

beforeAll(async () => {
  pg = await startPostgres();
}, 120_000);
afterAll(async () => {
  await pg?.destroy();
});

describe('scramVerifier', () => {
  it('matches what PostgreSQL stores for the same password, salt and iterations', async () => {
    await query(
      pg.url(),
      "SET password_encryption = 'scram-sha-256'; CREATE ROLE scram_probe LOGIN PASSWORD 'pencil-Ünïcode'",
    );
    const [row] = await query(pg.url(), "SELECT rolpassword FROM pg_authid WHERE rolname = 'scram_probe'");
    const stored = String((row as { rolpassword: string }).rolpassword);
    const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(stored)!;
    expect(m).not.toBeNull();
    expect(scramVerifier('pencil-Ünïcode', Buffer.from(m[2]!, 'base64'), Number(m[1]))).toBe(stored);
    expect(scramVerifier('pencil', Buffer.from(m[2]!, 'base64'), Number(m[1]))).not.toBe(stored);
  });

  it('is stored as given by ALTER ROLE … PASSWORD (the password itself never sent)', async () => {
    const v = scramVerifier('one-time');
    await query(pg.url(), `CREATE ROLE scram_given LOGIN PASSWORD '${v}'`);
    const [row] = await query(pg.url(), "SELECT rolpassword FROM pg_authid WHERE rolname = 'scram_given'");
    expect((row as { rolpassword: string }).rolpassword).toBe(v);
  });
});
