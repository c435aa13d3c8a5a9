// A resource server behind a TLS-terminating proxy, over real TLS on loopback. The "proxy" is a
// TLS client bound to 127.0.0.1 (the trusted address) that presents its own client certificate
// and forwards alice's or bob's certificate in a header; an attacker is a client bound to
// 127.0.0.2, which Linux routes to lo like all of 127/8. For each header format (RFC 9440, XFCC,
// nginx's URL-encoded PEM, Traefik's base64 chain): only the trusted peer may carry the header, its certificate is the
// one the token must be bound to, and a header from anyone else is refused before the handler.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import type { SigningKey } from '../../src/core/signing/signer.js';
import { createBoundTokenVerifier } from '../../src/core/verify.js';
import type { ForwardedCertificateFormat } from '../../src/http/forwarded-certificate.js';
import { createResourceServer, type ResourceEvent } from '../../src/cli/servers/resource-server.js';
import { issueCertificate, type IssuedCertificate } from '../../src/pki/generate.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { agentFor, AUDIENCE, exchangeRequest, ISSUER, postToken, startSts } from '../helpers/servers.js';

const TRUSTED = '127.0.0.1';
const UNTRUSTED = '127.0.0.2';

let pki: TestPki;
/** The proxy's own client certificate, from the same CA: what the resource sees on the TLS connection. */
let proxyCert: IssuedCertificate;
let aliceToken: string;
let signingKey: SigningKey;
const cleanups: Array<() => unknown> = [];
const suite = { after: (fn: () => unknown) => cleanups.push(fn) };

/** How a proxy of each format writes a certificate into its header, and a value it could garble. */
const FORMATS: Record<ForwardedCertificateFormat, { header: string; encode: (cert: IssuedCertificate) => string; malformed: string }> = {
  rfc9440: {
    header: 'client-cert',
    encode: (cert) => `:${cert.der.toString('base64')}:`,
    malformed: ':not base64!:',
  },
  xfcc: {
    header: 'x-forwarded-client-cert',
    encode: (cert) =>
      `By=spiffe://domain.com/proxy;Hash=${createHash('sha256').update(cert.der).digest('hex')};Cert="${encodeURIComponent(cert.certPem)}";Subject="${cert.subject}";URI=spiffe://domain.com/client`,
    malformed: 'Hash=abc;Cert="unterminated',
  },
  'pem-urlencoded': {
    header: 'x-ssl-client-cert',
    encode: (cert) => encodeURIComponent(cert.certPem),
    malformed: '%E0%A4%A',
  },
  // Traefik's PassTLSClientCert (pem: true): the chain's PEM bodies, leaf first, joined by ','.
  traefik: {
    header: 'x-forwarded-tls-client-cert',
    encode: (cert) => [cert.certPem, pki.ca.certPem].map((pem) => pem.replace(/-----[A-Z ]+-----|\n/g, '')).join(','),
    malformed: 'MIIB!!',
  },
};

/** An undici agent that connects from `localAddress`, presenting `client` (or no certificate); closed with the file. */
function agentFrom(localAddress: string, client?: IssuedCertificate): Agent {
  // undici's Agent-level localAddress: the one inside `connect` is overwritten by it.
  const agent = new Agent({
    localAddress,
    connect: { ca: pki.ca.certPem, ...(client === undefined ? {} : { cert: client.certPem, key: client.keyPem }) },
  });
  cleanups.push(() => agent.close());
  return agent;
}

interface Resource {
  url: string;
  events: ResourceEvent[];
  allowed(): number;
}

async function startResource(format: ForwardedCertificateFormat, host = '127.0.0.1', addresses = [TRUSTED]): Promise<Resource> {
  const events: ResourceEvent[] = [];
  const server = createResourceServer({
    tls: { ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem },
    verifier: createBoundTokenVerifier({ keys: { keys: [signingKey.publicJwk] }, issuer: ISSUER, audience: AUDIENCE }),
    trustedProxy: { addresses, format },
    onEvent: (event) => events.push(event),
  });
  const url = await server.listen(0, host);
  cleanups.push(() => server.close());
  return { url: `https://127.0.0.1:${url.port}`, events, allowed: () => events.filter((event) => event.type === 'request.allowed').length };
}

interface Answer {
  status: number;
  challenge: string;
  requestId: string;
  body: Record<string, unknown>;
}

async function call(resource: Resource, agent: Agent, headers: Record<string, string>): Promise<Answer> {
  const response = await request(`${resource.url}/`, { dispatcher: agent, headers: { authorization: `Bearer ${aliceToken}`, ...headers } });
  const text = await response.body.text();
  return {
    status: response.statusCode,
    challenge: String(response.headers['www-authenticate'] ?? ''),
    requestId: String(response.headers['x-request-id']),
    body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
  };
}

/** The last event the resource logged, which must be a refusal with `code`. */
function assertRefusedEvent(resource: Resource, code: string): Extract<ResourceEvent, { type: 'request.refused' }> {
  const event = resource.events.at(-1);
  assert.equal(event?.type, 'request.refused', JSON.stringify(event));
  assert.equal((event as { code: string }).code, code);
  return event as Extract<ResourceEvent, { type: 'request.refused' }>;
}

before(async () => {
  pki = await createTestPki();
  proxyCert = await issueCertificate(pki.ca, { commonName: 'proxy.domain.com', usage: 'client' });
  const sts = await startSts(suite, pki);
  signingKey = sts.signingKey;
  const response = await postToken(agentFor(suite, pki, pki.alice), sts.url, exchangeRequest({ scope: 'read' }));
  assert.equal(response.status, 200, JSON.stringify(response.body));
  aliceToken = response.body.access_token as string;
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

for (const format of ['rfc9440', 'xfcc', 'pem-urlencoded'] as const) {
  const { header, encode, malformed } = FORMATS[format];

  describe(`behind a trusted proxy forwarding ${header} (${format})`, () => {
    let resource: Resource;
    let proxy: Agent;
    let attacker: Agent;
    let aliceDirect: Agent;
    before(async () => {
      resource = await startResource(format);
      proxy = agentFrom(TRUSTED, proxyCert);
      attacker = agentFrom(UNTRUSTED);
      aliceDirect = agentFrom(UNTRUSTED, pki.alice);
    });

    test("the proxy forwards alice's certificate with alice's token: 200 for alice", async () => {
      const answer = await call(resource, proxy, { [header]: encode(pki.alice) });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.body.subject, 'alice');
      assert.equal(answer.body['x5t#S256'], pki.alice.thumbprint);
      const event = resource.events.at(-1);
      assert.deepEqual(event, {
        type: 'request.allowed',
        subject: 'alice',
        clientId: 'alice',
        thumbprint: pki.alice.thumbprint,
        requestId: answer.requestId,
      });
    });

    test("the proxy forwards bob's certificate with alice's token: 401 invalid_token (cnf mismatch)", async () => {
      const answer = await call(resource, proxy, { [header]: encode(pki.bob) });
      assert.equal(answer.status, 401);
      assert.equal(answer.body.error, 'invalid_token');
      assert.equal(answer.body.error_description, 'token is bound to a different client certificate');
      assert.match(
        answer.challenge,
        /^Bearer error="invalid_token", error_description="token is bound to a different client certificate"$/,
      );
      const event = assertRefusedEvent(resource, 'CB_CNF_MISMATCH');
      assert.equal(event.detail, `token x5t#S256=${pki.alice.thumbprint}, connection x5t#S256=${pki.bob.thumbprint}`);
    });

    test('the proxy forwards no certificate: 401 invalid_token, even though its own TLS connection has one', async () => {
      const answer = await call(resource, proxy, {});
      assert.equal(answer.status, 401);
      assert.equal(answer.body.error, 'invalid_token');
      assert.equal(
        answer.body.error_description,
        'a client certificate is required to use a certificate-bound token (the proxy forwarded none)',
      );
      assert.match(answer.challenge, /^Bearer error="invalid_token"/);
      assertRefusedEvent(resource, 'CB_CLIENT_CERT_MISSING');
    });

    test("an untrusted peer forging the header with alice's certificate: 400 invalid_request, handler never runs", async () => {
      const before = resource.allowed();
      for (const agent of [attacker, aliceDirect]) {
        // Even alice's own TLS connection may not carry the header: it is refused, never ignored.
        const answer = await call(resource, agent, { [header]: encode(pki.alice) });
        assert.equal(answer.status, 400, JSON.stringify(answer.body));
        assert.equal(answer.body.error, 'invalid_request');
        assert.equal(answer.body.error_description, `${header} header from a peer that is not a trusted proxy`);
        assert.match(answer.challenge, /^Bearer error="invalid_request"/);
        const event = assertRefusedEvent(resource, 'CB_FORWARDED_CERT_UNTRUSTED');
        assert.equal(event.detail, `peer ${UNTRUSTED}`);
      }
      assert.equal(resource.allowed(), before, 'the handler ran for a forged header');
    });

    test('an untrusted peer with its own TLS client certificate and no header is served as usual', async () => {
      const answer = await call(resource, aliceDirect, {});
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.body.subject, 'alice');
      assert.equal(answer.body['x5t#S256'], pki.alice.thumbprint);
      assert.equal(resource.events.at(-1)?.type, 'request.allowed');
      // And without a certificate at all: the usual 401.
      const none = await call(resource, attacker, {});
      assert.equal(none.status, 401);
      assertRefusedEvent(resource, 'CB_CLIENT_CERT_MISSING');
    });

    test('the trusted proxy sends a garbled header: 400 invalid_request', async () => {
      const answer = await call(resource, proxy, { [header]: malformed });
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.equal(answer.body.error, 'invalid_request');
      assert.match(answer.challenge, /^Bearer error="invalid_request"/);
      assertRefusedEvent(resource, 'CB_FORWARDED_CERT_MALFORMED');
    });

    if (format === 'xfcc') {
      test("XFCC: an element the client smuggled in before the proxy's own is never used", async () => {
        const answer = await call(resource, proxy, { [header]: `${encode(pki.alice)},${encode(pki.bob)}` });
        assert.equal(answer.status, 401);
        const event = assertRefusedEvent(resource, 'CB_CNF_MISMATCH');
        assert.match(event.detail ?? '', new RegExp(`connection x5t#S256=${pki.bob.thumbprint}$`));
      });
    }
  });
}

describe('a dual-stack listener', () => {
  test('sees the IPv4 proxy as ::ffff:127.0.0.1 and still trusts it', async (t) => {
    let resource: Resource;
    try {
      resource = await startResource('pem-urlencoded', '::');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EAFNOSUPPORT' || code === 'EADDRNOTAVAIL') return t.skip(`no IPv6 on this machine (${code})`);
      throw error;
    }
    const proxy = agentFrom(TRUSTED, proxyCert);
    const answer = await call(resource, proxy, { 'x-ssl-client-cert': encodeURIComponent(pki.alice.certPem) });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.subject, 'alice');
    const forged = await call(resource, agentFrom(UNTRUSTED), { 'x-ssl-client-cert': encodeURIComponent(pki.alice.certPem) });
    assert.equal(forged.status, 400);
    assert.equal(assertRefusedEvent(resource, 'CB_FORWARDED_CERT_UNTRUSTED').detail, `peer ::ffff:${UNTRUSTED}`);
  });
});
