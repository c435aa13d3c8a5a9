// `certbound resource` proxy, cache and metadata flags: bad combinations are one line and exit 2;
// a good set serves RFC 9728 metadata.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { readFile } from 'node:fs/promises';
import { killAll, lines, makeTempDir, pkiInit, removeTempDir, runCli, startServer } from './run.js';

let dir: string | undefined;
const file = (name: string): string => join(dir as string, name);
const base = (): string[] => [
  'resource', '--port', '0', '--tls-ca', file('ca.crt'), '--tls-cert', file('server.crt'), '--tls-key', file('server.key'),
  '--jwks', file('jwks.json'), '--issuer', 'https://sts.domain.com:8081', '--audience', 'https://server.domain.com:8443',
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
    [['--trusted-proxy', '127.0.0.1', '--client-cert-format', 'haproxy'], /--client-cert-format must be one of rfc9440, xfcc, pem-urlencoded/],
    [['--trusted-proxy', '300.1.1.1', '--client-cert-format', 'xfcc'], /"300\.1\.1\.1" is not an IP address or CIDR block/],
    [['--trusted-proxy', '10.0.0.0/33', '--client-cert-format', 'xfcc'], /is not an IP address or CIDR block/],
    [['--trusted-proxy', '127.0.0.1', '--client-cert-format', 'pem-urlencoded', '--xfcc-hops', '2'], /--xfcc-hops applies to --client-cert-format xfcc only/],
    [['--trusted-proxy', '127.0.0.1', '--client-cert-format', 'pem-urlencoded', '--client-cert-header', 'bad header'], /is not a header name/],
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
  const server = await startServer([...base(), '--trusted-proxy', '127.0.0.1', '--trusted-proxy', '::1', '--client-cert-format', 'xfcc', '--xfcc-hops', '1', '--token-cache', '1000']);
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
