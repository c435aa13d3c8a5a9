// A real Caddy (Debian's caddy 2.6) for the gateway tests: a Caddyfile in a temporary directory,
// `caddy run` in the foreground as a child of the test, ready when it logs that it serves the
// configuration. Its data and config folders are the temporary directory too. Not a test file.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningProxy } from './gateway.js';
import { freePort } from './ports.js';

export const CADDY = process.env.CERTBOUND_TEST_CADDY ?? '/usr/bin/caddy';
const READY_TIMEOUT_MS = 15_000;

export const caddyInstalled = (): boolean => existsSync(CADDY);

/** Start Caddy with the Caddyfile `configFor(port)` gives, listening on 127.0.0.1:port. */
export async function startCaddy(configFor: (port: number) => string): Promise<RunningProxy> {
  const dir = await mkdtemp(join(tmpdir(), 'certbound-caddy-'));
  const port = await freePort();
  const file = join(dir, 'Caddyfile');
  await writeFile(file, configFor(port));
  const env = { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') };
  const child = spawn(CADDY, ['run', '--config', file, '--adapter', 'caddyfile'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`caddy did not serve within ${READY_TIMEOUT_MS} ms:\n${log}`)), READY_TIMEOUT_MS);
    const onData = (chunk: string): void => {
      log += chunk;
      if (log.includes('serving initial configuration')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`caddy exited with code ${code}:\n${log}`));
    });
  });
  try {
    await ready;
  } catch (error) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `https://127.0.0.1:${port}`,
    log: () => log,
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
