// `certbound authz` refuses what it cannot serve safely, one line each, before it listens.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { lines, runCli } from './run.js';

/** `authz config nginx` with good flags, but those in `overrides`. */
function nginxConfig(overrides: Record<string, string>): string[] {
  const flags: Record<string, string> = {
    '--listen': '127.0.0.1:1',
    '--upstream': 'http://127.0.0.1:1',
    '--authz': 'http://127.0.0.1:2',
    '--tls-ca': 'a',
    '--tls-cert': 'b',
    '--tls-key': 'c',
    ...overrides,
  };
  return ['authz', 'config', 'nginx', ...Object.entries(flags).flat()];
}

const base = ['authz', '--port', '0', '--jwks', '/nonexistent/jwks.json', '--issuer', 'https://sts.example', '--audience', 'api'];

test('authz: no certificate format, no rule, a bad rule, an unknown proxy config: one line, exit 2', async () => {
  const cases: Array<[string[], RegExp]> = [
    [base, /^certbound: authz: --client-cert-format is required$/],
    [['authz'], /^certbound: authz: --port, --client-cert-format, --jwks, --issuer and --audience are required$/],
    [
      ['authz', '--socket', '/tmp/authz.sock', '--issuer', 'i'],
      /^certbound: authz: --client-cert-format, --jwks and --audience are required$/,
    ],
    [
      ['authz', 'config', 'nginx', '--listen', '127.0.0.1:1'],
      /^certbound: authz config: --upstream, --authz, --tls-ca, --tls-cert and --tls-key are required$/,
    ],
    [
      [...base, '--client-cert-format', 'xfcc'],
      /^certbound: authz: at least one --rule 'METHOD PREFIX \[SCOPE \.\.\.\]' \(or --default-rule\) is required; no rule means no access$/,
    ],
    [
      [...base, '--client-cert-format', 'xfcc', '--rule', 'get /'],
      /^certbound: authz: --rule "get \/": the method must be an HTTP method in capitals, or \*$/,
    ],
    [
      [...base, '--client-cert-format', 'xfcc', '--rule', 'GET /a/../b'],
      /--rule "GET \/a\/\.\.\/b": the path prefix must be an absolute, plain path/,
    ],
    [
      ['authz', 'config', 'haproxy'],
      /^certbound: authz config: expected one of "authz config nginx", "authz config caddy", "authz config traefik", "authz config envoy"/,
    ],
    [
      [...base, '--client-cert-format', 'xfcc', '--rule', 'GET / read aud='],
      /^certbound: authz: --rule "GET \/ read aud=": aud= needs an audience$/,
    ],
    [
      [...base, '--client-cert-format', 'xfcc', '--default-rule', 'a"b'],
      /^certbound: authz: --default-rule "a"b": "a"b" is not a scope token/,
    ],
    [
      [...base, '--client-cert-format', 'xfcc', '--rule', 'GET /', '--identity-header', 'user=X-User'],
      /^certbound: authz: --identity-header "user=X-User" must be subject=NAME, client-id=NAME, scope=NAME or thumbprint=NAME$/,
    ],
    [
      [...base, '--client-cert-format', 'xfcc', '--rule', 'GET /', '--identity-header', 'subject=x-certbound-scope'],
      /^certbound: authz: --identity-header gives two identity headers the same name$/,
    ],
    [
      [...base, '--client-cert-format', 'xfcc', '--rule', 'GET /', '--envoy-path-prefix', 'authz'],
      /^certbound: authz: --envoy-path-prefix must be a plain absolute path \(Envoy's path_prefix, such as \/authz\)$/,
    ],
    [
      [...base, '--client-cert-format', 'xfcc', '--rule', 'GET /', '--socket', '/tmp/x.sock'],
      /^certbound: authz: --socket replaces --host and --port/,
    ],
    [nginxConfig({ '--listen': 'nope' }), /--listen must be ADDRESS:PORT/],
    [nginxConfig({ '--upstream': 'ftp://x' }), /--upstream must be an http\(s\) URL/],
  ];
  for (const [args, message] of cases) {
    const result = await runCli(args);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.equal(lines(result.stderr).length, 1, result.stderr);
    assert.match(result.stderr.trim(), message);
  }
});

test("the README's nginx configuration is what authz config nginx prints for the README's flags", async () => {
  const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
  const block = /<!-- gateway-nginx:start -->\n```nginx\n([\s\S]*?)```\n<!-- gateway-nginx:end -->/.exec(readme)?.[1];
  assert.ok(block !== undefined, 'README has the gateway-nginx block');
  const printed = await runCli([
    ...['authz', 'config', 'nginx', '--listen', '0.0.0.0:8443', '--upstream', 'http://127.0.0.1:9000'],
    ...['--authz', 'http://127.0.0.1:9180', '--tls-ca', 'certs/ca.crt', '--tls-cert', 'certs/server.crt', '--tls-key', 'certs/server.key'],
  ]);
  assert.equal(printed.code, 0, printed.stderr);
  assert.equal(block, printed.stdout);
});
