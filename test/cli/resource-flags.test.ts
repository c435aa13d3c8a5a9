// `certbound resource` proxy, cache and metadata flags: bad combinations are one line and exit 2;
// a good set serves RFC 9728 metadata.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { readFile, writeFile } from 'node:fs/promises';
import { killAll, lines, makeTempDir, pkiInit, removeTempDir, runCli, startServer } from './run.js';

let dir: string | undefined;
const file = (name: string): string => join(dir as string, name);
const base = (): string[] => [
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
  'https://sts.domain.com:8081',
  '--audience',
  'https://server.domain.com:8443',
];

before(async () => {
  dir = await makeTempDir('resource-flags');
  await pkiInit(dir);
});

after(async () => {
  await killAll();
  await removeTempDir(dir);
});

test('bad proxy and cache flags are refused before listening', async () => {
  const cases: [string[], RegExp][] = [
    [['--trusted-proxy', '127.0.0.1'], /--trusted-proxy needs --client-cert-format/],
    [['--client-cert-format', 'xfcc'], /need --trusted-proxy/],
    [
      ['--trusted-proxy', '127.0.0.1', '--client-cert-format', 'haproxy'],
      /--client-cert-format must be one of rfc9440, xfcc, pem-urlencoded, traefik/,
    ],
    [['--trusted-proxy', '300.1.1.1', '--client-cert-format', 'xfcc'], /"300\.1\.1\.1" is not an IP address, CIDR block or "unix"/],
    [['--trusted-proxy', '10.0.0.0/33', '--client-cert-format', 'xfcc'], /is not an IP address, CIDR block or "unix"/],
    [
      ['--trusted-proxy', '127.0.0.1', '--client-cert-format', 'pem-urlencoded', '--xfcc-hops', '2'],
      /--xfcc-hops applies to --client-cert-format xfcc only/,
    ],
    [
      ['--trusted-proxy', '127.0.0.1', '--client-cert-format', 'pem-urlencoded', '--client-cert-header', 'bad header'],
      /is not a header name/,
    ],
    [['--token-cache', '-'], /--token-cache must be an integer from 0 to 10000000/],
  ];
  for (const [extra, message] of cases) {
    const result = await runCli([...base(), ...extra]);
    assert.equal(result.code, 2, `${extra.join(' ')}: ${result.stderr}`);
    assert.equal(result.stdout, '');
    const stderr = lines(result.stderr);
    assert.equal(stderr.length, 1, result.stderr);
    assert.match(stderr[0] as string, message);
  }
});

test('with proxy and cache flags the server starts and serves its RFC 9728 metadata', async () => {
  const server = await startServer([
    ...base(),
    '--trusted-proxy',
    '127.0.0.1',
    '--trusted-proxy',
    '::1',
    '--client-cert-format',
    'xfcc',
    '--xfcc-hops',
    '1',
    '--token-cache',
    '1000',
  ]);
  const agent = new Agent({ connect: { ca: await readFile(file('ca.crt'), 'utf8') } });
  try {
    const response = await request(`${server.url}/.well-known/oauth-protected-resource`, { dispatcher: agent });
    assert.equal(response.statusCode, 200);
    const body = (await response.body.json()) as Record<string, unknown>;
    assert.equal(body.resource, 'https://server.domain.com:8443');
    assert.deepEqual(body.authorization_servers, ['https://sts.domain.com:8081']);
    assert.equal(body.tls_client_certificate_bound_access_tokens, true);
  } finally {
    await agent.close();
    assert.deepEqual(await server.stop(), { code: 0, signal: null });
  }
});

test('--config: resource and grpc-server take every setting from a YAML file, paths relative to it; flags override', async () => {
  const config = file('resource.yaml');
  await writeFile(
    config,
    [
      'port: 0',
      'tls: { ca: ca.crt, cert: server.crt, key: server.key }',
      'jwks: jwks.json',
      'issuer: https://sts.domain.com:8081',
      // One audience may be written without brackets.
      'audience: https://server.domain.com:8443',
      'required_scope: [read]',
      'limits: { max_connections: 10 }',
      'workers: 1',
    ].join('\n'),
  );
  const server = await startServer(['resource', '--config', config, '--required-scope', 'write']);
  const agent = new Agent({ connect: { ca: await readFile(file('ca.crt'), 'utf8') } });
  try {
    const response = await request(`${server.url}/.well-known/oauth-protected-resource`, { dispatcher: agent });
    const body = (await response.body.json()) as Record<string, unknown>;
    assert.equal(body.resource, 'https://server.domain.com:8443');
    // The flag replaced the file's required_scope.
    assert.deepEqual(body.scopes_supported, ['write']);
  } finally {
    await agent.close();
    await server.stop();
  }
  const grpcConfig = file('grpc.yaml');
  await writeFile(
    grpcConfig,
    // One audience may be written without brackets.
    'port: 0\ntls: { ca: ca.crt, cert: grpc.crt, key: grpc.key }\njwks: jwks.json\nissuer: https://sts.domain.com:8081\naudience: https://grpc.domain.com:50051\nmax_streams: 5\n',
  );
  const grpc = await startServer(['grpc-server', '--config', grpcConfig]);
  assert.match(grpc.readyLine, /^certbound grpc-server listening on https:\/\/127\.0\.0\.1:\d+$/);
  await grpc.stop();
});

test('--config: unknown keys, bad values and HTTP-only limits for gRPC are one line naming the file and key', async () => {
  const cases: Array<[string, string, RegExp]> = [
    ['resource', 'port: 0\nlisten_backlog: 5\n', /resource-bad\.yaml: listen_backlog: unknown key \(expected one of /],
    [
      'resource',
      'port: 0\nlimits: { headers_timeout: 0 }\n',
      /resource-bad\.yaml: limits\.headers_timeout: must be an integer from 1 to 3600$/,
    ],
    ['resource', 'port: 0\ntls: { ca: 5 }\n', /resource-bad\.yaml: tls\.ca: must be a non-empty string$/],
    ['resource', 'port: -1\n', /resource-bad\.yaml: port: must be an integer from 0 to 65535$/],
    ['resource', 'port: 0\naudience: [""]\n', /resource-bad\.yaml: audience: must be a non-empty string or a list of them$/],
    // A setting is named as it was written: the file's key, not a flag the person never typed.
    [
      'grpc-server',
      'port: 0\nlimits: { max_in_flight: 5 }\n',
      /grpc-server: limits\.max_in_flight in \S+resource-bad\.yaml applies to the HTTPS servers only \(gRPC has max_streams\)$/,
    ],
    [
      'resource',
      'port: 0\nlimits: { headers_timeout: 30, request_timeout: 10 }\n',
      /resource: limits\.headers_timeout in \S+ must not exceed limits\.request_timeout in \S+resource-bad\.yaml$/,
    ],
  ];
  for (const [command, text, message] of cases) {
    const config = file('resource-bad.yaml');
    await writeFile(config, text);
    const result = await runCli([command, '--config', config]);
    assert.equal(result.code, 2, result.stderr);
    assert.equal(lines(result.stderr).length, 1, result.stderr);
    assert.match(lines(result.stderr)[0] as string, message);
  }
});
