// A software TPM for one test file: swtpm (the TPM), a D-Bus session bus of its own, tpm2-abrmd
// (the resource manager tpm2-pkcs11 must go through) and a tpm2-pkcs11 token made with
// tpm2_ptool. Everything listens on loopback or in the file's own directory and stops with it.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const TPM2_PKCS11_MODULE = '/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so';
const run = promisify(execFile);
/** Every step of the set-up is bounded: a missing package fails the test, never hangs it. */
const STEP_TIMEOUT_MS = 15_000;

export interface SoftwareTpm {
  label: string;
  pin: string;
  /** Stop the TPM and its resource manager, keeping the TPM's state (a token "removed"). */
  stop(): Promise<void>;
  /** Start them again on the same state (the token "back"). */
  start(): Promise<void>;
  remove(): Promise<void>;
}

/** Two free loopback ports in a row: the swtpm TCTI finds the control channel at port + 1. */
async function freePortPair(): Promise<number> {
  const bind = (port: number) =>
    new Promise<Server | undefined>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(undefined));
      server.listen(port, '127.0.0.1', () => resolve(server));
    });
  for (let attempt = 0; attempt < 20; attempt++) {
    const first = (await bind(0)) as Server;
    const port = (first.address() as { port: number }).port;
    const second = await bind(port + 1);
    await Promise.all(
      [first, second].map((server) => new Promise((resolve) => (server === undefined ? resolve(undefined) : server.close(resolve)))),
    );
    if (second !== undefined) return port;
  }
  throw new Error('no two free loopback ports in a row');
}

/**
 * Start a software TPM with a tpm2-pkcs11 token `label` (user PIN `pin`). Sets, for this process,
 * the environment tpm2-pkcs11 reads: its TCTI (tabrmd on this file's session bus) and its store.
 */
export async function startSoftwareTpm(label = 'certbound-tpm', pin = '1234'): Promise<SoftwareTpm> {
  const dir = await mkdtemp(join(tmpdir(), 'certbound-tpm-'));
  const port = await freePortPair();
  const ctrlPort = port + 1;
  const bus = await run('dbus-daemon', ['--session', '--fork', '--print-address=1', '--print-pid=1'], { timeout: STEP_TIMEOUT_MS });
  const [address, busPid] = bus.stdout.trim().split('\n') as [string, string];
  process.env.DBUS_SESSION_BUS_ADDRESS = address;
  process.env.TPM2_PKCS11_TCTI = 'tabrmd:bus_type=session';
  process.env.TPM2TOOLS_TCTI = 'tabrmd:bus_type=session';
  process.env.TPM2_PKCS11_STORE = join(dir, 'store');
  let abrmd: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    // With --daemon, swtpm returns once it listens.
    await run(
      'swtpm',
      [
        'socket',
        ...['--tpmstate', `dir=${dir}`, '--tpm2', '--flags', 'not-need-init,startup-clear', '--daemon'],
        ...['--server', `type=tcp,port=${port},bindaddr=127.0.0.1`, '--ctrl', `type=tcp,port=${ctrlPort},bindaddr=127.0.0.1`],
      ],
      { timeout: STEP_TIMEOUT_MS },
    );
    abrmd = spawn('tpm2-abrmd', ['--session', '--allow-root', `--tcti=swtpm:host=127.0.0.1,port=${port}`], {
      stdio: process.env.CERTBOUND_TPM_DEBUG === undefined ? 'ignore' : 'inherit',
    });
    // Ready when it owns its name on the bus: gdbus wait returns on that event.
    await run('gdbus', ['wait', '--session', '--timeout', '15', 'com.intel.tss2.Tabrmd'], { timeout: STEP_TIMEOUT_MS });
  };
  const exit = (child: ChildProcess | undefined): Promise<unknown> => {
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    return exited;
  };
  const stop = async (): Promise<void> => {
    await exit(abrmd);
    // The control channel's shutdown answers once the TPM has saved its state and stops.
    await run('swtpm_ioctl', ['--tcp', `127.0.0.1:${ctrlPort}`, '-s'], { timeout: STEP_TIMEOUT_MS }).catch(() => undefined);
  };

  await start();
  const ptool = (args: string[]) => run('tpm2_ptool', [...args, `--path=${join(dir, 'store')}`], { timeout: STEP_TIMEOUT_MS });
  await mkdir(join(dir, 'store'));
  await ptool(['init']);
  await ptool(['addtoken', '--pid=1', '--sopin=sopin-not-used', `--userpin=${pin}`, `--label=${label}`]);
  return {
    label,
    pin,
    stop,
    start,
    async remove() {
      await stop();
      try {
        process.kill(Number(busPid), 'SIGTERM');
      } catch {
        // already gone
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
