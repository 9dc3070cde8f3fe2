import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { spawnTool } from '../../electron/engine/process/child';

describe.skipIf(process.platform === 'win32')("a tool's watchdog", () => {
  it("does not inherit this process's environment (a password in MYSQL_PWD stays out of it)", async () => {
    const canary = `watchdog-canary-${process.pid}`;
    process.env.MYSQL_PWD = canary;
    try {
      const t = spawnTool('/bin/sleep', ['3'], { what: 'sleep', env: { PATH: '/usr/bin:/bin' } });
      const pgid = String(t.child.pid);
      let dogs: string[] = [];
      for (let i = 0; i < 50 && dogs.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
        dogs = readdirSync('/proc').filter((p) => {
          try {
            const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
            return cmd.includes('lifeboat-watchdog') && cmd.includes(pgid);
          } catch {
            return false;
          }
        });
      }
      expect(dogs.length).toBe(1);
      expect(readFileSync(`/proc/${dogs[0]}/environ`, 'utf8')).not.toContain(canary);
      t.child.kill('SIGKILL');
      await t.exited.catch(() => undefined);
    } finally {
      delete process.env.MYSQL_PWD;
    }
  });
});
