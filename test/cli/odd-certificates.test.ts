// Client certificates with every kind of SubjectAltName (all nine RFC 5280 GeneralName types,
// well-formed and malformed, random extension bytes, 1500 names), sent over real mutual TLS to
// real servers: `certbound sts`, `certbound resource` and `certbound grpc-server` as processes,
// and the Fastify plugin and Express middleware on node:https in this process. Whatever the
// certificate, nothing answers 5xx: the STS judges a certificate before it reads its names, and
// refuses names it cannot read with 401 invalid_client; resource servers only hash it.
//
// The oracles are the two parsers involved, not this file: OpenSSL (node:crypto checkIssued, the
// same check by which the TLS layer finds the issuer; it fails for a SAN OpenSSL cannot decode)
// decides whether the certificate is CA-verified, and @peculiar/x509 (readCertificateFacts)
// decides whether its names can be read.
import assert from 'node:assert/strict';
import { createPrivateKey, randomUUID, X509Certificate, type KeyObject } from 'node:crypto';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { status as grpcStatus } from '@grpc/grpc-js';
import express from 'express';
import fastify, { type FastifyInstance } from 'fastify';
import fc from 'fast-check';
import { decodeJwt, SignJWT } from 'jose';
import { request, type Agent } from 'undici';
import { stringify as toYaml } from 'yaml';
import { createMtlsAgent } from '../../src/client/mtls-agent.js';
import { readCertificateFacts } from '../../src/core/certificate/facts.js';
import { GRANT_TYPE_CLIENT_CREDENTIALS, GRANT_TYPE_TOKEN_EXCHANGE } from '../../src/core/rfc.js';
import { createSigningKey } from '../../src/core/signing/signer.js';
import { createBoundTokenVerifier, type BoundTokenVerifier } from '../../src/core/verify.js';
import { createExpressMiddleware } from '../../src/http/express.js';
import { certboundFastify } from '../../src/http/fastify.js';
import { resourceMetadataUrl } from '../../src/http/resource-metadata.js';
import type { IssuedCertificate } from '../../src/pki/generate.js';
import { bearer, callUnary, channelCredentials, echoClient, type Outcome } from '../helpers/grpc.js';
import {
  describeSan,
  FIXED_NAMES,
  GENERAL_NAME_TYPES,
  hugeSan,
  issueOddCertificate,
  SAN_EXAMPLES,
  sanExtension,
  sanOf,
  type GeneralNameType,
  type SanFixture,
} from '../helpers/odd-certificates.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { killAll, makeTempDir, removeTempDir, startServer, type CliServer } from './run.js';

const ISSUER = 'https://sts.domain.com';
const AUDIENCE = 'https://server.domain.com:8443';
const KID = 'sts-1';
const REGISTERED_SUBJECT = 'CN=odd-registered, O=certbound dev';
const METADATA = resourceMetadataUrl(AUDIENCE);
/** A refusal's log event reaches this process through a pipe; it gets this long to arrive. */
const LOG_TIMEOUT_MS = 10_000;

const UNTRUSTED = 'client certificate was not issued by a trusted CA or is not valid';
const UNREADABLE = 'client certificate names cannot be read';
const NOT_REGISTERED = 'client certificate is not registered with this STS';
const NOT_THIS_CLIENT = 'client certificate does not authenticate the client_id given';

let dir: string | undefined;
let pki: TestPki;
let caCertificate: X509Certificate;
let jwtKey: KeyObject;
let verifier: BoundTokenVerifier;
/** Self-signed, with an ediPartyName SAN, registered as odd-self-signed by its thumbprint. */
let selfSigned: IssuedCertificate;
let sts: CliServer;
let resource: CliServer;
let grpcServer: CliServer;
let grpcTarget: string;
let fastifyUrl: string;
let expressUrl: string;
const cleanups: Array<() => unknown> = [];

// ---------------------------------------------------------------------------------------------
// Oracles

interface Verdict {
  /** OpenSSL finds the test CA as its issuer: the TLS layer calls it authorized. */
  caVerified: boolean;
  /** @peculiar/x509 reads its subject and SANs. */
  namesReadable: boolean;
}

function judge(certificate: IssuedCertificate): Verdict {
  const caVerified = new X509Certificate(certificate.der).checkIssued(caCertificate);
  let namesReadable = true;
  try {
    readCertificateFacts(certificate.der);
  } catch {
    namesReadable = false;
  }
  return { caVerified, namesReadable };
}

/** What the STS says to a CA-signed certificate that no registration names (no client_id). */
function unregisteredRefusal(verdict: Verdict): { code: string; description: string } {
  if (!verdict.caVerified) return { code: 'CB_CLIENT_UNAUTHENTICATED', description: UNTRUSTED };
  if (!verdict.namesReadable) return { code: 'CB_CLIENT_UNAUTHENTICATED', description: UNREADABLE };
  return { code: 'CB_CLIENT_NOT_REGISTERED', description: NOT_REGISTERED };
}

/** The same certificate claiming to be alice (registered by x5t#S256) with client_id=alice. */
function aliceRefusal(verdict: Verdict): { code: string; description: string } {
  if (!verdict.caVerified) return { code: 'CB_CLIENT_UNAUTHENTICATED', description: UNTRUSTED };
  if (!verdict.namesReadable) return { code: 'CB_CLIENT_UNAUTHENTICATED', description: UNREADABLE };
  return { code: 'CB_CLIENT_ID_MISMATCH', description: NOT_THIS_CLIENT };
}

/** For assertion messages: enough to replay a failure by hand. */
function where(certificate: IssuedCertificate, san: SanFixture, verdict?: Verdict): string {
  return `SAN ${describeSan(san)}${verdict === undefined ? '' : ` ${JSON.stringify(verdict)}`}; certificate (base64 DER) ${certificate.der.toString('base64')}`;
}

// ---------------------------------------------------------------------------------------------
// Requests

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: Record<string, unknown> | undefined;
}

async function answerOf(response: Awaited<ReturnType<typeof request>>): Promise<Answer> {
  const text = await response.body.text();
  let body: Record<string, unknown> | undefined;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = undefined;
  }
  return { status: response.statusCode, headers: response.headers, text, body };
}

function post(agent: Agent, base: string, path: string, form: Record<string, string>): Promise<Answer> {
  return request(`${base}${path}`, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  }).then(answerOf);
}

function get(agent: Agent, url: string, token?: string): Promise<Answer> {
  return request(url, { dispatcher: agent, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } }).then(answerOf);
}

type GrantBody = 'token-exchange' | 'client_credentials';

function tokenBody(grant: GrantBody, extra: Record<string, string> = {}): Record<string, string> {
  const body: Record<string, string> =
    grant === 'token-exchange'
      ? {
          grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
          subject_token: 'odd-subject-token',
          subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
          audience: AUDIENCE,
        }
      : { grant_type: GRANT_TYPE_CLIENT_CREDENTIALS, audience: AUDIENCE };
  return { ...body, ...extra };
}

/** Run `fn` with an mTLS agent presenting `certificate`; the agent is closed afterwards. */
async function withAgent<T>(certificate: IssuedCertificate, fn: (agent: Agent) => Promise<T>): Promise<T> {
  const agent = createMtlsAgent({ ca: pki.ca.certPem, cert: certificate.certPem, key: certificate.keyPem });
  try {
    return await fn(agent);
  } finally {
    await agent.close();
  }
}

/** A 401 invalid_client with exactly this description. */
function assertInvalidClient(answer: Answer, description: string, context: string): void {
  assert.equal(answer.status, 401, `${answer.status} ${answer.text}; ${context}`);
  assert.deepEqual(answer.body, { error: 'invalid_client', error_description: description }, context);
}

/** SayHello over a fresh gRPC channel presenting `certificate`, closed afterwards. */
async function sayHello(certificate: IssuedCertificate, token: string): Promise<Outcome> {
  const closers: Array<() => unknown> = [];
  const client = echoClient({ after: (fn) => closers.push(fn) }, grpcTarget, channelCredentials(pki, certificate));
  try {
    return await callUnary(client, bearer(token), '');
  } finally {
    for (const close of closers) await close();
  }
}

/** An RFC 9068 access token for `subject`, bound to `thumbprint`, as the STS would sign it. */
async function boundToken(thumbprint: string, subject = 'odd'): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ client_id: subject, cnf: { 'x5t#S256': thumbprint } })
    .setProtectedHeader({ alg: 'ES256', kid: KID, typ: 'at+jwt' })
    .setIssuer(ISSUER)
    .setSubject(subject)
    .setAudience(AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .setJti(randomUUID())
    .sign(jwtKey);
}

// ---------------------------------------------------------------------------------------------
// Server logs

type LogEvent = Record<string, unknown>;

/** The complete JSON lines of a server's stderr (a line still being written is left out). */
function eventsOf(server: CliServer): LogEvent[] {
  const complete = server.stderr().split('\n').slice(0, -1);
  return complete.flatMap((line) => {
    try {
      return [JSON.parse(line) as LogEvent];
    } catch {
      return [];
    }
  });
}

/** Resolve with the server's events for `thumbprint` once there are `count` of them (bounded wait on stderr data). */
function eventsFor(server: CliServer, thumbprint: string, count: number): Promise<LogEvent[]> {
  const stream = server.child.stderr;
  return new Promise((resolve, reject) => {
    const matching = (): LogEvent[] => eventsOf(server).filter((event) => event.thumbprint === thumbprint);
    const onData = (): void => {
      const events = matching();
      if (events.length < count) return;
      finish();
      resolve(events);
    };
    const timer = setTimeout(() => {
      finish();
      reject(
        new Error(
          `${server.name}: ${count} events for ${thumbprint} not logged within ${LOG_TIMEOUT_MS} ms; got ${JSON.stringify(matching())}`,
        ),
      );
    }, LOG_TIMEOUT_MS);
    const finish = (): void => {
      clearTimeout(timer);
      stream?.off('data', onData);
    };
    stream?.on('data', onData);
    onData();
  });
}

function isJsonObject(line: string): boolean {
  try {
    const value: unknown = JSON.parse(line);
    return value !== null && typeof value === 'object' && !Array.isArray(value);
  } catch {
    return false;
  }
}

const summary = (events: LogEvent[]): Array<{ type: unknown; code: unknown; description: unknown }> =>
  events.map((event) => ({ type: event.type, code: event.code, description: event.description }));

// ---------------------------------------------------------------------------------------------
// What each server must say to one certificate

/** STS: /token (no client_id), /introspect, /token with client_id=alice; all 401 invalid_client, each logged. */
async function checkUnregisteredAtSts(certificate: IssuedCertificate, san: SanFixture, grant: GrantBody): Promise<Verdict> {
  const verdict = judge(certificate);
  const context = where(certificate, san, verdict);
  const refusal = unregisteredRefusal(verdict);
  const asAlice = aliceRefusal(verdict);
  await withAgent(certificate, async (agent) => {
    assertInvalidClient(await post(agent, sts.url, '/token', tokenBody(grant)), refusal.description, context);
    assertInvalidClient(await post(agent, sts.url, '/introspect', { token: 'anything' }), refusal.description, context);
    assertInvalidClient(await post(agent, sts.url, '/token', tokenBody(grant, { client_id: 'alice' })), asAlice.description, context);
  });
  assert.deepEqual(
    summary(await eventsFor(sts, certificate.thumbprint, 3)),
    [
      { type: 'token.refused', ...refusal },
      { type: 'introspection.refused', ...refusal },
      { type: 'token.refused', ...asAlice },
    ],
    context,
  );
  return verdict;
}

/** STS: /introspect from a certificate registered by subject DN (introspection: true). */
async function checkRegisteredIntrospection(certificate: IssuedCertificate, san: SanFixture): Promise<Verdict> {
  const verdict = judge(certificate);
  const context = where(certificate, san, verdict);
  const answer = await withAgent(certificate, (agent) => post(agent, sts.url, '/introspect', { token: 'anything' }));
  if (verdict.caVerified && verdict.namesReadable) {
    assert.equal(answer.status, 200, `${answer.text}; ${context}`);
    assert.deepEqual(answer.body, { active: false }, context);
  } else {
    assertInvalidClient(answer, verdict.caVerified ? UNREADABLE : UNTRUSTED, context);
    assert.deepEqual(
      summary(await eventsFor(sts, certificate.thumbprint, 1)),
      [{ type: 'introspection.refused', code: 'CB_CLIENT_UNAUTHENTICATED', description: verdict.caVerified ? UNREADABLE : UNTRUSTED }],
      context,
    );
  }
  return verdict;
}

/** Resource servers and gRPC: a bound token is accepted whenever the TLS layer verified the certificate. */
async function checkResources(certificate: IssuedCertificate, san: SanFixture): Promise<Verdict> {
  const verdict = judge(certificate);
  const context = where(certificate, san, verdict);
  const token = await boundToken(certificate.thumbprint);
  const routes = [
    { name: 'certbound resource', url: `${resource.url}/`, metadata: true },
    { name: 'Fastify', url: `${fastifyUrl}/odd`, metadata: false },
    { name: 'Express', url: `${expressUrl}/odd`, metadata: false },
  ];
  await withAgent(certificate, async (agent) => {
    for (const route of routes) {
      const suffix = route.metadata ? `resource_metadata="${METADATA}"` : '';
      const allowed = await get(agent, route.url, token);
      if (verdict.caVerified) {
        assert.equal(allowed.status, 200, `${route.name}: ${allowed.text}; ${context}`);
        const expected = route.metadata
          ? { message: 'hello odd', subject: 'odd', client_id: 'odd', scope: '', 'x5t#S256': certificate.thumbprint }
          : { subject: 'odd', thumbprint: certificate.thumbprint };
        assert.deepEqual(allowed.body, expected, `${route.name}; ${context}`);
      } else {
        assert.equal(allowed.status, 401, `${route.name}: ${allowed.text}; ${context}`);
        const challenge = `Bearer error="invalid_token", error_description="${UNTRUSTED}"${suffix === '' ? '' : `, ${suffix}`}`;
        assert.equal(allowed.headers['www-authenticate'], challenge, `${route.name}; ${context}`);
      }
      const anonymous = await get(agent, route.url);
      assert.equal(anonymous.status, 401, `${route.name} without a token: ${anonymous.text}; ${context}`);
      assert.equal(anonymous.headers['www-authenticate'], suffix === '' ? 'Bearer' : `Bearer ${suffix}`, `${route.name}; ${context}`);
    }
  });
  const outcome = await sayHello(certificate, token);
  if (verdict.caVerified) {
    assert.deepEqual(
      outcome,
      {
        code: grpcStatus.OK,
        details: 'OK',
        trailer: undefined,
        replies: [`Hello odd (token subject odd, bound to x5t#S256 ${certificate.thumbprint})`],
      },
      context,
    );
  } else {
    // grpc-server wants a CA-verified certificate at the handshake: no call without one.
    assert.equal(outcome.code, grpcStatus.UNAVAILABLE, `${JSON.stringify(outcome)}; ${context}`);
  }
  return verdict;
}

// ---------------------------------------------------------------------------------------------
// Servers

function listen(server: ReturnType<typeof createHttpsServer>): Promise<string> {
  server.listen(0, '127.0.0.1');
  cleanups.push(() => new Promise<void>((done) => server.close(() => done())));
  return once(server, 'listening').then(() => `https://127.0.0.1:${(server.address() as AddressInfo).port}`);
}

before(async () => {
  pki = await createTestPki();
  caCertificate = new X509Certificate(pki.ca.certPem);
  jwtKey = createPrivateKey(pki.jwtKeyPem);
  const signingKey = await createSigningKey({ privateKey: pki.jwtKeyPem, kid: KID });
  verifier = createBoundTokenVerifier({ keys: { keys: [signingKey.publicJwk] }, issuer: ISSUER, audience: AUDIENCE });
  selfSigned = await issueOddCertificate({ san: sanOf([FIXED_NAMES.ediPartyName]) });

  dir = await makeTempDir('odd');
  const file = (name: string): string => join(dir as string, name);
  const config = {
    issuer: ISSUER,
    tls: { ca: 'ca.crt', cert: 'server.crt', key: 'server.key' },
    signing: { key: 'jwt.key', kid: KID },
    policy: {
      clients: [
        {
          client_id: 'alice',
          certificate: { 'x5t#S256': pki.alice.thumbprint },
          grant_types: [GRANT_TYPE_CLIENT_CREDENTIALS],
          audiences: [AUDIENCE],
        },
        { client_id: 'odd-registered', certificate: { subject_dn: REGISTERED_SUBJECT }, introspection: true },
        {
          client_id: 'odd-self-signed',
          auth_method: 'self_signed_tls_client_auth',
          certificates: [selfSigned.thumbprint],
          audiences: [AUDIENCE],
          grant_types: [GRANT_TYPE_CLIENT_CREDENTIALS],
        },
      ],
    },
  };
  await Promise.all([
    writeFile(file('ca.crt'), pki.ca.certPem),
    writeFile(file('server.crt'), pki.server.certPem),
    writeFile(file('server.key'), pki.server.keyPem),
    writeFile(file('jwt.key'), pki.jwtKeyPem),
    writeFile(file('jwks.json'), JSON.stringify({ keys: [signingKey.publicJwk] })),
    writeFile(file('sts.yaml'), toYaml(config)),
  ]);
  const protectedArgs = [
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
    AUDIENCE,
  ];
  [sts, resource, grpcServer] = await Promise.all([
    startServer(['sts', '--config', file('sts.yaml'), '--port', '0']),
    startServer(['resource', ...protectedArgs]),
    startServer(['grpc-server', ...protectedArgs]),
  ]);
  // The server certificate names localhost and 127.0.0.1; gRPC checks it against the target's host.
  grpcTarget = `localhost:${new URL(grpcServer.url).port}`;

  const tls = {
    ca: pki.ca.certPem,
    cert: pki.server.certPem,
    key: pki.server.keyPem,
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: 'TLSv1.2' as const,
  };
  const app: FastifyInstance = fastify({ https: tls }) as unknown as FastifyInstance;
  await app.register(certboundFastify, { verifier });
  app.get('/odd', async (req) => ({ subject: req.certbound?.subject, thumbprint: req.certbound?.thumbprint }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  cleanups.push(() => app.close());
  fastifyUrl = `https://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

  const expressApp = express();
  expressApp.get('/odd', createExpressMiddleware({ verifier }), (req, res) => {
    res.json({ subject: req.certbound?.subject, thumbprint: req.certbound?.thumbprint });
  });
  expressUrl = await listen(createHttpsServer(tls, expressApp));
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await Promise.all([sts, resource, grpcServer].filter((server) => server !== undefined).map((server) => server.stop()));
  await killAll();
  await removeTempDir(dir);
});

// ---------------------------------------------------------------------------------------------
// Properties

const RUNS = 30;
const grantBody = fc.constantFrom<GrantBody>('token-exchange', 'client_credentials');

test('STS: a CA-signed odd certificate nobody registered gets 401 invalid_client at /token and /introspect, never a 5xx', async () => {
  const typesSent = new Set<GeneralNameType | 'unknown'>();
  const verdicts = new Set<string>();
  await fc.assert(
    fc.asyncProperty(sanExtension, grantBody, async (san, grant) => {
      for (const item of san.names) typesSent.add(item.type);
      const certificate = await issueOddCertificate({ san, issuer: pki.ca });
      const verdict = await checkUnregisteredAtSts(certificate, san, grant);
      verdicts.add(unregisteredRefusal(verdict).description);
    }),
    { numRuns: RUNS, examples: SAN_EXAMPLES.map((san, index) => [san, index % 2 === 0 ? 'token-exchange' : 'client_credentials']) },
  );
  // The examples put every GeneralName type on the wire and reach all three refusals.
  for (const type of GENERAL_NAME_TYPES) assert.ok(typesSent.has(type), `no ${type} was sent`);
  assert.deepEqual([...verdicts].sort(), [UNREADABLE, NOT_REGISTERED, UNTRUSTED].sort());
});

test('STS: an odd certificate registered by subject DN may introspect when its names parse, and gets 401 when they do not', async () => {
  const outcomes = new Set<string>();
  await fc.assert(
    fc.asyncProperty(sanExtension, async (san) => {
      const certificate = await issueOddCertificate({ san, issuer: pki.ca, subject: REGISTERED_SUBJECT });
      const verdict = await checkRegisteredIntrospection(certificate, san);
      outcomes.add(JSON.stringify(verdict));
    }),
    { numRuns: RUNS, examples: SAN_EXAMPLES.map((san) => [san]) },
  );
  assert.ok(outcomes.has(JSON.stringify({ caVerified: true, namesReadable: true })), 'no registered certificate was admitted');
  assert.ok(outcomes.has(JSON.stringify({ caVerified: true, namesReadable: false })), 'no registered certificate had unreadable names');
});

test('STS: a self-signed odd certificate nobody registered is refused before its names are read', async () => {
  await fc.assert(
    fc.asyncProperty(sanExtension, grantBody, async (san, grant) => {
      const certificate = await issueOddCertificate({ san });
      const context = where(certificate, san);
      assert.equal(judge(certificate).caVerified, false, context);
      await withAgent(certificate, async (agent) => {
        assertInvalidClient(await post(agent, sts.url, '/token', tokenBody(grant)), UNTRUSTED, context);
        assertInvalidClient(await post(agent, sts.url, '/introspect', { token: 'anything' }), UNTRUSTED, context);
      });
      const refused = { code: 'CB_CLIENT_UNAUTHENTICATED', description: UNTRUSTED };
      assert.deepEqual(
        summary(await eventsFor(sts, certificate.thumbprint, 2)),
        [
          { type: 'token.refused', ...refused },
          { type: 'introspection.refused', ...refused },
        ],
        context,
      );
    }),
    { numRuns: 25, examples: SAN_EXAMPLES.slice(0, 4).map((san) => [san, 'client_credentials']) },
  );
});

test('STS: the registered self-signed certificate with an ediPartyName SAN gets a client_credentials token (its names are never parsed)', async () => {
  const san = sanOf([FIXED_NAMES.ediPartyName]);
  // The premise: @peculiar/x509 cannot read this SAN, and no CA signed the certificate.
  assert.throws(() => readCertificateFacts(selfSigned.der), /EDIPartyName/);
  assert.equal(judge(selfSigned).caVerified, false);
  const answer = await withAgent(selfSigned, (agent) =>
    post(agent, sts.url, '/token', { grant_type: GRANT_TYPE_CLIENT_CREDENTIALS, audience: AUDIENCE }),
  );
  assert.equal(answer.status, 200, `${answer.text}; ${where(selfSigned, san)}`);
  assert.equal(answer.body?.token_type, 'Bearer');
  const claims = decodeJwt(String(answer.body?.access_token));
  assert.equal(claims.client_id, 'odd-self-signed');
  assert.equal(claims.sub, 'odd-self-signed');
  assert.deepEqual(claims.aud, AUDIENCE);
  assert.deepEqual(claims.cnf, { 'x5t#S256': selfSigned.thumbprint });
  const [issued] = await eventsFor(sts, selfSigned.thumbprint, 1);
  assert.equal(issued?.type, 'token.issued');
  assert.equal(issued?.clientId, 'odd-self-signed');
});

test('resource, Fastify, Express and grpc-server: a bound token from an odd certificate is admitted when TLS verified it', async () => {
  const verdicts = new Set<boolean>();
  await fc.assert(
    fc.asyncProperty(sanExtension, async (san) => {
      const certificate = await issueOddCertificate({ san, issuer: pki.ca });
      verdicts.add((await checkResources(certificate, san)).caVerified);
    }),
    { numRuns: RUNS, examples: SAN_EXAMPLES.map((san) => [san]) },
  );
  assert.deepEqual([...verdicts].sort(), [false, true]);
});

test('a SAN of 1500 dNSNames (and one more with an ediPartyName after them) everywhere', async () => {
  const huge = hugeSan(1500);
  const hugeOdd = hugeSan(1500, [FIXED_NAMES.ediPartyName]);
  const [plain, odd, registered, registeredOdd] = await Promise.all([
    issueOddCertificate({ san: huge, issuer: pki.ca }),
    issueOddCertificate({ san: hugeOdd, issuer: pki.ca }),
    issueOddCertificate({ san: huge, issuer: pki.ca, subject: REGISTERED_SUBJECT }),
    issueOddCertificate({ san: hugeOdd, issuer: pki.ca, subject: REGISTERED_SUBJECT }),
  ]);
  assert.ok(plain.der.length > 30_000, `only ${plain.der.length} bytes`);
  assert.deepEqual(judge(plain), { caVerified: true, namesReadable: true });
  assert.deepEqual(judge(odd), { caVerified: true, namesReadable: false });
  assert.equal(readCertificateFacts(plain.der).san.dns.length, 1500);
  await checkUnregisteredAtSts(plain, huge, 'client_credentials');
  await checkUnregisteredAtSts(odd, hugeOdd, 'token-exchange');
  assert.deepEqual(await checkRegisteredIntrospection(registered, huge), { caVerified: true, namesReadable: true });
  assert.deepEqual(await checkRegisteredIntrospection(registeredOdd, hugeOdd), { caVerified: true, namesReadable: false });
  assert.equal((await checkResources(plain, huge)).caVerified, true);
  assert.equal((await checkResources(odd, hugeOdd)).caVerified, true);
});

test('afterwards: no server logged a server.error, every server still answers, and alice still gets and uses a token', async () => {
  for (const server of [sts, resource, grpcServer]) {
    assert.equal(server.child.exitCode, null, `${server.name} exited`);
    assert.equal(server.child.signalCode, null, `${server.name} was killed`);
    const lines = server
      .stderr()
      .split('\n')
      .filter((line) => line !== '');
    assert.ok(lines.length > 0, `${server.name} logged nothing`);
    // Every line is one JSON event: no stack trace, no warning, no half-written line.
    assert.deepEqual(
      lines.filter((line) => !isJsonObject(line)),
      [],
      `${server.name} wrote lines that are not JSON events`,
    );
    assert.deepEqual(
      lines.filter((line) => /"type":"server\.error"|CB_INTERNAL/.test(line)),
      [],
      `${server.name} logged an internal error`,
    );
  }
  // The STS did log the refusals the properties caused, so the checks above looked at a real log.
  assert.ok(
    eventsOf(sts).some((event) => event.type === 'token.refused' && event.description === UNREADABLE),
    'no unreadable-names refusal was logged',
  );

  await withAgent(pki.alice, async (agent) => {
    assert.equal((await get(agent, `${sts.url}/healthz`)).status, 200);
    assert.equal((await get(agent, `${resource.url}/healthz`)).status, 200);
    const issued = await post(agent, sts.url, '/token', { grant_type: GRANT_TYPE_CLIENT_CREDENTIALS, audience: AUDIENCE });
    assert.equal(issued.status, 200, issued.text);
    const token = String(issued.body?.access_token);
    for (const url of [`${resource.url}/`, `${fastifyUrl}/odd`, `${expressUrl}/odd`]) {
      const answer = await get(agent, url, token);
      assert.equal(answer.status, 200, `${url}: ${answer.text}`);
      assert.equal(answer.body?.subject, 'alice');
    }
    assert.deepEqual(await sayHello(pki.alice, token), {
      code: grpcStatus.OK,
      details: 'OK',
      trailer: undefined,
      replies: [`Hello alice (token subject alice, bound to x5t#S256 ${pki.alice.thumbprint})`],
    });
  });
});
