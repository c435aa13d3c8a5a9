// `certbound grpc-server` and `certbound grpc-call` as real processes, against a real STS.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { killAll, lines, makeTempDir, pkiInit, removeTempDir, runCli, startServer, type CliServer, type RunResult } from './run.js';

const ISSUER = 'https://sts.domain.com:8081';
const GRPC_AUDIENCE = 'https://grpc.domain.com:50051';

let dir: string | undefined;
const file = (name: string): string => join(dir as string, 'pki', name);
let sts: CliServer;
let grpcServer: CliServer;

function serverArgs(extra: string[] = []): string[] {
  return [
    'grpc-server',
    '--tls-ca',
    file('ca.crt'),
    '--tls-cert',
    file('grpc.crt'),
    '--tls-key',
    file('grpc.key'),
    '--jwks',
    file('jwks.json'),
    '--issuer',
    ISSUER,
    '--audience',
    GRPC_AUDIENCE,
    ...extra,
  ];
}

function callArgs(who: 'alice' | 'bob', subject: string[], target = grpcServer.url): string[] {
  return [
    'grpc-call',
    target,
    '--servername',
    'grpc.domain.com',
    '--tls-ca',
    file('ca.crt'),
    '--tls-cert',
    file(`${who}.crt`),
    '--tls-key',
    file(`${who}.key`),
    '--sts',
    sts.url,
    '--sts-servername',
    'sts.domain.com',
    ...subject,
    '--audience',
    GRPC_AUDIENCE,
  ];
}

/** One `certbound: ...` line on stderr, no stack; returns it. */
function oneErrorLine(result: RunResult, exitCode: number): string {
  assert.equal(result.code, exitCode, `exit code ${result.code}; stdout: ${result.stdout}; stderr: ${result.stderr}`);
  const stderr = lines(result.stderr);
  assert.equal(stderr.length, 1, result.stderr);
  assert.ok(stderr[0]?.startsWith('certbound: '), result.stderr);
  assert.doesNotMatch(result.stderr, /^\s+at /m);
  return stderr[0] as string;
}

before(async () => {
  dir = await makeTempDir('grpc');
  await pkiInit(join(dir, 'pki'));
  [sts, grpcServer] = await Promise.all([
    startServer(['sts', '--config', file('sts.yaml'), '--port', '0']),
    startServer([...serverArgs(), '--port', '0']),
  ]);
});

after(async () => {
  await Promise.all([sts, grpcServer].filter(Boolean).map((server) => server.stop()));
  await killAll();
  await removeTempDir(dir);
});

test('grpc-server prints the common ready line with the port it bound', () => {
  assert.match(grpcServer.readyLine, /^certbound grpc-server listening on https:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(Number(new URL(grpcServer.url).port), 0);
});

test('grpc-call: alice exchanges her subject token with her channel certificate and SayHello answers for her', async () => {
  const result = await runCli([...callArgs('alice', ['--subject-token', 'iamtheeggman']), '--name', 'world']);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '');
  const [health, hello, ...rest] = lines(result.stdout);
  assert.equal(health, 'health: SERVING');
  assert.match(hello ?? '', /^Hello world \(token subject alice, bound to x5t#S256 [\w-]{43}\)$/);
  assert.deepEqual(rest, []);
  // The server logged the admitted call with the verified subject; no token in its log.
  const log = grpcServer.stderr();
  assert.match(log, /"type":"call.allowed","method":"\/echo.EchoServer\/SayHello","subject":"alice"/);
  assert.doesNotMatch(log, /eyJ/);
});

test('grpc-call accepts the subject token from a file and the target as the ready line prints it', async () => {
  const tokenFile = join(dir as string, 'bob-token');
  await writeFile(tokenFile, 'iamthewalrus\n');
  const result = await runCli(callArgs('bob', ['--subject-token-file', tokenFile], grpcServer.url));
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^health: SERVING\nHello bob \(token subject bob, /);
});

test("grpc-call: the STS refuses bob presenting alice's subject token; exit 1 with the STS error, SayHello never reached", async () => {
  const result = await runCli(callArgs('bob', ['--subject-token', 'iamtheeggman']));
  const line = oneErrorLine(result, 1);
  assert.match(
    line,
    /^certbound: SayHello failed: UNAUTHENTICATED: .*STS refused the exchange \(invalid_request: subject_token was not issued to this client certificate\)$/,
  );
  assert.equal(result.stdout, 'health: SERVING\n');
});

test('grpc-call: an unreachable STS fails the call with UNAVAILABLE, exit 1', async () => {
  const closed = new URL(sts.url);
  closed.port = '9'; // discard: nothing listens there on loopback
  const args = callArgs('alice', ['--subject-token', 'iamtheeggman']);
  args[args.indexOf('--sts') + 1] = closed.origin;
  const started = Date.now();
  const result = await runCli(args);
  const line = oneErrorLine(result, 1);
  assert.match(line, /^certbound: SayHello failed: UNAVAILABLE: .*STS https:\/\/127\.0\.0\.1:9 is unreachable/);
  assert.ok(Date.now() - started < 15_000);
});

test('grpc-call: a gRPC server that is not running fails with UNAVAILABLE at the health check, exit 1', async () => {
  const result = await runCli(callArgs('alice', ['--subject-token', 'iamtheeggman'], '127.0.0.1:9'));
  assert.match(oneErrorLine(result, 1), /^certbound: Check failed: UNAVAILABLE: /);
});

test('grpc-call and grpc-server: bad input is one line and exit 2', async () => {
  const cases: [string[], RegExp][] = [
    [callArgs('alice', ['--subject-token', 'iamtheeggman'], 'not-a-target'), /grpc-call: "not-a-target" is not HOST:PORT/],
    [callArgs('alice', ['--subject-token', 'iamtheeggman'], '127.0.0.1:70000'), /is not HOST:PORT/],
    [callArgs('alice', []), /give exactly one of --subject-token or --subject-token-file/],
    [
      callArgs('alice', ['--subject-token', 'x']).filter((arg) => arg !== '--audience' && arg !== GRPC_AUDIENCE),
      /--audience or --resource is required/,
    ],
    [['grpc-call', '--sts', 'https://127.0.0.1:1'], /HOST:PORT is required/],
    [
      serverArgs()
        .filter((arg) => arg !== '--jwks' && arg !== file('jwks.json'))
        .concat('--port', '0'),
      /grpc-server: --jwks is required/,
    ],
    [serverArgs(), /grpc-server: --port is required/],
    [[...serverArgs(), '--port', '0', '--bogus'], /grpc-server: unknown option --bogus/],
    [[...serverArgs(['--tls-key', file('alice.key')]), '--port', '0'], /alice\.key/],
  ];
  for (const [args, message] of cases) {
    const result = await runCli(args);
    assert.match(oneErrorLine(result, 2), message, args.join(' '));
    assert.equal(result.stdout, '');
  }
});

test('grpc-server: a port in use is exit 1 with one line; SIGTERM stops it with exit 0', async () => {
  const port = new URL(grpcServer.url).port;
  const result = await runCli([...serverArgs(), '--port', port]);
  assert.match(oneErrorLine(result, 1), new RegExp(`^certbound: cannot listen on 127\\.0\\.0\\.1:${port}: address already in use$`));

  const second = await startServer([...serverArgs(), '--port', '0']);
  const stopped = await second.stop();
  assert.deepEqual(stopped, { code: 0, signal: null });
});
