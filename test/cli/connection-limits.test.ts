// Connection-level limits of every server, as processes: a peer that never finishes its TLS
// handshake is cut off after --handshake-timeout, connections beyond --max-connections are closed
// at accept, and a SIGHUP reload keeps the TLS 1.2 floor even where the runtime allows TLS 1.0.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { appendFile, readFile } from 'node:fs/promises';
import { get } from 'node:https';
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { loadEchoDefinitions } from '../../src/cli/servers/echo-server.js';
import { killAll, makeTempDir, pkiInit, removeTempDir, startServer, type CliServer } from './run.js';

const ISSUER = 'https://sts.domain.com:8081';
const AUDIENCE = 'https://server.domain.com:8443';
const HANDSHAKE_TIMEOUT_S = 1;
const MAX_CONNECTIONS = 4;

let dir: string | undefined;
const file = (name: string): string => join(dir as string, name);
let ca: string;
let alice: { cert: string; key: string };

type Kind = 'sts' | 'resource' | 'grpc-server';
const KINDS: readonly Kind[] = ['sts', 'resource', 'grpc-server'];

function serverArgs(kind: Kind, ...extra: string[]): string[] {
  if (kind === 'sts') return ['sts', '--config', file('sts.yaml'), '--port', '0', ...extra];
  const [cert, key, audience] =
    kind === 'resource' ? ['server.crt', 'server.key', AUDIENCE] : ['grpc.crt', 'grpc.key', 'https://grpc.domain.com:50051'];
  return [
    kind,
    '--port',
    '0',
    '--tls-ca',
    file('ca.crt'),
    '--tls-cert',
    file(cert),
    '--tls-key',
    file(key),
    '--jwks',
    file('jwks.json'),
    '--issuer',
    ISSUER,
    '--audience',
    audience,
    ...extra,
  ];
}

const limited: Partial<Record<Kind, CliServer>> = {};

before(async () => {
  dir = await makeTempDir('limits');
  await pkiInit(dir);
  ca = await readFile(file('ca.crt'), 'utf8');
  alice = { cert: await readFile(file('alice.crt'), 'utf8'), key: await readFile(file('alice.key'), 'utf8') };
  // The STS reads its limits from the configuration file, the others from flags.
  await appendFile(file('sts.yaml'), `\nlimits:\n  handshake_timeout: ${HANDSHAKE_TIMEOUT_S}\n  max_connections: ${MAX_CONNECTIONS}\n`);
  const flags = ['--handshake-timeout', String(HANDSHAKE_TIMEOUT_S), '--max-connections', String(MAX_CONNECTIONS)];
  await Promise.all(
    KINDS.map(async (kind) => (limited[kind] = await startServer(kind === 'sts' ? serverArgs(kind) : serverArgs(kind, ...flags)))),
  );
});

after(async () => {
  await killAll();
  await removeTempDir(dir);
});

const portOf = (server: CliServer): number => Number(new URL(server.url).port);

/** Resolves with how long after `start` the socket closed; fails the test after `limitMs`. */
function closedWithin(socket: Socket, start: number, limitMs: number, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: still open after ${limitMs} ms`)), limitMs);
    socket.on('error', () => {});
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - start);
    });
    // Reading keeps the stream flowing, so the server's close is seen as soon as it happens.
    socket.resume();
  });
}

/** A full handshake as alice (ALPN h2 for gRPC), left open: it holds one of the server's connections. */
function heldConnection(server: CliServer, kind: Kind): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connectTls({
      port: portOf(server),
      host: '127.0.0.1',
      servername: 'localhost',
      ca,
      ...alice,
      ...(kind === 'grpc-server' ? { ALPNProtocols: ['h2'] } : {}),
    });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** A complete, valid request on a new connection: /healthz over HTTPS, the health check over gRPC. */
function servesValidClient(server: CliServer, kind: Kind): Promise<void> {
  if (kind === 'grpc-server') {
    const { Health } = loadEchoDefinitions();
    const client = new Health(
      `127.0.0.1:${portOf(server)}`,
      credentials.createSsl(Buffer.from(ca), Buffer.from(alice.key), Buffer.from(alice.cert)),
      {
        'grpc.ssl_target_name_override': 'localhost',
      },
    );
    return new Promise<void>((resolve, reject) => {
      (client.Check as (request: object, options: object, callback: (error: Error | null, reply: { status: string }) => void) => void).call(
        client,
        { service: '' },
        { deadline: Date.now() + 5000 },
        (error, reply) => (error === null && reply.status === 'SERVING' ? resolve() : reject(error ?? new Error(reply.status))),
      );
    }).finally(() => client.close());
  }
  return new Promise((resolve, reject) => {
    const request = get(
      { host: '127.0.0.1', port: portOf(server), path: '/healthz', servername: 'localhost', ca, ...alice, agent: false },
      (response) => {
        response.resume();
        response.once('end', () =>
          response.statusCode === 200 ? resolve() : reject(new Error(`healthz answered ${response.statusCode}`)),
        );
      },
    );
    request.once('error', reject);
  });
}

/** A TLS attempt that the server closes at accept, before any handshake. */
function refusedAtAccept(server: CliServer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connectTls({ port: portOf(server), host: '127.0.0.1', servername: 'localhost', ca, ...alice });
    socket.once('secureConnect', () => {
      socket.destroy();
      reject(new Error('a connection beyond --max-connections completed its handshake'));
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

// Half a TLS record: the header of a ClientHello and its first byte, then silence.
const HALF_CLIENT_HELLO = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]);

describe('--handshake-timeout cuts off peers that never finish the TLS handshake', () => {
  for (const kind of KINDS) {
    test(`${kind}: a silent TCP peer and half a ClientHello are closed after ${HANDSHAKE_TIMEOUT_S} s, valid clients are served meanwhile`, async () => {
      const server = limited[kind] as CliServer;
      const start = Date.now();
      const silent = connectTcp(portOf(server), '127.0.0.1');
      const half = connectTcp(portOf(server), '127.0.0.1', () => half.write(HALF_CLIENT_HELLO));
      const closes = Promise.all([closedWithin(silent, start, 5000, 'silent peer'), closedWithin(half, start, 5000, 'half ClientHello')]);
      await servesValidClient(server, kind);
      const [silentMs, halfMs] = await closes;
      for (const elapsed of [silentMs, halfMs]) {
        assert.ok(elapsed >= HANDSHAKE_TIMEOUT_S * 1000 - 100, `closed after ${elapsed} ms, before the timeout`);
        assert.ok(elapsed < HANDSHAKE_TIMEOUT_S * 1000 + 2500, `closed after ${elapsed} ms`);
      }
      await servesValidClient(server, kind);
    });
  }
});

describe('--max-connections closes connections beyond the limit at accept', () => {
  for (const kind of KINDS) {
    test(`${kind}: with ${MAX_CONNECTIONS} connections held, the next is closed before its handshake; one released, clients are served again`, async () => {
      const server = limited[kind] as CliServer;
      const held = await Promise.all(Array.from({ length: MAX_CONNECTIONS }, () => heldConnection(server, kind)));
      try {
        assert.match(await refusedAtAccept(server), /ECONNRESET|EPIPE|socket disconnected/i);
      } finally {
        for (const socket of held) socket.destroy();
      }
      // The server notices the released connections asynchronously: retry, bounded.
      let served = false;
      for (let attempt = 0; attempt < 50 && !served; attempt++) {
        served = await servesValidClient(server, kind).then(
          () => true,
          () => false,
        );
      }
      assert.ok(served, 'no valid client was served after the held connections were released');
    });
  }
});

describe('SIGHUP keeps the TLS floor', () => {
  // The runtime would accept TLS 1.0/1.1 (and the ciphers they need): only certbound's own floor
  // refuses them, before and after the reload.
  const permissive = { NODE_OPTIONS: '--tls-min-v1.0 --tls-cipher-list=DEFAULT@SECLEVEL=0' };

  function handshake(server: CliServer, version: 'TLSv1.1' | 'TLSv1.2'): Promise<string> {
    return new Promise((resolve) => {
      const socket = connectTls({
        port: portOf(server),
        host: '127.0.0.1',
        servername: 'localhost',
        ca,
        ...alice,
        minVersion: version,
        maxVersion: version,
        ciphers: 'DEFAULT@SECLEVEL=0',
      });
      socket.once('secureConnect', () => {
        resolve(`connected ${socket.getProtocol()}`);
        socket.destroy();
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
  }

  for (const kind of KINDS) {
    test(`${kind}: TLS 1.1 is refused before and after a reload under NODE_OPTIONS=--tls-min-v1.0`, async () => {
      const server = await startServer(serverArgs(kind), undefined, { env: permissive });
      try {
        assert.equal(await handshake(server, 'TLSv1.1'), 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
        server.child.kill('SIGHUP');
        await server.untilLogged('"type":"tls.reloaded"');
        assert.equal(await handshake(server, 'TLSv1.1'), 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
        assert.equal(await handshake(server, 'TLSv1.2'), 'connected TLSv1.2');
      } finally {
        await server.stop();
      }
    });
  }
});
