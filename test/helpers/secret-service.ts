import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real Secret Service for keychain tests: a private D-Bus session bus and gnome-keyring
 * unlocked with a throwaway password (it must be non-empty, or no login collection exists).
 * It sets DBUS_SESSION_BUS_ADDRESS in this process, so call it before the first keytar use
 * (vitest runs each file in its own forked process).
 */
export interface SecretService {
  address: string;
  stop(): Promise<void>;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, encoding: 'utf8', timeout: 5000 }, (_e, stdout) => resolve(stdout));
  });
}

export async function startSecretService(): Promise<SecretService> {
  const home = mkdtempSync(join(tmpdir(), 'lifeboat-keyring-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    XDG_DATA_HOME: join(home, 'data'),
    XDG_RUNTIME_DIR: home,
    HOME: home,
  };
  const children: ChildProcess[] = [];

  const bus = spawn('dbus-daemon', ['--session', '--nofork', '--print-address=1'], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(bus);
  const address = await new Promise<string>((resolve, reject) => {
    let out = '';
    bus.once('error', reject);
    bus.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) resolve(line.trim());
    });
    setTimeout(() => reject(new Error('dbus-daemon did not start (is the dbus package installed?)')), 5000).unref();
  });
  env.DBUS_SESSION_BUS_ADDRESS = address;

  const keyring = spawn('gnome-keyring-daemon', ['--foreground', '--unlock', '--components=secrets'], {
    env,
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  children.push(keyring);
  keyring.stdin?.end('lifeboat-test-keyring');

  const deadline = Date.now() + 10_000;
  for (;;) {
    const reply = await run(
      'dbus-send',
      [
        '--session',
        '--print-reply',
        '--dest=org.freedesktop.DBus',
        '/org/freedesktop/DBus',
        'org.freedesktop.DBus.NameHasOwner',
        'string:org.freedesktop.secrets',
      ],
      env,
    );
    if (reply.includes('boolean true')) break;
    if (Date.now() > deadline)
      throw new Error('gnome-keyring did not register org.freedesktop.secrets (is gnome-keyring installed?)');
    await new Promise((r) => setTimeout(r, 100));
  }

  process.env.DBUS_SESSION_BUS_ADDRESS = address;
  return {
    address,
    stop: async () => {
      for (const c of children.reverse()) c.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 100));
      rmSync(home, { recursive: true, force: true });
    },
  };
}
