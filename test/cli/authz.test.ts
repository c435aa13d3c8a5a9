// `certbound authz` refuses what it cannot serve safely, one line each, before it listens.
import assert from 'node:assert/strict';
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
    [base, /^certbound: authz: --client-cert-format is required/],
    [
      [...base, '--client-cert-format', 'xfcc'],
      /^certbound: authz: at least one --rule 'METHOD PREFIX \[SCOPE \.\.\.\]' is required; no rule means no access$/,
    ],
    [
      [...base, '--client-cert-format', 'xfcc', '--rule', 'get /'],
      /^certbound: authz: --rule "get \/": the method must be an HTTP method in capitals, or \*$/,
    ],
    [
      [...base, '--client-cert-format', 'xfcc', '--rule', 'GET /a/../b'],
      /--rule "GET \/a\/\.\.\/b": the path prefix must be an absolute, plain path/,
    ],
    [['authz', 'config', 'envoy'], /^certbound: authz config: expected "authz config nginx" or "authz config caddy"/],
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
