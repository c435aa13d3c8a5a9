// The CLI with keys in a PKCS#11 token: `pki init --pkcs11` makes alice's, bob's and the STS
// signing key in a real SoftHSM2 token; the STS signs with it, a resource and a gRPC server use a
// TLS key in it (SIGHUP reload included), and `call`/`grpc-call` present alice's key from it.
import assert from 'node:assert/strict';
import { access, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, before, test } from 'node:test';
import type { Pkcs11Signer } from '../../src/keys/pkcs11-signer.js';
import { issueCertificate, loadCertificateAuthority } from '../../src/pki/generate.js';
import { loadStsConfig } from '../../src/sts/config.js';
import { createSoftHsmToken, generateKeyPair, SOFTHSM_MODULE, storeCertificate, type SoftHsmToken } from '../helpers/softhsm.js';
import { killAll, lines, makeTempDir, removeTempDir, runCli, startServer, type CliServer, type RunResult } from './run.js';

const ISSUER = 'https://sts.domain.com:8081';
const AUDIENCE = 'https://server.domain.com:8443';
const GRPC_AUDIENCE = 'https://grpc.domain.com:50051';
const PIN = '24681357';

let dir: string;
let token: SoftHsmToken;
let sts: CliServer;
const file = (name: string): string => join(dir, name);
const inToken = (object: string): string => `pkcs11:token=${token.label};object=${object};type=private`;
const pkcs11Flags = (): string[] => ['--pkcs11-module', SOFTHSM_MODULE, '--pkcs11-pin-file', file('user.pin')];

before(async () => {
  dir = await makeTempDir('pkcs11');
  token = await createSoftHsmToken('certbound-cli', PIN);
  await writeFile(file('user.pin'), `${PIN}\n`, { mode: 0o600 });
  const init = await runCli(['pki', 'init', '--out', dir, '--pkcs11', `pkcs11:token=${token.label}`, ...pkcs11Flags()]);
  assert.equal(init.code, 0, init.stderr);
  for (const name of ['alice', 'bob', 'jwt']) {
    assert.match(
      init.stdout,
      new RegExp(`${name} key: in the PKCS#11 token, pkcs11:token=certbound-cli;object=certbound-${name};type=private`),
    );
    await assert.rejects(access(file(`${name}.key`)), { code: 'ENOENT' }, `${name}.key must not exist`);
  }
  // The resource's and gRPC server's TLS keys in the token too, certified by the dev CA.
  const ca = await loadCertificateAuthority(await readFile(file('ca.crt'), 'utf8'), await readFile(file('ca.key'), 'utf8'));
  for (const name of ['server', 'grpc', 'sts']) {
    const publicKey = await generateKeyPair(token, 'ec', `${name}-tls`);
    const issued = await issueCertificate(ca, {
      commonName: `${name}.domain.com`,
      usage: 'both',
      dnsNames: [`${name}.domain.com`, 'localhost'],
      ipAddresses: ['127.0.0.1'],
      publicKey,
    });
    await writeFile(file(`${name}-in-token.crt`), issued.certPem);
  }
  sts = await startServer(['sts', '--config', file('sts.yaml'), '--port', '0', '--workers', '1']);
});

after(async () => {
  await sts?.stop();
  await killAll();
  await token?.remove();
  await removeTempDir(dir);
});

const tlsFor = (name: string): string[] => [
  '--tls-ca',
  file('ca.crt'),
  '--tls-cert',
  file(`${name}-in-token.crt`),
  '--tls-key',
  inToken(`${name}-tls`),
];
const jwks = (): string[] => ['--jwks', `${sts.url}/.well-known/jwks.json`, '--issuer', ISSUER];
const alice = (audience: string): string[] => [
  '--sts',
  sts.url,
  '--tls-ca',
  file('ca.crt'),
  '--tls-cert',
  file('alice.crt'),
  '--tls-key',
  inToken('certbound-alice'),
  ...pkcs11Flags(),
  '--subject-token',
  'iamtheeggman',
  '--audience',
  audience,
];

/** One `certbound: ...` line on stderr, no stack, exit 2; returns it. */
function usageLine(result: RunResult): string {
  assert.equal(result.code, 2, `exit ${result.code}; stdout: ${result.stdout}; stderr: ${result.stderr}`);
  const stderr = lines(result.stderr);
  assert.equal(stderr.length, 1, result.stderr);
  assert.ok(stderr[0]?.startsWith('certbound: '), result.stderr);
  return stderr[0] as string;
}

test('STS signs in the token; resource with its TLS key there; call with alice’s key there; SIGHUP reload keeps it', async () => {
  const resource = await startServer(['resource', '--port', '0', ...tlsFor('server'), ...pkcs11Flags(), ...jwks(), '--audience', AUDIENCE]);
  try {
    const call = async (): Promise<void> => {
      const result = await runCli(['call', `${resource.url}/`, '--servername', 'server.domain.com', ...alice(AUDIENCE)]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr, '', 'nothing on stderr: no engine chatter, no deprecation warning');
      assert.equal((JSON.parse(result.stdout) as { subject: string }).subject, 'alice');
    };
    await call();
    resource.child.kill('SIGHUP');
    await resource.untilLogged('"type":"tls.reloaded"');
    await call();
  } finally {
    assert.deepEqual(await resource.stop(), { code: 0, signal: null });
  }
});

test('grpc-server with its TLS key in the token; grpc-call with alice’s key there for the STS and the channel', async () => {
  const server = await startServer([
    'grpc-server',
    '--port',
    '0',
    ...tlsFor('grpc'),
    ...pkcs11Flags(),
    ...jwks(),
    '--audience',
    GRPC_AUDIENCE,
  ]);
  try {
    const result = await runCli(['grpc-call', new URL(server.url).host, '--servername', 'grpc.domain.com', ...alice(GRPC_AUDIENCE)]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /token subject alice/);
  } finally {
    assert.deepEqual(await server.stop(), { code: 0, signal: null });
  }
});

test('a wrong PIN, no module, an unknown key, a certificate that is not the key’s: one line, exit 2, no PIN printed', async () => {
  await writeFile(file('wrong.pin'), '11112222\n');
  const wrong = usageLine(await runCli(['token', ...alice(AUDIENCE).map((arg) => (arg === file('user.pin') ? file('wrong.pin') : arg))]));
  assert.match(wrong, /the PIN is wrong \(it came from the PIN file .*wrong\.pin\)/);
  assert.ok(!wrong.includes('11112222'));
  const server = (...args: string[]) => runCli(['resource', '--port', '0', ...args, ...jwks(), '--audience', AUDIENCE]);
  const cases: Array<[string, Promise<RunResult>, RegExp]> = [
    ['no module', server(...tlsFor('server'), '--pkcs11-pin-file', file('user.pin')), /no PKCS#11 module/],
    [
      'a module that is not there',
      server(...tlsFor('server'), '--pkcs11-module', '/nonexistent/p11.so', '--pkcs11-pin-file', file('user.pin')),
      /p11\.so: cannot load the PKCS#11 module/,
    ],
    [
      'an unknown key',
      server('--tls-ca', file('ca.crt'), '--tls-cert', file('server-in-token.crt'), '--tls-key', inToken('nope'), ...pkcs11Flags()),
      /has no private key nope/,
    ],
    [
      'another certificate',
      server('--tls-ca', file('ca.crt'), '--tls-cert', file('grpc-in-token.crt'), '--tls-key', inToken('server-tls'), ...pkcs11Flags()),
      /the key in the PKCS#11 token does not match the certificate in .*grpc-in-token\.crt/,
    ],
    [
      'a PIN in the URI',
      server(
        '--tls-ca',
        file('ca.crt'),
        '--tls-cert',
        file('server-in-token.crt'),
        '--tls-key',
        `${inToken('server-tls')};pin-value=${PIN}`,
        ...pkcs11Flags(),
      ),
      /carries its PIN \(pin-value\)/,
    ],
  ];
  for (const [what, run, message] of cases) {
    const result = await run;
    const line = usageLine(result);
    assert.match(line, message, what);
    for (const pin of [PIN, '11112222']) assert.ok(!`${result.stderr}${result.stdout}`.includes(pin), `${what}: a PIN was printed`);
  }
});

test('the certificate from the token too: --tls-cert pkcs11:...;type=cert beside --tls-key pkcs11:...', async () => {
  storeCertificate(token, 'certbound-alice', await readFile(file('alice.crt'), 'utf8'));
  const args = alice(AUDIENCE).map((arg) =>
    arg === file('alice.crt') ? `pkcs11:token=${token.label};object=certbound-alice;type=cert` : arg,
  );
  const result = await runCli(['token', ...args]);
  assert.equal(result.code, 0, result.stderr);
  const claims = JSON.parse(
    Buffer.from((JSON.parse(result.stdout) as { access_token: string }).access_token.split('.')[1] as string, 'base64url').toString(),
  );
  assert.equal(claims.sub, 'alice');
  const missing = usageLine(
    await runCli(['token', ...args.map((arg) => arg.replace('object=certbound-alice;type=cert', 'object=nope;type=cert'))]),
  );
  assert.match(missing, /the PKCS#11 token has no certificate nope/);
});

test('the STS log names no PIN and no key material', () => {
  assert.match(sts.stderr(), /"type":"token.issued"/);
  assert.ok(!sts.stderr().includes(PIN));
});

test('keys generate/rotate --pkcs11, and an STS with its TLS key in the token too: the keystore’s keys are made in the token; the STS signs with the current one; a retired key stays until its tokens expire', async () => {
  const keystore = file('keystore');
  // This STS also serves TLS with a key in the token.
  const inKeystore = (await readFile(file('sts.yaml'), 'utf8'))
    .replace(/^signing:\n(?: {2}.*\n)+/m, `signing:\n  keystore: ${keystore}\n`)
    .replace(/^ {2}cert: sts\.crt\n {2}key: sts\.key\n/m, `  cert: sts-in-token.crt\n  key: "${inToken('sts-tls')}"\n`);
  assert.match(inKeystore, /key: "pkcs11:token=certbound-cli;object=sts-tls;type=private"/);
  await writeFile(file('sts-keystore.yaml'), inKeystore);
  const tokenFlags = ['--pkcs11', `pkcs11:token=${token.label}`, ...pkcs11Flags()];
  const generated = await runCli(['keys', 'generate', '--dir', keystore, ...tokenFlags]);
  assert.equal(generated.code, 0, generated.stderr);
  const first = /generated ES256 key (\S+) \(signing now, in PKCS#11 token "certbound-cli"\)/.exec(generated.stdout)?.[1];
  assert.ok(first !== undefined, generated.stdout);
  await assert.rejects(access(join(keystore, `${first}.key`)), { code: 'ENOENT' }, 'no key file for a key in the token');
  const index = JSON.parse(await readFile(join(keystore, 'keystore.json'), 'utf8')) as { keys: Array<{ kid: string; pkcs11?: string }> };
  assert.match(index.keys[0]?.pkcs11 ?? '', /^pkcs11:token=certbound-cli;object=certbound-sts-[0-9a-f]{12};type=private$/);

  const listed = await runCli(['keys', 'list', '--dir', keystore]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, new RegExp(`${first}\\s+ES256\\s+signing\\*`));
  assert.match(listed.stdout, /\* in a PKCS#11 token/);

  const keyed = await startServer(['sts', '--config', file('sts-keystore.yaml'), '--port', '0', '--workers', '1']);
  try {
    const issued = await runCli(['token', ...alice(AUDIENCE).map((arg) => (arg === sts.url ? keyed.url : arg))]);
    assert.equal(issued.code, 0, issued.stderr);
    const header = JSON.parse(
      Buffer.from((JSON.parse(issued.stdout) as { access_token: string }).access_token.split('.')[0] as string, 'base64url').toString(),
    );
    assert.equal(header.kid, first);
  } finally {
    assert.deepEqual(await keyed.stop(), { code: 0, signal: null });
  }

  // Rotations: the first key stops signing but stays published (and in the token) until its tokens expire.
  for (let round = 0; round < 2; round++) {
    const rotated = await runCli([
      'keys',
      'rotate',
      '--dir',
      keystore,
      '--publish-ahead',
      '0',
      '--max-token-lifetime',
      '1',
      '--alg',
      'RS256',
      ...tokenFlags,
    ]);
    assert.equal(rotated.code, 0, rotated.stderr);
  }
  const after = JSON.parse(await readFile(join(keystore, 'keystore.json'), 'utf8')) as { keys: Array<{ kid: string }> };
  const label = index.keys[0]?.pkcs11?.match(/object=([^;]+)/)?.[1] as string;
  const left = token.withSession((p11, session) => {
    p11.C_FindObjectsInit(session, [{ type: 3 /* CKA_LABEL */, value: label }]);
    const found = p11.C_FindObjects(session, 4);
    p11.C_FindObjectsFinal(session);
    return found.length;
  });
  assert.ok(
    after.keys.some((key) => key.kid === first),
    'the retired key is still published',
  );
  assert.equal(left, 2, 'its private and public objects are still in the token');
});

test('sts.yaml with signing.key pkcs11:…: the signer checks each signature when signing.verify_each_signature (or --verify-each-signature) says so', async () => {
  for (const [overrides, expected] of [
    [{}, false],
    [{ verifyEachSignature: true }, true],
  ] as const) {
    const { options } = await loadStsConfig(file('sts.yaml'), overrides);
    const signer = options.signingKey as Pkcs11Signer;
    assert.equal(signer.verifiesEachSignature, expected);
    assert.equal(signer.alg, 'ES256');
    signer.close();
  }
});

// Last: it takes the token away from every process using it (and gives it back).
test('the token directory removed under a resource whose TLS key is in it: the handshake fails, logged as tls.key_failed; nothing crashes', async () => {
  const resource = await startServer([
    'resource',
    '--port',
    '0',
    '--workers',
    '1',
    ...tlsFor('server'),
    ...pkcs11Flags(),
    ...jwks(),
    '--audience',
    AUDIENCE,
  ]);
  try {
    await rename(token.dir, `${token.dir}.away`);
    try {
      // Any client: the server cannot sign its half of the handshake.
      const url = new URL(resource.url);
      const socket = connect({
        host: url.hostname,
        port: Number(url.port),
        servername: 'server.domain.com',
        ca: await readFile(file('ca.crt')),
      });
      const outcome = await new Promise<string>((resolve) => {
        socket.once('secureConnect', () => resolve('connected'));
        socket.once('error', (error) => resolve(error.message));
      });
      socket.destroy();
      assert.notEqual(outcome, 'connected', 'no handshake completes without the token');
      await resource.untilLogged('"type":"tls.key_failed"');
      assert.match(resource.stderr(), /"type":"tls.key_failed","detail":"[^"]*PKCS#11 module/);
      assert.ok(!resource.stderr().includes(PIN));
    } finally {
      await rename(`${token.dir}.away`, token.dir);
    }
  } finally {
    assert.deepEqual(await resource.stop(), { code: 0, signal: null }, 'the resource server still stops cleanly');
  }
});
