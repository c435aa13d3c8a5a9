// Operating the servers as processes: revocation with `pki revoke` and SIGHUP, graceful shutdown
// on SIGTERM, the limit flags, and a full run whose every log line is searched for secrets.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { after, before, test } from 'node:test';
import { Agent, request } from 'undici';
import { killAll, makeTempDir, pkiInit, removeTempDir, runCli, startServer } from './run.js';
import { nextEvent, whenever } from '../helpers/wait.js';

const ISSUER = 'https://sts.domain.com:8081';
const AUDIENCE = 'https://server.domain.com:8443';
const GRPC_AUDIENCE = 'https://grpc.domain.com:50051';
const SUBJECT_TOKENS = { alice: 'iamtheeggman', bob: 'iamthewalrus' } as const;

let dir: string | undefined;
let other: string | undefined;
const file = (name: string): string => join(dir as string, name);

before(async () => {
  dir = await makeTempDir('ops');
  other = await makeTempDir('ops-other');
  await Promise.all([pkiInit(dir), pkiInit(other)]);
});
after(async () => {
  await killAll();
  await removeTempDir(dir);
  await removeTempDir(other);
});

async function agentAs(who: 'alice' | 'bob' | undefined): Promise<Agent> {
  const ca = await readFile(file('ca.crt'), 'utf8');
  if (who === undefined) return new Agent({ connect: { ca } });
  return new Agent({ connect: { ca, cert: await readFile(file(`${who}.crt`), 'utf8'), key: await readFile(file(`${who}.key`), 'utf8') } });
}

async function tokenFor(stsUrl: string, who: 'alice' | 'bob', audience = AUDIENCE): Promise<string> {
  const result = await runCli([
    'token',
    '--sts',
    stsUrl,
    '--tls-ca',
    file('ca.crt'),
    '--tls-cert',
    file(`${who}.crt`),
    '--tls-key',
    file(`${who}.key`),
    '--subject-token',
    SUBJECT_TOKENS[who],
    '--audience',
    audience,
  ]);
  assert.equal(result.code, 0, result.stderr);
  return (JSON.parse(result.stdout) as { access_token: string }).access_token;
}

/** GET / on a fresh connection as `who`; the status code. */
async function getAs(url: string, who: 'alice' | 'bob', token: string): Promise<number> {
  const agent = await agentAs(who);
  try {
    const response = await request(`${url}/`, { dispatcher: agent, headers: { authorization: `Bearer ${token}` } });
    await response.body.text();
    return response.statusCode;
  } finally {
    await agent.close();
  }
}

const resourceArgs = (...extra: string[]): string[] => [
  'resource',
  '--port',
  '0',
  '--tls-ca',
  file('ca.crt'),
  '--tls-cert',
  file('server.crt'),
  '--tls-key',
  file('server.key'),
  '--jwks',
  file('jwks.json'),
  '--issuer',
  ISSUER,
  '--audience',
  AUDIENCE,
  ...extra,
];

test('pki revoke: writes ca.crl, keeps earlier entries, refuses a certificate from another CA', async () => {
  const first = await runCli(['pki', 'revoke', '--dir', dir as string]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /ca\.crl: 0 revoked \(0 new\), valid for 7 days/);
  assert.match(await readFile(file('ca.crl'), 'utf8'), /^-----BEGIN X509 CRL-----/);
  const foreign = await runCli(['pki', 'revoke', '--dir', dir as string, '--cert', join(other as string, 'bob.crt')]);
  assert.equal(foreign.code, 2);
  assert.match(foreign.stderr, /bob\.crt: not issued by .*ca\.crt/);
  assert.equal(foreign.stderr.trim().split('\n').length, 1);
});

test('SIGHUP: a resource server picks up a new CRL (revoked client refused on its next handshake) and keeps serving through a broken file', async () => {
  const sts = await startServer(['sts', '--config', file('sts.yaml'), '--port', '0']);
  const resource = await startServer(resourceArgs('--tls-crl', file('ca.crl')));
  try {
    const [alice, bob] = [await tokenFor(sts.url, 'alice'), await tokenFor(sts.url, 'bob')];
    assert.equal(await getAs(resource.url, 'bob', bob), 200);

    const revoked = await runCli(['pki', 'revoke', '--dir', dir as string, '--cert', file('bob.crt')]);
    assert.match(revoked.stdout, /1 revoked \(1 new\)/);
    resource.child.kill('SIGHUP');
    await resource.untilLogged('"type":"tls.reloaded"');
    assert.equal(await getAs(resource.url, 'bob', bob), 401);
    assert.equal(await getAs(resource.url, 'alice', alice), 200);
    assert.match(
      resource.stderr(),
      /"code":"CB_CLIENT_CERT_UNTRUSTED"[^\n]*CERT_REVOKED|CERT_REVOKED[^\n]*"code":"CB_CLIENT_CERT_UNTRUSTED"/,
    );

    // A CRL of another CA: the reload is refused, logged with the file and reason, old state kept.
    const good = await readFile(file('ca.crl'), 'utf8');
    await writeFile(file('ca.crl'), await readFile(join(other as string, 'ca.crt'), 'utf8'));
    resource.child.kill('SIGHUP');
    await resource.untilLogged('"type":"tls.reload_failed"');
    assert.match(resource.stderr(), /"type":"tls.reload_failed","detail":"[^"]*ca\.crl: CRL: no PEM CRL/);
    assert.equal(await getAs(resource.url, 'alice', alice), 200);
    assert.equal(await getAs(resource.url, 'bob', bob), 401);
    await writeFile(file('ca.crl'), good);
  } finally {
    assert.deepEqual(await resource.stop(), { code: 0, signal: null });
    assert.deepEqual(await sts.stop(), { code: 0, signal: null });
  }
});

test('SIGHUP on the STS and the gRPC server reloads their TLS files (and the STS keeps its single key)', async () => {
  const sts = await startServer(['sts', '--config', file('sts.yaml'), '--port', '0', '--tls-crl', file('ca.crl')]);
  const grpc = await startServer([
    'grpc-server',
    '--port',
    '0',
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
    '--tls-crl',
    file('ca.crl'),
  ]);
  try {
    for (const server of [sts, grpc]) server.child.kill('SIGHUP');
    await Promise.all([
      sts.untilLogged('"type":"tls.reloaded"'),
      grpc.untilLogged(
        (log) => log.includes('"type":"tls.reloaded"') && log.includes('"type":"jwks.reloaded"'),
        'tls.reloaded and jwks.reloaded',
      ),
    ]);
    assert.match(sts.stderr(), /"type":"reload.skipped"/);
    // bob is revoked in ca.crl (previous test): the STS refuses him, alice still gets tokens.
    const bob = await runCli([
      'token',
      '--sts',
      sts.url,
      '--tls-ca',
      file('ca.crt'),
      '--tls-cert',
      file('bob.crt'),
      '--tls-key',
      file('bob.key'),
      '--subject-token',
      SUBJECT_TOKENS.bob,
      '--audience',
      AUDIENCE,
    ]);
    assert.equal(bob.code, 1);
    assert.match(bob.stderr, /invalid_client/);
    await tokenFor(sts.url, 'alice');
  } finally {
    assert.deepEqual(await grpc.stop(), { code: 0, signal: null });
    assert.deepEqual(await sts.stop(), { code: 0, signal: null });
  }
});

/** A raw TLS connection as alice to the server at `url`. */
async function rawAsAlice(url: string): Promise<TLSSocket> {
  const { port } = new URL(url);
  const [ca, cert, key] = await Promise.all(['ca.crt', 'alice.crt', 'alice.key'].map((name) => readFile(file(name), 'utf8')));
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: Number(port), ca, cert, key, servername: 'localhost' }, () => resolve(socket));
    socket.once('error', reject);
  });
}

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';

/**
 * A request as alice with `expect: 100-continue`, of which the head and the first `sent`
 * characters of `body` are written. Resolves once the server has answered 100 Continue: Node
 * writes that just before it hands the request to the server's handler, so from then on the
 * request is in flight (and any signal the server gets is handled after that).
 */
async function requestInFlight(
  url: string,
  body: string,
  sent: number,
  length = body.length,
): Promise<{ socket: TLSSocket; answer: () => string; until: (text: string, what: string) => Promise<void> }> {
  const socket = await rawAsAlice(url);
  let answer = '';
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
  const until = (text: string, what: string): Promise<void> =>
    whenever(socket, 'data', () => answer.includes(text), what, {
      failOn: ['close'],
      context: () => `received: ${JSON.stringify(answer)}`,
    });
  socket.write(
    `POST /token HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: ${length}\r\nexpect: 100-continue\r\n\r\n${body.slice(0, sent)}`,
  );
  await until(CONTINUE, '100 Continue');
  return { socket, answer: () => answer, until };
}

test('SIGTERM: the STS stops accepting, finishes the request in flight, then exits 0', async () => {
  const sts = await startServer(['sts', '--config', file('sts.yaml'), '--port', '0']);
  const body = new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: SUBJECT_TOKENS.alice,
    subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    audience: AUDIENCE,
  }).toString();
  // Two requests in flight, and a keep-alive connection left idle after a health check.
  const [inFlight, barrier] = await Promise.all([requestInFlight(sts.url, body, 10), requestInFlight(sts.url, body, 10)]);
  const idle = await agentAs('alice');
  const health = await request(`${sts.url}/healthz`, { dispatcher: idle });
  assert.equal(health.statusCode, 200);
  await health.body.text();
  const idleClosed = nextEvent(idle, 'disconnect', 'the idle connection closed on SIGTERM');
  const exited = new Promise<number | null>((resolve) => sts.child.once('exit', (code) => resolve(code)));
  sts.child.kill('SIGTERM');
  // The drain closes idle connections and the listening socket in one turn of the event loop;
  // the answer to a request completed after that comes from a later turn.
  await idleClosed;
  await idle.close();
  barrier.socket.write(body.slice(10));
  await barrier.until('access_token', 'the answer to a request completed during the drain');
  assert.match(barrier.answer(), /connection: close/i);
  // New connections are no longer accepted...
  await assert.rejects(rawAsAlice(sts.url), /ECONNREFUSED/);
  // ...but the request in flight completes.
  inFlight.socket.write(body.slice(10));
  await inFlight.until('access_token', 'the in-flight token response');
  const answer = inFlight.answer();
  assert.ok(answer.startsWith(CONTINUE), JSON.stringify(answer));
  assert.match(answer.slice(CONTINUE.length), /^HTTP\/1\.1 200 /);
  assert.match(answer, /connection: close/i);
  assert.equal(await exited, 0);
  for (const { socket } of [inFlight, barrier]) socket.destroy();
});

test('SIGTERM with a request that never finishes: connections are dropped at --drain-timeout and the exit is still 0', async () => {
  const sts = await startServer(['sts', '--config', file('sts.yaml'), '--port', '0', '--drain-timeout', '1', '--request-timeout', '60']);
  const { socket } = await requestInFlight(sts.url, 'grant', 5, 100);
  socket.on('error', () => {});
  const started = Date.now();
  assert.deepEqual(await sts.stop(5000), { code: 0, signal: null });
  const took = Date.now() - started;
  assert.ok(took >= 900 && took < 4000, `exited ${took} ms after SIGTERM`);
  socket.destroy();
});

test('limit flags: bad values are one-line usage errors (exit 2); gRPC refuses HTTP-only limits', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['sts', '--config', file('sts.yaml'), '--rate-limit', 'lots'], /^sts: --rate-limit must be an integer from 0 to 1000000$/],
    [
      ['sts', '--config', file('sts.yaml'), '--rate-limit', '0', '--rate-burst', '5'],
      /^sts: --rate-burst has no meaning with --rate-limit 0$/,
    ],
    [['sts', '--config', file('sts.yaml'), '--body-limit', '10'], /^sts: --body-limit must be an integer from 1024 to 1048576$/],
    [resourceArgs('--headers-timeout', '0'), /^resource: --headers-timeout must be an integer from 1 to 3600$/],
    [resourceArgs('--headers-timeout', '20', '--request-timeout', '10'), /^resource: --headers-timeout must not exceed --request-timeout$/],
    [resourceArgs('--clock-skew', '301'), /^resource: --clock-skew must be an integer from 0 to 300$/],
    [
      [
        'grpc-server',
        '--port',
        '0',
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
        '--token-cache',
        'lots',
      ],
      /^grpc-server: --token-cache must be an integer from 0 to 10000000$/,
    ],
    [resourceArgs('--tls-crl', file('missing.crl')), /missing\.crl: CRL: no such file$/],
    [
      [
        'grpc-server',
        '--port',
        '0',
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
        '--max-in-flight',
        '5',
      ],
      /^grpc-server: --max-in-flight applies to the HTTPS servers only/,
    ],
  ];
  for (const [args, message] of cases) {
    const result = await runCli(args);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(result.stderr.trim().replace(/^certbound: /, ''), message);
  }
});

test('no secrets in logs: a full run (exchanges, refusals, calls, gRPC, reload) never logs a token or a key', async () => {
  const sts = await startServer(['sts', '--config', file('sts.yaml'), '--port', '0', '--rate-limit', '1', '--rate-burst', '3']);
  const resource = await startServer(resourceArgs('--token-cache', '100'));
  const grpc = await startServer([
    'grpc-server',
    '--port',
    '0',
    '--tls-ca',
    file('ca.crt'),
    '--tls-cert',
    file('grpc.crt'),
    '--tls-key',
    file('grpc.key'),
    '--jwks',
    `${sts.url}/.well-known/jwks.json`,
    '--issuer',
    ISSUER,
    '--audience',
    GRPC_AUDIENCE,
  ]);
  const outputs: string[] = [];
  const issued: string[] = [];
  const wrongSecret = 'not-the-walrus-5e6f7a';
  try {
    const token = await tokenFor(sts.url, 'alice');
    issued.push(token);
    const client = (who: 'alice' | 'bob', secret: string): string[] => [
      '--sts',
      sts.url,
      '--tls-ca',
      file('ca.crt'),
      '--tls-cert',
      file(`${who}.crt`),
      '--tls-key',
      file(`${who}.key`),
      '--subject-token',
      secret,
      '--audience',
      AUDIENCE,
    ];
    for (const args of [
      ['call', resource.url, ...client('alice', SUBJECT_TOKENS.alice)],
      ['call', resource.url, ...client('alice', wrongSecret)],
      ['token', ...client('alice', SUBJECT_TOKENS.bob)],
      [
        'grpc-call',
        `127.0.0.1:${new URL(grpc.url).port}`,
        '--servername',
        'localhost',
        ...client('alice', SUBJECT_TOKENS.alice).map((a) => (a === AUDIENCE ? GRPC_AUDIENCE : a)),
      ],
    ]) {
      const result = await runCli(args);
      // `token` prints the token it was asked for on stdout: that is its output, not a log.
      outputs.push(args[0] === 'token' ? result.stderr : `${result.stdout}${result.stderr}`);
    }
    // A burst past the rate limit (429s, logged with the certificate's thumbprint only).
    const alice = await agentAs('alice');
    const form = new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: SUBJECT_TOKENS.alice,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      audience: AUDIENCE,
    }).toString();
    const burst = await Promise.all(
      Array.from({ length: 6 }, () =>
        request(`${sts.url}/token`, {
          method: 'POST',
          dispatcher: alice,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: form,
        }).then(async (r) => {
          const text = await r.body.text();
          if (r.statusCode === 200) issued.push((JSON.parse(text) as { access_token: string }).access_token);
          return r.statusCode;
        }),
      ),
    );
    await alice.close();
    assert.ok(burst.includes(429), `burst statuses ${burst.join(',')}`);
    // The bearer token sent to the resource server with a wrong certificate (refused, logged).
    assert.equal(await getAs(resource.url, 'bob', token), 401);
    for (const server of [sts, resource, grpc]) server.child.kill('SIGHUP');
    await Promise.all([sts, resource, grpc].map((server) => server.untilLogged('"type":"tls.reloaded"')));
  } finally {
    for (const server of [grpc, resource, sts]) await server.stop();
  }
  const logs = [sts, resource, grpc].map((server) => server.stderr()).join('\n') + outputs.join('\n');
  assert.match(logs, /token.refused/, 'the run did produce refusal logs');
  assert.match(logs, /CB_RATE_LIMITED/, 'the run did hit the rate limit');
  const keyMaterial = await Promise.all(
    ['ca.key', 'sts.key', 'server.key', 'grpc.key', 'alice.key', 'bob.key', 'jwt.key'].map((name) => readFile(file(name), 'utf8')),
  );
  const secrets = [
    ...Object.values(SUBJECT_TOKENS),
    wrongSecret,
    ...issued,
    ...issued.map((t) => t.split('.')[2] as string), // the signature alone
    // every 40-character run of each private key's base64 body
    ...keyMaterial.flatMap((pem) => pem.split('\n').filter((line) => line.length >= 40 && !line.startsWith('-----'))),
  ];
  for (const secret of secrets) assert.ok(!logs.includes(secret), `a secret appears in the logs: ${secret.slice(0, 6)}…`);
  // Any JWT-shaped string in the logs would be a leaked token.
  assert.doesNotMatch(logs, /eyJ[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]{20,}/);
});
