// A real nginx in front of `certbound resource`, for test/integration/nginx.test.ts: the config
// template (the one the README shows), and starting/stopping nginx in the foreground as a child of
// the test, with every file it writes inside a temporary directory. Not a test file itself.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, watch } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's nginx (apt-get install nginx); CERTBOUND_TEST_NGINX points elsewhere. */
export const NGINX = process.env.CERTBOUND_TEST_NGINX ?? '/usr/sbin/nginx';

/** nginx has this long to open its port (and write its pid file). */
export const NGINX_READY_TIMEOUT_MS = 10_000;
/** And this long to exit after SIGTERM before it is killed. */
export const NGINX_STOP_TIMEOUT_MS = 5_000;

export function nginxInstalled(): boolean {
  return existsSync(NGINX);
}

export interface NginxProxyOptions {
  /** nginx's prefix: its pid file and every temp path go here. */
  dir: string;
  /** nginx listens on 127.0.0.1:port. */
  port: number;
  /** nginx's own server certificate and key (PEM files). */
  tlsCert: string;
  tlsKey: string;
  /** The CA client certificates must chain to. */
  clientCa: string;
  /** The `certbound resource` origin, e.g. https://127.0.0.1:8443. */
  upstream: string;
  /** A name in the resource's certificate, checked by nginx. */
  upstreamName: string;
  /** The CA the resource's certificate chains to. */
  upstreamCa: string;
}

/**
 * nginx terminating the client's mutual TLS in front of
 *   certbound resource ... --trusted-proxy <nginx's address> --client-cert-format pem-urlencoded
 * nginx verifies the client certificate against the CA and forwards it, URL-encoded
 * ($ssl_client_escaped_cert), in X-SSL-Client-Cert; the resource checks the token's cnf against it.
 */
export function nginxConfig(options: NginxProxyOptions): string {
  return nginxMainConfig(
    options.dir,
    `
  # Forward a certificate only when nginx verified it. With "optional", a client without one
  # gets NONE and an empty value, and an empty proxy_set_header value sends no header at all,
  # so the resource answers 401. (With "optional_no_ca" this map is what keeps unverified
  # certificates out.)
  map $ssl_client_verify $certbound_client_cert {
    SUCCESS $ssl_client_escaped_cert;
    default "";
  }

  server {
    listen 127.0.0.1:${options.port} ssl;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate ${options.tlsCert};
    ssl_certificate_key ${options.tlsKey};

    # Ask for a client certificate and verify it against the CA. A certificate that fails
    # verification gets nginx's own 400; none at all is left to the resource (401).
    ssl_client_certificate ${options.clientCa};
    ssl_verify_client optional;

    location / {
      proxy_pass ${options.upstream};
      # Replaces whatever X-SSL-Client-Cert the client sent (one or several, or drops it when
      # the value is empty): a client cannot forge it.
      proxy_set_header X-SSL-Client-Cert $certbound_client_cert;

      # nginx to the resource is TLS as well, with the resource's certificate verified.
      proxy_ssl_protocols TLSv1.2 TLSv1.3;
      proxy_ssl_trusted_certificate ${options.upstreamCa};
      proxy_ssl_verify on;
      proxy_ssl_name ${options.upstreamName};
      proxy_ssl_server_name on;
    }
  }
`,
  );
}

/**
 * nginx.conf for a test: one foreground process, every file it writes in `dir`, and `http` (the
 * http {} context's content: maps and server blocks).
 */
export function nginxMainConfig(dir: string, http: string): string {
  return `# Test-only process settings: one foreground process, every file in ${dir}.
daemon off;
master_process off;
pid ${join(dir, 'nginx.pid')};
error_log stderr warn;
events { worker_connections 64; }

http {
  access_log off;
  client_body_temp_path ${join(dir, 'client_body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
${http}
}
`;
}

export interface RunningNginx {
  /** https://127.0.0.1:port */
  url: string;
  /** The config nginx runs with. */
  config: string;
  /** What nginx wrote to stderr (its error log). */
  log(): string;
  /** SIGTERM, then SIGKILL after NGINX_STOP_TIMEOUT_MS; removes the temp directory. Idempotent. */
  close(): Promise<void>;
}

/** A TCP port that was free a moment ago (nginx cannot be given port 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/**
 * Start nginx in front of `upstream` and resolve once it listens (it has written its pid file).
 * The port is picked free just before; if another process takes it first, nginx exits with
 * "Address already in use" and is started again on another port (three tries).
 */
export function startNginx(options: Omit<NginxProxyOptions, 'dir' | 'port'>): Promise<RunningNginx> {
  return startNginxWith((dir, port) => nginxConfig({ ...options, dir, port }));
}

/** Start nginx with the config `configFor(dir, port)` writes; it must listen on 127.0.0.1:port ssl. */
export async function startNginxWith(configFor: (dir: string, port: number) => string): Promise<RunningNginx> {
  const dir = await mkdtemp(join(tmpdir(), 'certbound-nginx-'));
  try {
    for (let attempt = 1; ; attempt++) {
      const config = configFor(dir, await freePort());
      const file = join(dir, 'nginx.conf');
      await writeFile(file, config);
      const started = await startOnce(dir, file, config);
      if (started.ok) return started.nginx;
      if (!/Address already in use/.test(started.log) || attempt === 3)
        throw new Error(`nginx did not start: ${started.why}\n${started.log}\nconfig:\n${config}`);
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

type StartResult = { ok: true; nginx: RunningNginx } | { ok: false; why: string; log: string };

/** The pid in nginx's pid file, or undefined while there is none (or it is still being written). */
function pidIn(file: string): number | undefined {
  try {
    const text = readFileSync(file, 'utf8');
    return /^\d+\n$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Resolve once nginx has written its pid file, or with why not (it exited, or did not within
 * NGINX_READY_TIMEOUT_MS). nginx writes that file only after it has opened its listening sockets
 * (main() calls ngx_create_pidfile after ngx_init_cycle), so the file appearing is the moment
 * nginx listens: the wait is on changes in `dir` and on nginx's exit, not on a timer.
 */
function untilPidFile(child: ChildProcess, dir: string, pidFile: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const watcher = watch(dir);
    const finish = (why?: string): void => {
      clearTimeout(timer);
      watcher.close();
      child.off('close', onClose);
      child.off('error', onError);
      resolve(why);
    };
    const check = (): void => {
      if (child.pid !== undefined && pidIn(pidFile) === child.pid) finish();
    };
    // 'close', not 'exit': by then everything nginx wrote to stderr (the reason) has been read.
    const onClose = (): void => finish(`exited with code ${child.exitCode} (signal ${child.signalCode})`);
    const onError = (error: Error): void => finish(error.message);
    const timer = setTimeout(() => finish(`no pid file ${pidFile} within ${NGINX_READY_TIMEOUT_MS} ms`), NGINX_READY_TIMEOUT_MS);
    watcher.on('change', check);
    watcher.on('error', (error) => finish(`watching ${dir}: ${error.message}`));
    child.once('close', onClose);
    child.once('error', onError);
    check();
  });
}

async function startOnce(dir: string, file: string, config: string): Promise<StartResult> {
  const port = Number(/listen 127\.0\.0\.1:(\d+) ssl;/.exec(config)?.[1]);
  const pidFile = join(dir, 'nginx.pid');
  await rm(pidFile, { force: true });
  // -p: prefix for relative paths; -e: the error log before the config is read.
  const child = spawn(NGINX, ['-p', `${dir}/`, '-c', file, '-e', 'stderr'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let spawnError: Error | undefined;
  child.once('error', (error) => (spawnError = error));
  // If the test process ends without close() (a crash, a timeout), do not leave nginx behind.
  const killOnExit = (): void => {
    if (!exited(child)) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      if (!exited(child) && spawnError === undefined) {
        child.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const killed = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            child.kill('SIGKILL');
            resolve();
          }, NGINX_STOP_TIMEOUT_MS);
        });
        await Promise.race([exit, killed]);
        clearTimeout(timer);
        await exit;
      }
      process.off('exit', killOnExit);
      await rm(dir, { recursive: true, force: true });
    })());

  let why = spawnError?.message ?? (await untilPidFile(child, dir, pidFile));
  // Listening, so a connection is accepted now (checked once: a failure here is a real one).
  if (why === undefined && !(await accepts(port))) why = `wrote its pid file but does not accept connections on 127.0.0.1:${port}`;
  if (why !== undefined) {
    if (!exited(child) && spawnError === undefined) {
      child.kill('SIGKILL');
      await exit;
    }
    process.off('exit', killOnExit);
    return { ok: false, why, log };
  }
  return { ok: true, nginx: { url: `https://127.0.0.1:${port}`, config, log: () => log, close } };
}
