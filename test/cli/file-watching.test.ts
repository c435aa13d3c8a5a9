// Files followed on disk (docs/file-watching.md), on real servers started as processes: no test
// here sends SIGHUP. A Kubernetes secret update under load, a certificate without its new key, a
// CRL renamed into place under --workers, a JWKS file rewritten, a keystore rotated.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { generateKeyPair, SignJWT, exportJWK, type CryptoKey, type KeyObject } from 'jose';
import { Agent, request } from 'undici';
import { createSigningKey, type SigningKey } from '../../src/core/signing/signer.js';
import { createCrl, issueCertificate, type IssuedCertificate, type LeafOptions } from '../../src/pki/generate.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { createSecretVolume, updateSecretVolume } from '../helpers/secret-volume.js';
import { whenever } from '../helpers/wait.js';
import { killAll, makeTempDir, pkiInit, removeTempDir, runCli, startServer, type CliServer } from './run.js';

const ISSUER = 'https://sts.domain.com';
const AUDIENCE = 'https://server.domain.com:8443';
/** The load loop stops here at the latest, whatever happened. */
const LOAD_LIMIT_MS = 20_000;
const LOAD_MAX_REQUESTS = 20_000;

let dir: string | undefined;
const file = (name: string): string => join(dir as string, name);
let pki: TestPki;
/** Server certificates from the same CA as pki.server, each with its own serial. */
let second: IssuedCertificate;
let third: IssuedCertificate;
let stsKey: SigningKey;
const agents: Agent[] = [];

before(async () => {
  dir = await makeTempDir('watch');
  pki = await createTestPki();
  const server: LeafOptions = { commonName: 'localhost', usage: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] };
  [second, third, stsKey] = await Promise.all([
    issueCertificate(pki.ca, server),
    issueCertificate(pki.ca, server),
    createSigningKey({ privateKey: pki.jwtKeyPem, kid: 'sts-1' }),
  ]);
  await Promise.all([
    writeFile(file('ca.crt'), pki.ca.certPem),
    writeFile(file('jwks.json'), JSON.stringify({ keys: [stsKey.publicJwk] })),
  ]);
});

after(async () => {
  await Promise.all(agents.map((agent) => agent.close()));
  await killAll();
  await removeTempDir(dir);
});

function agentFor(who: IssuedCertificate): Agent {
  const agent = new Agent({ connect: { ca: pki.ca.certPem, cert: who.certPem, key: who.keyPem } });
  agents.push(agent);
  return agent;
}

/** An access token bound to `who`, as the STS would issue it. */
function tokenFor(who: 'alice' | 'bob', key: KeyObject | CryptoKey = stsKey.privateKey, kid = 'sts-1'): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ client_id: who, cnf: { 'x5t#S256': pki[who].thumbprint } })
    .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
    .setIssuer(ISSUER)
    .setSubject(who)
    .setAudience(AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + 600)
    .setJti(`${who}-${now}`)
    .sign(key);
}

/** GET / with `token`; on a connection of its own unless `reuse`. */
async function get(url: string, agent: Agent, token: string, reuse = false): Promise<number> {
  const response = await request(`${url}/`, { dispatcher: agent, headers: { authorization: `Bearer ${token}` }, reset: !reuse });
  await response.body.dump();
  return response.statusCode;
}

/** The SHA-256 fingerprint of the certificate the server at `url` presents to a new connection. */
function servedFingerprint(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      {
        host: '127.0.0.1',
        port: Number(new URL(url).port),
        ca: pki.ca.certPem,
        cert: pki.alice.certPem,
        key: pki.alice.keyPem,
        servername: 'localhost',
      },
      () => {
        resolve(socket.getPeerX509Certificate()?.fingerprint256 ?? 'none');
        socket.end();
      },
    );
    socket.once('error', reject);
  });
}
const fingerprintOf = (certificate: IssuedCertificate): string => new X509Certificate(certificate.certPem).fingerprint256;

/** The server's event lines of `type`, parsed. */
function eventsOf(server: CliServer, type: string): Record<string, unknown>[] {
  return server
    .stderr()
    .split('\n')
    .filter((line) => line.includes(`"type":"${type}"`))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
const logged = (server: CliServer, type: string, match: (event: Record<string, unknown>) => boolean = () => true): Promise<void> =>
  server.untilLogged(() => eventsOf(server, type).some(match), type, 10_000);

function resourceArgs(cert: string, key: string, ...extra: string[]): string[] {
  return [
    'resource',
    '--port',
    '0',
    '--tls-ca',
    file('ca.crt'),
    '--tls-cert',
    cert,
    '--tls-key',
    key,
    '--jwks',
    file('jwks.json'),
    '--issuer',
    ISSUER,
    '--audience',
    AUDIENCE,
    ...extra,
  ];
}

const pair = (certificate: IssuedCertificate) => ({ 'tls.crt': certificate.certPem, 'tls.key': certificate.keyPem });

describe('TLS files', () => {
  test('a Kubernetes secret update (..data flip) under load: zero failed requests, new connections get the new certificate', async () => {
    const volume = file('secret');
    await createSecretVolume(volume, pair(pki.server));
    const resource = await startServer(resourceArgs(join(volume, 'tls.crt'), join(volume, 'tls.key')));
    const token = await tokenFor('alice');
    const [fresh, pooled] = [agentFor(pki.alice), agentFor(pki.alice)];
    assert.equal(await servedFingerprint(resource.url), fingerprintOf(pki.server));

    const progress = new EventEmitter();
    const failures: string[] = [];
    let ok = 0;
    let stopping = false;
    const deadline = Date.now() + LOAD_LIMIT_MS;
    // Two clients handshake for every request (they meet the reload), two keep their connections.
    const client = async (reuse: boolean): Promise<void> => {
      while (!stopping && Date.now() < deadline && ok + failures.length < LOAD_MAX_REQUESTS) {
        try {
          const status = await get(resource.url, reuse ? pooled : fresh, token, reuse);
          if (status === 200) ok += 1;
          else failures.push(`HTTP ${status}`);
        } catch (error) {
          failures.push((error as Error).message);
        }
        progress.emit('request');
      }
    };
    const clients = [false, false, true, true].map(client);
    try {
      await whenever(progress, 'request', () => ok >= 20, 'load running', { timeoutMs: LOAD_LIMIT_MS });
      await updateSecretVolume(volume, pair(second));
      await logged(resource, 'tls.reloaded');
      const atReload = ok;
      await whenever(progress, 'request', () => ok >= atReload + 40, 'load after the reload', { timeoutMs: LOAD_LIMIT_MS });
      assert.equal(await servedFingerprint(resource.url), fingerprintOf(second));
      // The old payload directory is gone: the next update must still be seen.
      await updateSecretVolume(volume, pair(third));
      await logged(resource, 'tls.reloaded', () => eventsOf(resource, 'tls.reloaded').length >= 2);
      const atSecondReload = ok;
      await whenever(progress, 'request', () => ok >= atSecondReload + 40, 'load after the second reload', { timeoutMs: LOAD_LIMIT_MS });
      assert.equal(await servedFingerprint(resource.url), fingerprintOf(third));
    } finally {
      stopping = true;
      await Promise.all(clients);
    }
    assert.deepEqual(failures, [], `${failures.length} of ${ok + failures.length} requests failed`);
    const reloads = eventsOf(resource, 'tls.reloaded');
    assert.deepEqual(reloads[0]?.files, [join(volume, 'tls.crt'), join(volume, 'tls.key')]);
    assert.ok(
      reloads.every((event) => event.trigger === 'file'),
      JSON.stringify(reloads),
    );
    assert.deepEqual(eventsOf(resource, 'tls.reload_failed'), []);
    assert.deepEqual(await resource.stop(), { code: 0, signal: null });
  });

  test('a certificate written without its key keeps the old pair and says why; the key arriving reloads', async () => {
    const [cert, key] = [file('plain.crt'), file('plain.key')];
    await Promise.all([writeFile(cert, pki.server.certPem), writeFile(key, pki.server.keyPem)]);
    const resource = await startServer(resourceArgs(cert, key));
    try {
      await writeFile(cert, second.certPem);
      const mismatch = (event: Record<string, unknown>): boolean =>
        event.detail === `${key}: private key does not match the certificate in ${cert}`;
      await logged(resource, 'tls.reload_failed', mismatch);
      const failed = eventsOf(resource, 'tls.reload_failed').find(mismatch);
      assert.equal(failed?.trigger, 'file');
      assert.deepEqual(failed?.files, [cert]);
      assert.equal(await servedFingerprint(resource.url), fingerprintOf(pki.server), 'the last good pair stays');
      assert.equal(await get(resource.url, agentFor(pki.alice), await tokenFor('alice')), 200);

      await writeFile(key, second.keyPem);
      await logged(resource, 'tls.reloaded');
      assert.deepEqual(eventsOf(resource, 'tls.reloaded')[0]?.files, [key]);
      assert.equal(await servedFingerprint(resource.url), fingerprintOf(second));
      assert.doesNotMatch(resource.stderr(), /BEGIN|PRIVATE KEY/, 'no file content in the log');
    } finally {
      assert.deepEqual(await resource.stop(), { code: 0, signal: null });
    }
  });

  test('--workers 2: a CRL renamed into place reaches both workers, which refuse the revoked client', async () => {
    const crl = file('ca.crl');
    await writeFile(crl, await createCrl(pki.ca, { revoked: [] }));
    await writeFile(file('both.crt'), pki.server.certPem);
    await writeFile(file('both.key'), pki.server.keyPem);
    const resource = await startServer(resourceArgs(file('both.crt'), file('both.key'), '--tls-crl', crl, '--workers', '2'));
    try {
      const [alice, bob] = [await tokenFor('alice'), await tokenFor('bob')];
      assert.equal(await get(resource.url, agentFor(pki.bob), bob), 200);

      await writeFile(`${crl}.tmp`, await createCrl(pki.ca, { revoked: [pki.bob.certPem] }));
      await rename(`${crl}.tmp`, crl);
      const pids = (): Set<unknown> => new Set(eventsOf(resource, 'tls.reloaded').map((event) => event.pid));
      await resource.untilLogged(() => pids().size === 2, 'both workers reloaded', 10_000);
      assert.ok(eventsOf(resource, 'tls.reloaded').every((event) => event.trigger === 'file' && String(event.files) === crl));
      // New connections go round-robin to both workers: every one refuses bob.
      for (let i = 0; i < 4; i++) assert.equal(await get(resource.url, agentFor(pki.bob), bob), 401, `request ${i}`);
      assert.equal(await get(resource.url, agentFor(pki.alice), alice), 200);
    } finally {
      assert.deepEqual(await resource.stop(), { code: 0, signal: null });
    }
  });
});

test('a JWKS file rewritten: the new key verifies; a broken rewrite keeps the keys', async () => {
  const jwks = file('rotating-jwks.json');
  await writeFile(jwks, JSON.stringify({ keys: [stsKey.publicJwk] }));
  await writeFile(file('jwks.crt'), pki.server.certPem);
  await writeFile(file('jwks.key'), pki.server.keyPem);
  const args = resourceArgs(file('jwks.crt'), file('jwks.key'));
  args[args.indexOf('--jwks') + 1] = jwks;
  const resource = await startServer(args);
  try {
    const next = await generateKeyPair('ES256');
    const token = await tokenFor('alice', next.privateKey, 'sts-2');
    const agent = agentFor(pki.alice);
    assert.equal(await get(resource.url, agent, token), 401, 'an unknown key before the rewrite');

    const nextJwk = { ...(await exportJWK(next.publicKey)), kid: 'sts-2', alg: 'ES256', use: 'sig' };
    await writeFile(jwks, JSON.stringify({ keys: [stsKey.publicJwk, nextJwk] }));
    await logged(resource, 'jwks.reloaded');
    const [reloaded] = eventsOf(resource, 'jwks.reloaded');
    assert.equal(reloaded?.trigger, 'file');
    assert.deepEqual(reloaded?.files, [jwks]);
    assert.equal(await get(resource.url, agent, token), 200);

    // A write is seen half done at times (an empty file): wait for a failure after this one.
    const failedBefore = eventsOf(resource, 'jwks.reload_failed').length;
    await writeFile(jwks, '{ "keys": [');
    await resource.untilLogged(() => eventsOf(resource, 'jwks.reload_failed').length > failedBefore, 'jwks.reload_failed', 10_000);
    assert.equal(eventsOf(resource, 'jwks.reload_failed').at(-1)?.detail, `${jwks}: JWKS file is not valid JSON`);
    assert.equal(await get(resource.url, agent, token), 200, 'the last good keys stay');
    assert.equal(await get(resource.url, agent, await tokenFor('alice')), 200);
  } finally {
    assert.deepEqual(await resource.stop(), { code: 0, signal: null });
  }
});

test('sts: keys rotate reloads the keystore at once (trigger file), without waiting for its periodic check', async () => {
  const pkiDir = await makeTempDir('watch-sts');
  try {
    await pkiInit(pkiDir);
    const keystore = join(pkiDir, 'keystore');
    assert.equal((await runCli(['keys', 'generate', '--dir', keystore])).code, 0);
    const base = await readFile(join(pkiDir, 'sts.yaml'), 'utf8');
    await writeFile(join(pkiDir, 'sts-keystore.yaml'), base.replace(/signing:\n(?: {2}.*\n)+/, 'signing:\n  keystore: keystore\n'));
    const sts = await startServer(['sts', '--config', join(pkiDir, 'sts-keystore.yaml'), '--port', '0']);
    try {
      assert.equal((await runCli(['keys', 'rotate', '--dir', keystore])).code, 0);
      await logged(sts, 'keystore.reloaded', (event) => event.trigger === 'file' && event.keys === 2);
      const agent = new Agent({ connect: { ca: await readFile(join(pkiDir, 'ca.crt'), 'utf8') } });
      agents.push(agent);
      const published = (await (await request(`${sts.url}/.well-known/jwks.json`, { dispatcher: agent })).body.json()) as {
        keys: unknown[];
      };
      assert.equal(published.keys.length, 2);
    } finally {
      assert.deepEqual(await sts.stop(), { code: 0, signal: null });
    }
  } finally {
    await removeTempDir(pkiDir);
  }
});

test('authz: a JWKS file renamed into place verifies the new key', async () => {
  const jwks = file('authz-jwks.json');
  await writeFile(jwks, JSON.stringify({ keys: [stsKey.publicJwk] }));
  const authz = await startServer([
    'authz',
    ...['--port', '0', '--jwks', jwks, '--issuer', ISSUER, '--audience', AUDIENCE],
    ...['--client-cert-format', 'pem-urlencoded', '--default-rule', 'any'],
  ]);
  try {
    const next = await generateKeyPair('ES256');
    const token = await tokenFor('alice', next.privateKey, 'sts-2');
    const ask = async (): Promise<number> => {
      const response = await request(`${authz.url}/authz`, {
        headers: {
          'x-original-method': 'GET',
          'x-original-uri': '/orders/1',
          'x-ssl-client-cert': encodeURIComponent(pki.alice.certPem),
          authorization: `Bearer ${token}`,
        },
      });
      await response.body.dump();
      return response.statusCode;
    };
    assert.equal(await ask(), 401, 'an unknown key before the change');

    const nextJwk = { ...(await exportJWK(next.publicKey)), kid: 'sts-2', alg: 'ES256', use: 'sig' };
    await writeFile(`${jwks}.tmp`, JSON.stringify({ keys: [nextJwk] }));
    await rename(`${jwks}.tmp`, jwks);
    await logged(authz, 'jwks.reloaded', (event) => event.trigger === 'file' && String(event.files) === jwks);
    assert.equal(await ask(), 200);
  } finally {
    assert.deepEqual(await authz.stop(), { code: 0, signal: null });
  }
});
