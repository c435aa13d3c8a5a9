// `certbound probe` against real `certbound sts` and `certbound resource` processes: a correct
// resource passes all eight cases with either token source; a resource that believes a
// certificate header from any loopback client is caught (UNSAFE); bad flags are one line, exit 2.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEV_AUDIENCE, DEV_ISSUER } from '../../src/pki/dev-pki.js';
import { killAll, lines, makeTempDir, pkiInit, removeTempDir, runCli, startServer, type CliServer, type RunResult } from './run.js';

let dir: string | undefined;
const file = (name: string): string => join(dir as string, name);
let sts: CliServer;
/** A resource as `certbound resource` runs by default: the certificate is the TLS connection's. */
let resource: CliServer;
/** Deliberately unsafe: it takes X-SSL-Client-Cert from any client on 127.0.0.1, the probe included. */
let unsafe: CliServer;
/** A token bound to alice's certificate, from `certbound token`. */
let token: string;

const resourceArgs = (): string[] => [
  'resource',
  ...['--port', '0', '--tls-ca', file('ca.crt'), '--tls-cert', file('server.crt'), '--tls-key', file('server.key')],
  ...['--jwks', file('jwks.json'), '--issuer', DEV_ISSUER, '--audience', DEV_AUDIENCE],
];
/** The certificates: alice owns the token, bob is the other client. */
const clients = (): string[] => [
  ...['--tls-ca', file('ca.crt'), '--tls-cert', file('alice.crt'), '--tls-key', file('alice.key')],
  ...['--other-cert', file('bob.crt'), '--other-key', file('bob.key')],
];
const exchange = (): string[] => ['--sts', sts.url, '--subject-token', 'iamtheeggman', '--audience', DEV_AUDIENCE, '--scope', 'read'];

before(async () => {
  dir = await makeTempDir('probe');
  await pkiInit(dir);
  [sts, resource, unsafe] = await Promise.all([
    startServer(['sts', '--config', file('sts.yaml'), '--port', '0']),
    startServer(resourceArgs()),
    startServer([...resourceArgs(), '--trusted-proxy', '127.0.0.1', '--client-cert-format', 'pem-urlencoded']),
  ]);
  const issued = await runCli(['token', ...clients().slice(0, 6), ...exchange()]);
  assert.equal(issued.code, 0, issued.stderr);
  token = (JSON.parse(issued.stdout) as { access_token: string }).access_token;
});

after(async () => {
  await killAll();
  await removeTempDir(dir);
});

/** The eight table rows by case number, after checking the header. */
function rowsOf(result: RunResult): Map<number, string> {
  const [header, ...rest] = lines(result.stdout);
  assert.match(header as string, /^case +expected +observed +verdict$/);
  const rows = new Map<number, string>();
  for (const line of rest.slice(0, 8)) {
    const number = Number(/^(\d)\. /.exec(line)?.[1]);
    assert.ok(number >= 1 && number <= 8, `not a case row: ${line}`);
    rows.set(number, line);
  }
  assert.equal(rows.size, 8, result.stdout);
  return rows;
}

/** Every case as expected: exit 0, the table, the summary line, nothing on stderr, no token anywhere. */
function assertAllGreen(result: RunResult): void {
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
  assert.equal(result.stderr, '');
  const rows = rowsOf(result);
  assert.match(rows.get(1) as string, /^1\. owner's certificate +accepted \(2xx\) +200 +ok$/);
  assert.match(rows.get(2) as string, /^2\. other certificate +refused \(401\/403\) +401 invalid_token +ok$/);
  assert.match(rows.get(3) as string, /^3\. no certificate +refused \(401\/403\) +401 invalid_token +ok$/);
  assert.match(
    rows.get(4) as string,
    /^4\. other certificate \+ forged client-cert \(RFC 9440\) +refused \(401\/403\) +401 invalid_token +ok$/,
  );
  assert.match(rows.get(5) as string, /^5\. other certificate \+ forged x-forwarded-client-cert \(Envoy XFCC\) .* 401 invalid_token +ok$/);
  assert.match(rows.get(6) as string, /^6\. other certificate \+ forged x-ssl-client-cert \(nginx\) .* 401 invalid_token +ok$/);
  assert.match(rows.get(7) as string, /^7\. other certificate \+ forged x-forwarded-tls-client-cert \(Traefik\) .* 401 invalid_token +ok$/);
  // RFC 6750 §5.3: certbound never reads ?access_token=, so the request carries no token at all.
  assert.match(rows.get(8) as string, /^8\. token in \?access_token=, owner's certificate +refused \(401\/403\) +401 +ok$/);
  assert.equal(lines(result.stdout)[9], 'all 8 cases as expected: the token is accepted only with its own certificate');
  assert.equal(lines(result.stdout).length, 10);
  assert.doesNotMatch(result.stdout, /eyJ/, 'no token in the output');
}

/** Exit 2, nothing on stdout, one `certbound: ...` line matching `message`. */
function assertBadFlag(result: RunResult, message: RegExp): void {
  assert.equal(result.code, 2, `${result.stdout}\n${result.stderr}`);
  assert.equal(result.stdout, '');
  const stderr = lines(result.stderr);
  assert.equal(stderr.length, 1, result.stderr);
  assert.match(stderr[0] as string, message);
}

test('probe --sts: the token exchanged with alice works only with her certificate; all eight cases ok', async () => {
  assertAllGreen(await runCli(['probe', `${resource.url}/`, ...clients(), ...exchange()]));
});

test('probe --token and --token-file: the same eight cases ok, and the token is never printed', async () => {
  const inline = await runCli(['probe', `${resource.url}/`, ...clients(), '--token', token]);
  assertAllGreen(inline);
  const tokenFile = file('token');
  await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
  const fromFile = await runCli([
    'probe',
    `${resource.url}/`,
    ...clients(),
    '--token-file',
    tokenFile,
    '--servername',
    'server.domain.com',
  ]);
  assertAllGreen(fromFile);
  for (const result of [inline, fromFile]) assert.ok(!`${result.stdout}${result.stderr}`.includes(token));
});

test('probe catches a resource that believes a forged X-SSL-Client-Cert: exit 1, UNSAFE on the nginx row', async () => {
  const result = await runCli(['probe', `${unsafe.url}/`, ...clients(), '--token', token]);
  assert.equal(result.code, 1, `${result.stdout}\n${result.stderr}`);
  const rows = rowsOf(result);
  assert.match(
    rows.get(6) as string,
    /^6\. other certificate \+ forged x-ssl-client-cert \(nginx\) +refused \(401\/403\) +200 +FAIL \(UNSAFE\)$/,
  );
  for (const number of [2, 3, 4, 5, 7, 8]) assert.match(rows.get(number) as string, / ok$/);
  // It takes the certificate from the header only, and the owner's own request sends none.
  assert.match(rows.get(1) as string, /^1\. owner's certificate +accepted \(2xx\) +401 invalid_token +FAIL \(inconclusive\)$/);
  const stderr = lines(result.stderr);
  assert.equal(stderr.length, 1, result.stderr);
  assert.match(
    stderr[0] as string,
    /^certbound: UNSAFE: accepted what must be refused: case 6 \(other certificate \+ forged x-ssl-client-cert \(nginx\)\); inconclusive: the token was not accepted with its owner's certificate \(case 1: 401 invalid_token\)/,
  );
  assert.ok(!`${result.stdout}${result.stderr}`.includes(token));
});

test('probe: a token refused with its own certificate is inconclusive (exit 1); a refused exchange or no answer is exit 1', async () => {
  // Well-formed, but no token the resource accepts.
  const inconclusive = await runCli(['probe', `${resource.url}/`, ...clients(), '--token', 'not-a-jwt']);
  assert.equal(inconclusive.code, 1, inconclusive.stdout);
  assert.match(rowsOf(inconclusive).get(1) as string, /401 invalid_token +FAIL \(inconclusive\)$/);
  assert.match(
    inconclusive.stderr,
    /^certbound: inconclusive: the token was not accepted with its owner's certificate \(case 1: 401 invalid_token\)/,
  );
  assert.doesNotMatch(inconclusive.stderr, /UNSAFE/);

  const refused = await runCli([
    'probe',
    `${resource.url}/`,
    ...clients(),
    ...exchange().slice(0, 2),
    '--subject-token',
    'wrong',
    '--audience',
    DEV_AUDIENCE,
  ]);
  assert.equal(refused.code, 1);
  assert.equal(refused.stdout, '');
  assert.match(refused.stderr, /^certbound: STS refused the exchange \(invalid_request: /);

  const unreachable = await runCli(['probe', 'https://127.0.0.1:1/', ...clients(), '--token', token]);
  assert.equal(unreachable.code, 1);
  assert.equal(unreachable.stdout, '');
  assert.match(unreachable.stderr, /^certbound: cannot reach https:\/\/127\.0\.0\.1:1: connect ECONNREFUSED/);
});

test('probe: bad flags are one line naming the flag, exit 2, before any request', async () => {
  const url = `${resource.url}/`;
  const empty = file('empty-token');
  await writeFile(empty, '');
  const cases: [string[], RegExp][] = [
    [[...clients(), '--token', 't'], /^certbound: probe: URL \(https\) is required$/],
    [['http://127.0.0.1:1/', ...clients(), '--token', 't'], /^certbound: probe: URL \(https\) is required$/],
    [[url, ...clients()], /give exactly one of --token, --token-file or --sts/],
    [[url, ...clients(), '--token', 't', ...exchange()], /give exactly one of --token, --token-file or --sts/],
    [[url, ...clients(), '--token', 't', '--audience', DEV_AUDIENCE], /--audience is for the exchange at --sts; with --token drop it/],
    [[url, ...clients(), '--token', 'not a token'], /--token is not a bearer token/],
    [[url, ...clients(), '--token-file', empty], /token file is empty/],
    [[url, ...clients(), '--sts', sts.url, '--subject-token', 's'], /--audience or --resource is required/],
    [[url, ...clients().slice(0, 6), '--token', 't'], /--other-cert is required/],
    [
      [url, ...clients().slice(0, 6), '--other-cert', file('alice.crt'), '--other-key', file('alice.key'), '--token', 't'],
      /--other-cert must be another client certificate than --tls-cert/,
    ],
    [
      [url, ...clients().slice(0, 6), '--other-cert', file('bob.crt'), '--other-key', file('alice.key'), '--token', 't'],
      /does not match the certificate/,
    ],
    [[url, ...clients(), '--token', 't', '--method', 'GET /'], /--method must be an HTTP method/],
    [[url, ...clients(), '--token', 't', '--bogus'], /--bogus/],
  ];
  for (const [args, message] of cases) assertBadFlag(await runCli(['probe', ...args]), message);
});
