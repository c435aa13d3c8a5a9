// RFC 8705 / RFC 8693 conformance through the CLI servers, over real mutual TLS: bound subject and
// actor tokens keep their binding through the exchange (and a gateway's exception is recorded in
// act), client_id selects the registration, and time claims that are not finite whole seconds are
// refused by the resource server, the gRPC server, the STS and introspection.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CompactSign, decodeJwt, exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { request, type Agent } from 'undici';
import { status } from '@grpc/grpc-js';
import { createMtlsAgent } from '../../src/client/mtls-agent.js';
import { GRANT_TYPE_CLIENT_CREDENTIALS, GRANT_TYPE_TOKEN_EXCHANGE, TOKEN_TYPE_JWT } from '../../src/core/rfc.js';
import { createSigningKey, type SigningKey } from '../../src/core/signing/signer.js';
import { issueCertificate, type IssuedCertificate } from '../../src/pki/generate.js';
import { bearer, callUnary, channelCredentials, echoClient } from '../helpers/grpc.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { postToken, type JsonResponse } from '../helpers/servers.js';
import { killAll, makeTempDir, removeTempDir, runCli, startServer, type CliServer } from './run.js';

const ISSUER = 'https://sts.domain.com';
const AUDIENCE = 'https://server.domain.com:8443';
const GRPC_AUDIENCE = 'https://grpc.domain.com:50051';
const IDP = 'https://idp.example.com';

let dir: string | undefined;
const file = (name: string): string => join(dir as string, name);
let pki: TestPki;
/** The gateway: registered with exchange_bound_tokens. */
let gateway: IssuedCertificate;
/** A resource server's client certificate, registered for introspection. */
let introspector: IssuedCertificate;
let stsKey: SigningKey;
type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
let idpKey: PrivateKey;
let sts: CliServer;
let strictSts: CliServer;
let resource: CliServer;
let grpc: CliServer;
const agents = new Map<string, Agent>();

function stsConfig(): string {
  return `issuer: ${ISSUER}
tls: { ca: ca.crt, cert: server.crt, key: server.key }
signing: { key: jwt.key, kid: sts-1 }
policy:
  clients:
    - client_id: alice
      certificate: { x5t#S256: ${pki.alice.thumbprint} }
      grant_types: [${GRANT_TYPE_TOKEN_EXCHANGE}, ${GRANT_TYPE_CLIENT_CREDENTIALS}]
      audiences: [${AUDIENCE}]
    - client_id: bob
      certificate: { subject_dn: "CN=bob, O=certbound dev" }
    - client_id: gateway
      certificate: { x5t#S256: ${gateway.thumbprint} }
      exchange_bound_tokens: true
    - client_id: introspector
      certificate: { x5t#S256: ${introspector.thumbprint} }
      introspection: true
  trusted_issuers:
    - issuer: ${IDP}
      jwks_file: idp-jwks.json
      audiences: [${ISSUER}]
      token_types: [${TOKEN_TYPE_JWT}]
      subjects:
        - { subject: "user-*", audiences: [${AUDIENCE}, ${GRPC_AUDIENCE}], may_act: ["svc-*"] }
        - { subject: "svc-*", audiences: [${AUDIENCE}] }
`;
}

before(async () => {
  dir = await makeTempDir('conformance');
  pki = await createTestPki();
  [gateway, introspector] = await Promise.all([
    issueCertificate(pki.ca, { commonName: 'gateway', usage: 'client' }),
    issueCertificate(pki.ca, { commonName: 'introspector', usage: 'client' }),
  ]);
  stsKey = await createSigningKey({ privateKey: pki.jwtKeyPem, kid: 'sts-1' });
  const idp = await generateKeyPair('ES256', { extractable: true });
  idpKey = idp.privateKey;
  const files: Record<string, string> = {
    'ca.crt': pki.ca.certPem,
    'server.crt': pki.server.certPem,
    'server.key': pki.server.keyPem,
    'jwt.key': pki.jwtKeyPem,
    'jwks.json': JSON.stringify({ keys: [stsKey.publicJwk] }),
    'idp-jwks.json': JSON.stringify({ keys: [{ ...(await exportJWK(idp.publicKey)), kid: 'idp-1', alg: 'ES256' }] }),
    'sts.yaml': stsConfig(),
    'strict-sts.yaml': `${stsConfig()}require_client_id: true\n`,
  };
  await Promise.all(Object.entries(files).map(([name, content]) => writeFile(file(name), content)));
  const protectedArgs = (kind: 'resource' | 'grpc-server', audience: string) => [
    kind,
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
    audience,
  ];
  [sts, strictSts, resource, grpc] = await Promise.all([
    startServer(['sts', '--config', file('sts.yaml'), '--port', '0']),
    startServer(['sts', '--config', file('strict-sts.yaml'), '--port', '0']),
    startServer(protectedArgs('resource', AUDIENCE)),
    startServer(protectedArgs('grpc-server', GRPC_AUDIENCE)),
  ]);
  for (const [name, certificate] of Object.entries({ alice: pki.alice, bob: pki.bob, gateway, introspector })) {
    agents.set(name, createMtlsAgent({ ca: pki.ca.certPem, cert: certificate.certPem, key: certificate.keyPem }));
  }
});

after(async () => {
  await Promise.all([...agents.values()].map((agent) => agent.close()));
  await killAll();
  await removeTempDir(dir);
});

const as = (name: 'alice' | 'bob' | 'gateway' | 'introspector'): Agent => agents.get(name) as Agent;
const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** A JWT from the trusted IdP for the STS, with claim overrides. */
function idpToken(claims: Record<string, unknown>): Promise<string> {
  const now = nowSeconds();
  return new SignJWT({ iss: IDP, aud: ISSUER, iat: now, exp: now + 300, ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: 'idp-1' })
    .sign(idpKey);
}

const boundTo = (certificate: IssuedCertificate) => ({ cnf: { 'x5t#S256': certificate.thumbprint } });

function exchange(subjectToken: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
    subject_token: subjectToken,
    subject_token_type: TOKEN_TYPE_JWT,
    audience: AUDIENCE,
    ...extra,
  };
}

function withActor(subjectToken: string, actorToken: string): Record<string, string> {
  return exchange(subjectToken, { actor_token: actorToken, actor_token_type: TOKEN_TYPE_JWT });
}

function issued(response: JsonResponse): JWTPayload {
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return decodeJwt(response.body.access_token as string);
}

function assertRefused(response: JsonResponse, httpStatus: number, error: string, description: string): void {
  assert.equal(response.status, httpStatus, JSON.stringify(response.body));
  assert.deepEqual(response.body, { error, error_description: description });
}

/**
 * The first refusal event the server logs after `mark` (a length of its stderr taken before the
 * request). Servers write their event lines once per event-loop turn, so wait for it.
 */
async function refusalAfter(server: CliServer, mark: number, type = 'token.refused'): Promise<Record<string, unknown>> {
  const matching = () =>
    server
      .stderr()
      .slice(mark)
      .split('\n')
      .filter((line) => line.includes(`"type":"${type}"`));
  await server.untilLogged(() => matching().length > 0, `${type} event`);
  return JSON.parse(matching()[0] as string) as Record<string, unknown>;
}

async function introspect(
  token: string,
  agent = as('introspector'),
  extra: Record<string, string> = {},
  stsUrl = sts.url,
): Promise<JsonResponse> {
  const response = await request(`${stsUrl}/introspect`, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, ...extra }).toString(),
  });
  return { status: response.statusCode, headers: response.headers, body: (await response.body.json()) as Record<string, unknown> };
}

describe('RFC 8705 §3 + RFC 8693: a bound subject token keeps its binding through the exchange', () => {
  test('bound to alice, exchanged by alice: a token bound to alice, no act', async () => {
    const claims = issued(await postToken(as('alice'), sts.url, exchange(await idpToken({ sub: 'user-1', ...boundTo(pki.alice) }))));
    assert.equal(claims.sub, 'user-1');
    assert.equal(claims.client_id, 'alice');
    assert.deepEqual(claims.cnf, { 'x5t#S256': pki.alice.thumbprint });
    assert.equal(claims.act, undefined);
  });

  test('bound to alice, exchanged by bob (a stolen bound token): 400 invalid_request, CB_SUBJECT_TOKEN_CNF_MISMATCH', async () => {
    const mark = sts.stderr().length;
    const response = await postToken(as('bob'), sts.url, exchange(await idpToken({ sub: 'user-1', ...boundTo(pki.alice) })));
    assertRefused(response, 400, 'invalid_request', 'subject_token is bound to a different client certificate');
    const event = await refusalAfter(sts, mark);
    assert.equal(event.code, 'CB_SUBJECT_TOKEN_CNF_MISMATCH');
    assert.equal(event.thumbprint, pki.bob.thumbprint);
    assert.match(String(event.detail), new RegExp(`bound to x5t#S256=${pki.alice.thumbprint}`));
  });

  test('bound to alice, exchanged by the gateway allowed to: bound to the gateway, act names it', async () => {
    const claims = issued(await postToken(as('gateway'), sts.url, exchange(await idpToken({ sub: 'user-1', ...boundTo(pki.alice) }))));
    assert.equal(claims.sub, 'user-1');
    assert.equal(claims.client_id, 'gateway');
    assert.deepEqual(claims.cnf, { 'x5t#S256': gateway.thumbprint });
    assert.deepEqual(claims.act, { sub: 'gateway' });
    // The gateway's token works over the gateway's connection only.
    const introspected = await introspect(
      await postToken(as('gateway'), sts.url, exchange(await idpToken({ sub: 'user-1', ...boundTo(pki.alice) }))).then(
        (r) => r.body.access_token as string,
      ),
    );
    assert.equal(introspected.body.active, true);
    assert.deepEqual(introspected.body.cnf, { 'x5t#S256': gateway.thumbprint });
  });

  test('an unbound subject token exchanged by the gateway has no act of the gateway (the exception applies only to bound tokens)', async () => {
    const claims = issued(await postToken(as('gateway'), sts.url, exchange(await idpToken({ sub: 'user-2' }))));
    assert.equal(claims.act, undefined);
    assert.deepEqual(claims.cnf, { 'x5t#S256': gateway.thumbprint });
  });

  const unsupported: Array<[string, Record<string, unknown>, string]> = [
    [
      'DPoP-bound (cnf jkt)',
      { cnf: { jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I' } },
      'subject_token is bound by a confirmation method this STS cannot check (cnf jkt)',
    ],
    [
      'bound by a raw key (cnf jwk)',
      { cnf: { jwk: { kty: 'EC' } } },
      'subject_token is bound by a confirmation method this STS cannot check (cnf jwk)',
    ],
    [
      'bound to alice and by jkt',
      { cnf: { 'x5t#S256': 'placeholder', jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I' } },
      'subject_token is bound by a confirmation method this STS cannot check (cnf jkt)',
    ],
    ['a cnf that is a string', { cnf: 'alice' }, 'subject_token has a cnf claim that is not a JSON object'],
    [
      'a padded, standard-base64 thumbprint',
      { cnf: { 'x5t#S256': 'placeholder-padded' } },
      'subject_token has a cnf x5t#S256 that is not a certificate thumbprint',
    ],
    ['an empty cnf', { cnf: {} }, 'subject_token is bound by a confirmation method this STS cannot check (cnf without members)'],
  ];
  for (const [name, claims, description] of unsupported) {
    test(`${name}: refused for alice and for the gateway, CB_SUBJECT_TOKEN_CNF_UNSUPPORTED`, async () => {
      const cnf = JSON.parse(
        JSON.stringify(claims)
          .replace('"placeholder-padded"', JSON.stringify(Buffer.from(pki.alice.der).toString('base64').slice(0, 42) + '='))
          .replace('"placeholder"', JSON.stringify(pki.alice.thumbprint)),
      ) as Record<string, unknown>;
      for (const who of ['alice', 'gateway'] as const) {
        const mark = sts.stderr().length;
        const response = await postToken(as(who), sts.url, exchange(await idpToken({ sub: 'user-1', ...cnf })));
        assertRefused(response, 400, 'invalid_request', description);
        assert.equal((await refusalAfter(sts, mark)).code, 'CB_SUBJECT_TOKEN_CNF_UNSUPPORTED');
      }
    });
  }
});

describe('RFC 8693 §2.1: a bound actor token keeps its binding too', () => {
  test('actor bound to alice, presented by alice: act names the actor', async () => {
    const claims = issued(
      await postToken(
        as('alice'),
        sts.url,
        withActor(await idpToken({ sub: 'user-1' }), await idpToken({ sub: 'svc-1', ...boundTo(pki.alice) })),
      ),
    );
    assert.deepEqual(claims.act, { sub: 'svc-1', iss: IDP });
    assert.deepEqual(claims.cnf, { 'x5t#S256': pki.alice.thumbprint });
  });

  test('actor bound to alice, presented by bob: 400 invalid_request', async () => {
    const mark = sts.stderr().length;
    const response = await postToken(
      as('bob'),
      sts.url,
      withActor(await idpToken({ sub: 'user-1' }), await idpToken({ sub: 'svc-1', ...boundTo(pki.alice) })),
    );
    assertRefused(response, 400, 'invalid_request', 'actor_token is bound to a different client certificate');
    assert.equal((await refusalAfter(sts, mark)).code, 'CB_SUBJECT_TOKEN_CNF_MISMATCH');
  });

  test('actor bound to alice, presented by the gateway: the gateway is the latest actor, the actor nested under it', async () => {
    const claims = issued(
      await postToken(
        as('gateway'),
        sts.url,
        withActor(await idpToken({ sub: 'user-1' }), await idpToken({ sub: 'svc-1', ...boundTo(pki.alice) })),
      ),
    );
    assert.deepEqual(claims.act, { sub: 'gateway', act: { sub: 'svc-1', iss: IDP } });
    assert.deepEqual(claims.cnf, { 'x5t#S256': gateway.thumbprint });
  });

  test('a DPoP-bound actor token is refused, for the gateway too', async () => {
    for (const who of ['alice', 'gateway'] as const) {
      const response = await postToken(
        as(who),
        sts.url,
        withActor(await idpToken({ sub: 'user-1' }), await idpToken({ sub: 'svc-1', cnf: { jkt: 'x' } })),
      );
      assertRefused(response, 400, 'invalid_request', 'actor_token is bound by a confirmation method this STS cannot check (cnf jkt)');
    }
  });
});

describe('RFC 8705 §2: client_id selects the registration the certificate must satisfy', () => {
  const clientCredentials = (clientId?: string) => ({
    grant_type: GRANT_TYPE_CLIENT_CREDENTIALS,
    ...(clientId === undefined ? {} : { client_id: clientId }),
  });

  test("alice's certificate with client_id=alice: a token for alice", async () => {
    const claims = issued(await postToken(as('alice'), sts.url, clientCredentials('alice')));
    assert.equal(claims.client_id, 'alice');
    assert.deepEqual(claims.cnf, { 'x5t#S256': pki.alice.thumbprint });
  });

  test("alice's certificate with client_id=bob or an unknown client_id: 401 invalid_client, one answer for both", async () => {
    for (const [clientId, detail] of [
      ['bob', 'registered client bob'],
      ['nobody', 'unknown client_id'],
    ] as const) {
      const mark = sts.stderr().length;
      const response = await postToken(as('alice'), sts.url, clientCredentials(clientId));
      assertRefused(response, 401, 'invalid_client', 'client certificate does not authenticate the client_id given');
      const event = await refusalAfter(sts, mark);
      assert.equal(event.code, 'CB_CLIENT_ID_MISMATCH');
      assert.match(String(event.detail), new RegExp(`^${detail} presented by x5t#S256=${pki.alice.thumbprint}$`));
    }
  });

  test('without client_id the certificate alone finds the client', async () => {
    assert.equal(issued(await postToken(as('alice'), sts.url, clientCredentials())).client_id, 'alice');
  });

  test('require_client_id: without client_id 401 invalid_client (CB_CLIENT_ID_REQUIRED); with it, a token', async () => {
    const mark = strictSts.stderr().length;
    assertRefused(
      await postToken(as('alice'), strictSts.url, clientCredentials()),
      401,
      'invalid_client',
      'client_id is required (RFC 8705 section 2)',
    );
    assert.equal((await refusalAfter(strictSts, mark)).code, 'CB_CLIENT_ID_REQUIRED');
    assert.equal(issued(await postToken(as('alice'), strictSts.url, clientCredentials('alice'))).client_id, 'alice');
  });

  test('/introspect: the introspector with its own client_id is answered, with another one or none under require_client_id refused', async () => {
    const token = (await postToken(as('alice'), sts.url, clientCredentials())).body.access_token as string;
    const answered = await introspect(token, as('introspector'), { client_id: 'introspector' });
    assert.equal(answered.status, 200);
    assert.equal(answered.body.active, true);
    const mark = sts.stderr().length;
    const other = await introspect(token, as('introspector'), { client_id: 'alice' });
    assertRefused(other, 401, 'invalid_client', 'client certificate does not authenticate the client_id given');
    assert.equal((await refusalAfter(sts, mark, 'introspection.refused')).code, 'CB_CLIENT_ID_MISMATCH');
    const anonymous = await introspect(token, as('introspector'), {}, strictSts.url);
    assertRefused(anonymous, 401, 'invalid_client', 'client_id is required (RFC 8705 section 2)');
  });

  test('certbound token --client-id against an STS that requires it', async () => {
    const args = (extra: string[]) => [
      'token',
      '--sts',
      strictSts.url,
      '--tls-ca',
      file('ca.crt'),
      '--tls-cert',
      file('alice.crt'),
      '--tls-key',
      file('alice.key'),
      '--subject-token',
      'unused',
      '--audience',
      AUDIENCE,
      ...extra,
    ];
    await writeFile(file('alice.crt'), pki.alice.certPem);
    await writeFile(file('alice.key'), pki.alice.keyPem);
    const without = await runCli(args([]));
    assert.equal(without.code, 1);
    assert.match(
      without.stderr,
      /^certbound: STS refused the exchange \(invalid_client: client_id is required \(RFC 8705 section 2\)\)\n$/,
    );
    // With the client_id the request reaches the grant, which finds the static token unknown.
    const named = await runCli(args(['--client-id', 'alice']));
    assert.equal(named.code, 1);
    assert.match(named.stderr, /invalid_request: subject_token is not valid/);
  });
});

describe('RFC 7519 §2: exp, nbf and iat must be finite whole seconds, in every verifier', () => {
  /** A token signed by `key` over the claims text as written (JSON.stringify cannot write 1e309). */
  const signText = (text: string, key: PrivateKey | SigningKey['privateKey'], header: { alg: string; kid: string; typ?: string }) =>
    new CompactSign(new TextEncoder().encode(text)).setProtectedHeader(header).sign(key);
  const infiniteExp = (claims: Record<string, unknown>): string => JSON.stringify({ ...claims, exp: 0 }).replace('"exp":0', '"exp":1e309');

  function accessTokenText(): string {
    const now = nowSeconds();
    return infiniteExp({
      iss: ISSUER,
      sub: 'alice',
      aud: [AUDIENCE, GRPC_AUDIENCE],
      iat: now,
      jti: 'j-1',
      client_id: 'alice',
      ...boundTo(pki.alice),
    });
  }

  test('resource: 401 invalid_token', async () => {
    const token = await signText(accessTokenText(), stsKey.privateKey, { alg: 'ES256', kid: 'sts-1', typ: 'at+jwt' });
    const response = await request(`${resource.url}/`, { dispatcher: as('alice'), headers: { authorization: `Bearer ${token}` } });
    await response.body.dump();
    assert.equal(response.statusCode, 401);
    assert.match(
      String(response.headers['www-authenticate']),
      /^Bearer .*error="invalid_token", error_description="exp claim must be a whole number of seconds"/,
    );
  });

  test('grpc-server: UNAUTHENTICATED', async (t) => {
    const token = await signText(accessTokenText(), stsKey.privateKey, { alg: 'ES256', kid: 'sts-1', typ: 'at+jwt' });
    const client = echoClient(t, `localhost:${new URL(grpc.url).port}`, channelCredentials(pki, pki.alice));
    const outcome = await callUnary(client, bearer(token));
    assert.equal(outcome.code, status.UNAUTHENTICATED);
    assert.equal(outcome.details, 'invalid_token: exp claim must be a whole number of seconds');
  });

  test('sts: a trusted issuer subject token with exp 1e309 is 400 invalid_request', async () => {
    const now = nowSeconds();
    const subjectToken = await signText(infiniteExp({ iss: IDP, aud: ISSUER, iat: now, sub: 'user-1' }), idpKey, {
      alg: 'ES256',
      kid: 'idp-1',
    });
    assertRefused(
      await postToken(as('alice'), sts.url, exchange(subjectToken)),
      400,
      'invalid_request',
      'subject_token exp claim must be a whole number of seconds',
    );
  });

  test('introspection: a token of the STS with exp 1e309 is inactive', async () => {
    const token = await signText(accessTokenText(), stsKey.privateKey, { alg: 'ES256', kid: 'sts-1', typ: 'at+jwt' });
    const response = await introspect(token);
    assert.equal(response.status, 200);
    assert.deepEqual(response.body, { active: false });
  });
});
