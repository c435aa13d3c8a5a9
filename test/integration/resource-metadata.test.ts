// RFC 9728 on the resource server: the metadata document is public and every challenge points to it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { createSigningKey } from '../../src/core/signing/signer.js';
import { withVerificationCache } from '../../src/core/verification-cache.js';
import { createBoundTokenVerifier } from '../../src/core/verify.js';
import { createResourceServer, type ResourceEvent } from '../../src/cli/servers/resource-server.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { agentFor, AUDIENCE, exchangeRequest, ISSUER, postToken, startSts } from '../helpers/servers.js';

let pki: TestPki;
let base: string;
let aliceToken: string;
const events: ResourceEvent[] = [];
const cleanups: Array<() => unknown> = [];
const suite = { after: (fn: () => unknown) => cleanups.push(fn) };
const METADATA_URL = 'https://server.domain.com:8443/.well-known/oauth-protected-resource';

before(async () => {
  pki = await createTestPki();
  const key = await createSigningKey({ privateKey: pki.jwtKeyPem });
  const sts = await startSts(suite, pki, { signingKey: key });
  aliceToken = (await postToken(agentFor(suite, pki, pki.alice), sts.url, exchangeRequest({ scope: 'read' }))).body.access_token as string;
  const verifier = withVerificationCache(createBoundTokenVerifier({ keys: { keys: [key.publicJwk] }, issuer: ISSUER, audience: AUDIENCE }));
  const server = createResourceServer({
    tls: { ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem },
    verifier,
    requiredScopes: ['read'],
    metadata: { resource: AUDIENCE, authorizationServers: [ISSUER], scopes: ['read'] },
    onEvent: (event) => events.push(event),
  });
  base = (await server.listen(0, '127.0.0.1')).origin;
  cleanups.push(() => server.close());
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('GET /.well-known/oauth-protected-resource needs no token or certificate', async () => {
  const response = await request(`${base}/.well-known/oauth-protected-resource`, { dispatcher: agentFor(suite, pki) });
  assert.equal(response.statusCode, 200);
  assert.deepEqual(await response.body.json(), {
    resource: AUDIENCE,
    authorization_servers: [ISSUER],
    bearer_methods_supported: ['header'],
    tls_client_certificate_bound_access_tokens: true,
    scopes_supported: ['read'],
  });
  const post = await request(`${base}/.well-known/oauth-protected-resource`, { method: 'POST', dispatcher: agentFor(suite, pki) });
  assert.equal(post.statusCode, 405);
  await post.body.dump();
});

test('challenges carry resource_metadata: with no token, and with a token bound to another certificate', async () => {
  const bare = await request(`${base}/`, { dispatcher: agentFor(suite, pki, pki.alice) });
  await bare.body.dump();
  assert.equal(bare.statusCode, 401);
  assert.equal(bare.headers['www-authenticate'], `Bearer resource_metadata="${METADATA_URL}"`);
  const stolen = await request(`${base}/`, {
    dispatcher: agentFor(suite, pki, pki.bob),
    headers: { authorization: `Bearer ${aliceToken}` },
  });
  await stolen.body.dump();
  assert.equal(stolen.statusCode, 401);
  assert.match(
    String(stolen.headers['www-authenticate']),
    new RegExp(`^Bearer error="invalid_token", error_description="[^"]+", resource_metadata="${METADATA_URL}"$`),
  );
});

test('with the verified-token cache on, the owner passes repeatedly and a thief is still refused after the owner', async () => {
  for (let round = 0; round < 3; round++) {
    const owner = await request(`${base}/`, {
      dispatcher: agentFor(suite, pki, pki.alice),
      headers: { authorization: `Bearer ${aliceToken}` },
    });
    assert.equal(owner.statusCode, 200);
    assert.equal(((await owner.body.json()) as { subject: string }).subject, 'alice');
    const thief = await request(`${base}/`, {
      dispatcher: agentFor(suite, pki, pki.bob),
      headers: { authorization: `Bearer ${aliceToken}` },
    });
    await thief.body.dump();
    assert.equal(thief.statusCode, 401);
  }
  assert.equal(events.filter((event) => event.type === 'request.refused' && event.code === 'CB_CNF_MISMATCH').length >= 3, true);
});
