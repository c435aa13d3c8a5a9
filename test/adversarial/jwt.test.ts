// Adversarial JWT access tokens against a real resource server (HTTPS, mutual TLS) and a real
// gRPC server with the certbound interceptor. Every token here is built by hand (header, payload
// and signature bytes) or with jose, never by certbound's own signer, so the test cannot share a
// bug with the code under test. Each refusal is asserted exactly (status, OAuth error, challenge,
// description, certbound code), and after each one a valid request proves the server still serves.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { Metadata, status } from '@grpc/grpc-js';
import { calculateJwkThumbprint, exportJWK, SignJWT, type JWK } from 'jose';
import { request, type Agent } from 'undici';
import type { CertboundErrorCode } from '../../src/core/errors.js';
import { createBoundTokenVerifier, createJoseReferenceVerifier, type BoundTokenVerifier } from '../../src/core/verify.js';
import { createResourceServer, type ResourceEvent } from '../../src/cli/servers/resource-server.js';
import { createCertificateAuthority, issueCertificate, type IssuedCertificate } from '../../src/pki/generate.js';
import {
  callUnary,
  channelCredentials,
  echoClient,
  startInterceptedServer,
  type EchoClient,
  type InterceptedServer,
  type Outcome,
} from '../helpers/grpc.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { agentFor, AUDIENCE, ISSUER } from '../helpers/servers.js';
import {
  b64u,
  compactJws,
  createCertificateChain,
  ecdsaSigner,
  hmacSigner,
  rawGrpcUnary,
  rawHttpsGet,
  rsaSigner,
  segmentsOf,
  startCountingServer,
  x5tS256,
  type CertificateChain,
  type CountingServer,
  type RawResponse,
  type Signer,
} from './jwt-forge.js';

type After = { after(fn: () => unknown): void };
/** Whose certificate is on the connection. */
type Presenter = 'alice' | 'bob' | 'dave' | 'plus';

const cleanups: Array<() => unknown> = [];
const suite: After = { after: (fn) => cleanups.push(fn) };

let pki: TestPki;
/** The issuer's ES256 key (pki.jwtKeyPem), its kid and public JWK as the verifier knows it. */
let issuerKey: KeyObject;
let issuerKid: string;
let issuerJwk: JWK;
/** An attacker's own ES256 key and self-signed certificate, published on the counting server. */
let attacker: { key: KeyObject; jwk: JWK; kid: string; certPem: string };
/** An attacker's RSA key. */
let rsaKey: KeyObject;
/** root → intermediate → leaf "dave": the servers trust `root` besides the test CA. */
let chain: CertificateChain;
/** A client certificate (test CA) whose base64url thumbprint contains '-' or '_'. */
let plus: IssuedCertificate;
let counting: CountingServer;
let verifier: BoundTokenVerifier;
let resource: { origin: string; port: number; caBundle: string };
const httpEvents: ResourceEvent[] = [];
const agents = {} as Record<Presenter, Agent>;
let grpcServer: InterceptedServer;
const grpcClients = {} as Record<Presenter, EchoClient>;
const grpcRefusals: string[] = [];

const certificateOf = (who: Presenter): IssuedCertificate =>
  who === 'dave' ? { ...chain.leaf, certPem: chain.leafChainPem } : who === 'plus' ? plus : pki[who];

before(async () => {
  pki = await createTestPki();
  issuerKey = createPrivateKey(pki.jwtKeyPem);
  const jwk = await exportJWK(createPublicKey(issuerKey));
  issuerKid = await calculateJwkThumbprint(jwk, 'sha256');
  issuerJwk = { ...jwk, kid: issuerKid, alg: 'ES256', use: 'sig' };

  const attackerCa = await createCertificateAuthority({ commonName: 'attacker' });
  const attackerKey = createPrivateKey(attackerCa.keyPem);
  attacker = { key: attackerKey, jwk: await exportJWK(createPublicKey(attackerKey)), kid: 'attacker-key-1', certPem: attackerCa.certPem };
  rsaKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  chain = await createCertificateChain('dave');

  // A certificate whose thumbprint differs between base64url and standard base64.
  const candidates = [pki.alice, pki.bob, pki.carol];
  for (let attempt = 0; attempt < 40 && !candidates.some((c) => /[-_]/.test(c.thumbprint)); attempt++) {
    candidates.push(await issueCertificate(pki.ca, { commonName: `plus${attempt}`, usage: 'client' }));
  }
  const found = candidates.find((c) => /[-_]/.test(c.thumbprint));
  assert.ok(found, 'no certificate with - or _ in its thumbprint after 43 tries');
  plus = found;

  counting = await startCountingServer(suite, {
    '/jwks.json': {
      type: 'application/json',
      body: JSON.stringify({
        keys: [
          { ...attacker.jwk, kid: attacker.kid, alg: 'ES256', use: 'sig' },
          // The attacker's key again, under the issuer's kid.
          { ...attacker.jwk, kid: issuerKid, alg: 'ES256', use: 'sig' },
        ],
      }),
    },
    '/attacker.pem': { type: 'application/pem-certificate-chain', body: attacker.certPem },
  });

  verifier = createBoundTokenVerifier({ keys: { keys: [issuerJwk] }, issuer: ISSUER, audience: AUDIENCE });
  const caBundle = `${pki.ca.certPem}${chain.root.certPem}`;
  const server = createResourceServer({
    tls: { ca: caBundle, cert: pki.server.certPem, key: pki.server.keyPem },
    verifier,
    onEvent: (event) => httpEvents.push(event),
  });
  const url = await server.listen(0, '127.0.0.1');
  cleanups.push(() => server.close());
  resource = { origin: url.origin, port: Number(url.port), caBundle };

  grpcServer = await startInterceptedServer(
    suite,
    { ...pki, ca: { ...pki.ca, certPem: caBundle } },
    { verifier, onEvent: (event) => void (event.type === 'call.refused' && grpcRefusals.push(event.error.code)) },
  );
  for (const who of ['alice', 'bob', 'dave', 'plus'] as const) {
    agents[who] = agentFor(suite, pki, certificateOf(who));
    grpcClients[who] = echoClient(suite, grpcServer.target, channelCredentials(pki, certificateOf(who)));
  }
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

// ---------------------------------------------------------------------------------------------
// Tokens

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** RFC 9068 §2.2 claims of a valid token for alice, bound (RFC 8705 §3.1) to `boundTo`. */
function claimsFor(
  overrides: Record<string, unknown> = {},
  drop: readonly string[] = [],
  boundTo: string = pki.alice.thumbprint,
): Record<string, unknown> {
  const iat = nowSeconds();
  const claims: Record<string, unknown> = {
    iss: ISSUER,
    sub: 'alice',
    aud: AUDIENCE,
    client_id: 'alice',
    iat,
    exp: iat + 300,
    jti: randomUUID(),
    scope: 'read',
    cnf: { 'x5t#S256': boundTo },
    ...overrides,
  };
  for (const name of drop) delete claims[name];
  return claims;
}

function headerFor(overrides: Record<string, unknown> = {}, drop: readonly string[] = []): Record<string, unknown> {
  const header: Record<string, unknown> = { alg: 'ES256', kid: issuerKid, typ: 'at+jwt', ...overrides };
  for (const name of drop) delete header[name];
  return header;
}

const issuerSigner = (): Signer => ecdsaSigner(issuerKey);

/** A hand-built token: header and claims serialized as given, signed by the issuer unless told otherwise. */
function forge(
  change: {
    header?: Record<string, unknown>;
    dropHeader?: string[];
    claims?: Record<string, unknown>;
    drop?: string[];
    signer?: Signer | 'none';
  } = {},
): string {
  const signer = change.signer === 'none' ? undefined : (change.signer ?? issuerSigner());
  return compactJws(
    JSON.stringify(headerFor(change.header, change.dropHeader)),
    JSON.stringify(claimsFor(change.claims, change.drop)),
    signer,
  );
}

/** The same valid token, signed by jose: the reference encoder. */
function joseToken(boundTo: string = pki.alice.thumbprint, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claimsFor({}, [], boundTo))
    .setProtectedHeader({ alg: 'ES256', kid: issuerKid, typ: 'at+jwt', ...header })
    .sign(issuerKey);
}

/**
 * Claims JSON with `name` twice: `first` as the first member, `last` as the last (RFC 7519 §4:
 * a parser either rejects duplicates or keeps the lexically last one).
 */
function duplicateMemberJson(object: Record<string, unknown>, name: string, first: unknown, last: unknown): string {
  const rest = { ...object };
  delete rest[name];
  const inner = JSON.stringify(rest).slice(1, -1);
  const text = `{${JSON.stringify(name)}:${JSON.stringify(first)},${inner},${JSON.stringify(name)}:${JSON.stringify(last)}}`;
  assert.equal(text.split(`${JSON.stringify(name)}:`).length - 1, 2, `the hand-built JSON must hold "${name}" twice`);
  return text;
}

// ---------------------------------------------------------------------------------------------
// HTTP

interface HttpAnswer {
  status: number;
  challenge: string | undefined;
  body: Record<string, unknown>;
  /** Resource-server events this one request produced. */
  events: ResourceEvent[];
}

async function httpGet(who: Presenter | Agent, headers: Record<string, string | string[]> = {}, path = '/'): Promise<HttpAnswer> {
  const before = httpEvents.length;
  const dispatcher = typeof who === 'string' ? agents[who] : who;
  const response = await request(`${resource.origin}${path}`, { dispatcher, headers, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const text = await response.body.text();
  const challenge = response.headers['www-authenticate'];
  return {
    status: response.statusCode,
    challenge: challenge === undefined ? undefined : String(challenge),
    body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
    events: httpEvents.slice(before),
  };
}

function fromRaw(raw: RawResponse, before: number): HttpAnswer {
  const challenge = raw.headers.get('www-authenticate');
  return {
    status: raw.status,
    challenge: challenge === undefined ? undefined : challenge.join(', '),
    body: raw.body === '' ? {} : (JSON.parse(raw.body) as Record<string, unknown>),
    events: httpEvents.slice(before),
  };
}

/** One GET over a fresh mutual-TLS connection with exactly these header lines. */
async function rawGet(who: Presenter, headerLines: string[], path = '/'): Promise<HttpAnswer> {
  const before = httpEvents.length;
  const certificate = certificateOf(who);
  const raw = await rawHttpsGet({
    port: resource.port,
    ca: pki.ca.certPem,
    cert: certificate.certPem,
    key: certificate.keyPem,
    headerLines,
    path,
  });
  assert.notEqual(raw.status, 0, `no HTTP response (socket: ${raw.socketError ?? 'closed'}): ${JSON.stringify(raw.raw.slice(0, 200))}`);
  return fromRaw(raw, before);
}

const bearerHeader = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** RFC 6750 §3 quoting as docs/errors.md specifies it: `"` and `\` become `'`, non-ASCII `?`. */
const quoted = (text: string): string => text.replace(/["\\]/g, "'").replace(/[^\x20-\x7E]/g, '?');

function refusalEvent(answer: HttpAnswer): string | undefined {
  const refused = answer.events.filter((event) => event.type === 'request.refused');
  assert.equal(refused.length, 1, `expected one refusal event, got ${JSON.stringify(answer.events)}`);
  const [event] = refused;
  return event?.type === 'request.refused' ? event.code : undefined;
}

/** An RFC 6750 §3.1 refusal with an error code: exact status, challenge, body and event. */
function assertRefusedHttp(
  answer: HttpAnswer,
  expected: { status: 400 | 401; error: 'invalid_token' | 'invalid_request'; description: string; code: CertboundErrorCode },
): void {
  const context = JSON.stringify({ status: answer.status, body: answer.body, challenge: answer.challenge });
  assert.equal(answer.status, expected.status, context);
  assert.deepEqual(answer.body, { error: expected.error, error_description: expected.description }, context);
  assert.equal(answer.challenge, `Bearer error="${expected.error}", error_description="${quoted(expected.description)}"`);
  assert.equal(refusalEvent(answer), expected.code);
}

function assertInvalidTokenHttp(answer: HttpAnswer, code: CertboundErrorCode, description: string): void {
  assertRefusedHttp(answer, { status: 401, error: 'invalid_token', description, code });
}

function assertAcceptedHttp(answer: HttpAnswer, who: Presenter = 'alice'): void {
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  assert.equal(answer.body.subject, 'alice');
  assert.equal(answer.body['x5t#S256'], x5tS256(certificateOf(who).der));
  assert.equal(answer.challenge, undefined);
  assert.deepEqual(
    answer.events.map((event) => event.type),
    ['request.allowed'],
  );
}

/** After a refusal: the same server still answers a valid request with 200. */
async function assertHttpServing(): Promise<void> {
  const answer = await httpGet('alice', bearerHeader(await joseToken()));
  assertAcceptedHttp(answer);
}

// ---------------------------------------------------------------------------------------------
// gRPC

function grpcMetadata(...values: string[]): Metadata {
  const metadata = new Metadata();
  for (const value of values) metadata.add('authorization', value);
  return metadata;
}

async function grpcCall(who: Presenter, metadata: Metadata): Promise<Outcome & { handlerCalls: number; refusals: string[] }> {
  const calls = grpcServer.counts.calls;
  const refusals = grpcRefusals.length;
  const outcome = await callUnary(grpcClients[who], metadata);
  return { ...outcome, handlerCalls: grpcServer.counts.calls - calls, refusals: grpcRefusals.slice(refusals) };
}

function assertRefusedGrpc(
  outcome: Awaited<ReturnType<typeof grpcCall>>,
  code: CertboundErrorCode,
  oauthError: string,
  description: string,
): void {
  assert.equal(
    outcome.code,
    status.UNAUTHENTICATED,
    `expected UNAUTHENTICATED, got ${status[outcome.code] ?? outcome.code}: ${outcome.details}`,
  );
  assert.equal(outcome.details, `${oauthError}: ${description}`);
  assert.equal(outcome.trailer, code);
  assert.deepEqual(outcome.refusals, [code]);
  assert.equal(outcome.handlerCalls, 0, 'the handler must not run for a refused call');
  assert.deepEqual(outcome.replies, []);
}

function assertAcceptedGrpc(outcome: Awaited<ReturnType<typeof grpcCall>>): void {
  assert.equal(outcome.code, status.OK, `${status[outcome.code] ?? outcome.code}: ${outcome.details}`);
  assert.deepEqual(outcome.replies, ['alice']);
  assert.equal(outcome.handlerCalls, 1);
  assert.deepEqual(outcome.refusals, []);
}

async function assertGrpcServing(): Promise<void> {
  assertAcceptedGrpc(await grpcCall('alice', grpcMetadata(`Bearer ${await joseToken()}`)));
}

/** jku / x5u / jwk.x5u must never be dereferenced: the counting server saw nothing but controls. */
function assertNothingFetched(): void {
  assert.deepEqual(
    counting.requests.filter((line) => !line.includes('/control')),
    [],
    'the verifier fetched a URL named in the token header',
  );
}

// ---------------------------------------------------------------------------------------------
// Expected descriptions (docs/errors.md, "Resource-side codes").

const D = {
  algNotAllowed: 'token signing algorithm is not allowed',
  keyUnknown: 'token was signed with an unknown key',
  signature: 'token signature is invalid',
  notJws: 'token is not a valid JWS',
  notJwt: 'token is not a valid JWT',
  unsupported: 'token uses an unsupported JOSE feature',
  typ: 'token typ header must be at+jwt',
  iss: 'token iss claim is not accepted',
  aud: 'token aud claim is not accepted',
  expired: 'token has expired',
  nbf: 'token nbf claim is not accepted',
  expMalformed: 'token exp claim is malformed',
  noCnf: 'token is not certificate-bound (no cnf claim)',
  noX5t: 'token has no cnf x5t#S256 certificate thumbprint',
  cnfNotObject: 'cnf claim must be a JSON object',
  x5tShape: 'cnf x5t#S256 must be 43 base64url characters without padding (RFC 8705 section 3.1)',
  mismatch: 'token is bound to a different client certificate',
  twoHeaders: 'more than one Authorization header',
  notBearerShape: "Authorization header is not 'Bearer <token>'",
  noToken: 'no access token',
} as const;

interface RefusalCase {
  name: string;
  token: () => string | Promise<string>;
  code: CertboundErrorCode;
  description: string;
  /** Whose certificate presents the token (default alice). */
  presenter?: Presenter;
}

interface AcceptedCase {
  name: string;
  token: () => string | Promise<string>;
  presenter?: Presenter;
}

/** Token-level cases: each is run over HTTPS and over gRPC. */
function refusalGroups(): Array<{ group: string; cases: RefusalCase[] }> {
  const publicSpkiPem = (): string => createPublicKey(issuerKey).export({ type: 'spki', format: 'pem' }) as string;
  const publicSpkiDer = (): Buffer => createPublicKey(issuerKey).export({ type: 'spki', format: 'der' });
  const remote = (path: string): string => `${counting.url}${path}`;
  return [
    {
      group: 'algorithm: none, HMAC key confusion, alg/key mismatches (RFC 8725 §2.1, §3.1)',
      cases: [
        {
          name: 'alg "none", empty signature',
          token: () => forge({ header: { alg: 'none' }, signer: 'none' }),
          code: 'CB_TOKEN_ALG_NOT_ALLOWED',
          description: D.algNotAllowed,
        },
        {
          name: 'alg "None" (case variant)',
          token: () => forge({ header: { alg: 'None' }, signer: 'none' }),
          code: 'CB_TOKEN_ALG_NOT_ALLOWED',
          description: D.algNotAllowed,
        },
        {
          name: 'alg "NONE" with the issuer signature kept',
          token: () => forge({ header: { alg: 'NONE' } }),
          code: 'CB_TOKEN_ALG_NOT_ALLOWED',
          description: D.algNotAllowed,
        },
        { name: 'no alg header at all', token: () => forge({ dropHeader: ['alg'] }), code: 'CB_TOKEN_MALFORMED', description: D.notJws },
        {
          name: 'HS256 keyed with the issuer public key as SPKI PEM',
          token: () => forge({ header: { alg: 'HS256' }, signer: hmacSigner(publicSpkiPem()) }),
          code: 'CB_TOKEN_ALG_NOT_ALLOWED',
          description: D.algNotAllowed,
        },
        {
          name: 'HS256 keyed with the published JWK (JSON text)',
          token: () => forge({ header: { alg: 'HS256' }, signer: hmacSigner(JSON.stringify(issuerJwk)) }),
          code: 'CB_TOKEN_ALG_NOT_ALLOWED',
          description: D.algNotAllowed,
        },
        {
          name: 'HS256 keyed with the issuer public key as SPKI DER',
          token: () => forge({ header: { alg: 'HS256' }, signer: hmacSigner(publicSpkiDer()) }),
          code: 'CB_TOKEN_ALG_NOT_ALLOWED',
          description: D.algNotAllowed,
        },
        {
          name: 'ES256 header, RSA (RS256) signature, issuer kid',
          token: () => forge({ signer: rsaSigner(rsaKey) }),
          code: 'CB_TOKEN_SIGNATURE_INVALID',
          description: D.signature,
        },
        {
          name: 'RS256 header, attacker RSA signature, issuer kid (the JWKS has no RSA key)',
          token: () => forge({ header: { alg: 'RS256' }, signer: rsaSigner(rsaKey) }),
          code: 'CB_TOKEN_KEY_UNKNOWN',
          description: D.keyUnknown,
        },
        {
          name: 'ES384 header signed with the issuer P-256 key (SHA-384)',
          token: () => forge({ header: { alg: 'ES384' }, signer: ecdsaSigner(issuerKey, 'sha384') }),
          code: 'CB_TOKEN_KEY_UNKNOWN',
          description: D.keyUnknown,
        },
        {
          name: 'ES256 signature in DER (ASN.1) instead of the JOSE r||s encoding',
          token: () => compactJws(JSON.stringify(headerFor()), JSON.stringify(claimsFor()), (input) => sign('sha256', input, issuerKey)),
          code: 'CB_TOKEN_SIGNATURE_INVALID',
          description: D.signature,
        },
      ],
    },
    {
      group: 'key selection: kid, jku, x5u, jwk, x5c (never fetched, never trusted)',
      cases: [
        {
          name: 'unknown kid, issuer signature',
          token: () => forge({ header: { kid: 'no-such-key' } }),
          code: 'CB_TOKEN_KEY_UNKNOWN',
          description: D.keyUnknown,
        },
        {
          name: 'jku to the attacker JWKS, attacker kid, attacker signature',
          token: () => forge({ header: { jku: remote('/jwks.json'), kid: attacker.kid }, signer: ecdsaSigner(attacker.key) }),
          code: 'CB_TOKEN_KEY_UNKNOWN',
          description: D.keyUnknown,
        },
        {
          name: 'jku to an attacker JWKS that reuses the issuer kid, attacker signature',
          token: () => forge({ header: { jku: remote('/jwks.json') }, signer: ecdsaSigner(attacker.key) }),
          code: 'CB_TOKEN_SIGNATURE_INVALID',
          description: D.signature,
        },
        {
          name: 'x5u to the attacker certificate, no kid, attacker signature',
          token: () => forge({ header: { x5u: remote('/attacker.pem') }, dropHeader: ['kid'], signer: ecdsaSigner(attacker.key) }),
          code: 'CB_TOKEN_SIGNATURE_INVALID',
          description: D.signature,
        },
        {
          name: 'x5u to the attacker certificate, attacker kid, attacker signature',
          token: () => forge({ header: { x5u: remote('/attacker.pem'), kid: attacker.kid }, signer: ecdsaSigner(attacker.key) }),
          code: 'CB_TOKEN_KEY_UNKNOWN',
          description: D.keyUnknown,
        },
        {
          name: 'embedded jwk (the attacker key, with its own x5u), no kid, attacker signature',
          token: () =>
            forge({
              header: { jwk: { ...attacker.jwk, x5u: remote('/attacker.pem') } },
              dropHeader: ['kid'],
              signer: ecdsaSigner(attacker.key),
            }),
          code: 'CB_TOKEN_SIGNATURE_INVALID',
          description: D.signature,
        },
        {
          name: 'embedded jwk with the attacker kid, attacker signature',
          token: () =>
            forge({ header: { jwk: { ...attacker.jwk, kid: attacker.kid }, kid: attacker.kid }, signer: ecdsaSigner(attacker.key) }),
          code: 'CB_TOKEN_KEY_UNKNOWN',
          description: D.keyUnknown,
        },
        {
          name: "x5c with a client certificate from the trusted CA (carol's), signed with its key",
          token: () =>
            forge({
              header: { x5c: [pki.carol.der.toString('base64')] },
              dropHeader: ['kid'],
              signer: ecdsaSigner(createPrivateKey(pki.carol.keyPem)),
            }),
          code: 'CB_TOKEN_SIGNATURE_INVALID',
          description: D.signature,
        },
      ],
    },
    {
      group: 'crit (RFC 7515 §4.1.11)',
      cases: [
        {
          name: 'crit names an unknown extension that is present',
          token: () => forge({ header: { crit: ['x-certbound-test'], 'x-certbound-test': true } }),
          code: 'CB_TOKEN_MALFORMED',
          description: D.unsupported,
        },
        {
          name: 'crit names an unknown extension that is absent',
          token: () => forge({ header: { crit: ['x-absent'] } }),
          code: 'CB_TOKEN_MALFORMED',
          description: D.unsupported,
        },
        { name: 'crit is an empty array', token: () => forge({ header: { crit: [] } }), code: 'CB_TOKEN_MALFORMED', description: D.notJws },
        {
          name: 'crit b64 with b64:false (unencoded payload, RFC 7797)',
          token: () => forge({ header: { crit: ['b64'], b64: false } }),
          code: 'CB_TOKEN_MALFORMED',
          description: D.notJwt,
        },
      ],
    },
    {
      group: 'payload and header JSON: duplicates, prototype keys, not JSON, not an object',
      cases: [
        {
          name: 'two cnf members, alice first and bob last (lexically last wins, RFC 7519 §4)',
          token: () => {
            const claims = claimsFor();
            return compactJws(
              JSON.stringify(headerFor()),
              duplicateMemberJson(claims, 'cnf', { 'x5t#S256': pki.alice.thumbprint }, { 'x5t#S256': pki.bob.thumbprint }),
              issuerSigner(),
            );
          },
          code: 'CB_CNF_MISMATCH',
          description: D.mismatch,
        },
        {
          name: 'two aud members, ours first and another last',
          token: () =>
            compactJws(
              JSON.stringify(headerFor()),
              duplicateMemberJson(claimsFor(), 'aud', AUDIENCE, 'https://elsewhere.example'),
              issuerSigner(),
            ),
          code: 'CB_TOKEN_AUDIENCE_INVALID',
          description: D.aud,
        },
        {
          name: 'two alg header members, ES256 first and none last (signed with ES256)',
          token: () => compactJws(duplicateMemberJson(headerFor(), 'alg', 'ES256', 'none'), JSON.stringify(claimsFor()), issuerSigner()),
          code: 'CB_TOKEN_ALG_NOT_ALLOWED',
          description: D.algNotAllowed,
        },
        {
          name: 'two typ header members, at+jwt first and JWT last',
          token: () => compactJws(duplicateMemberJson(headerFor(), 'typ', 'at+jwt', 'JWT'), JSON.stringify(claimsFor()), issuerSigner()),
          code: 'CB_TOKEN_TYPE_INVALID',
          description: D.typ,
        },
        {
          name: 'cnf smuggled through a "__proto__" member (no own cnf)',
          token: () => {
            const inner = JSON.stringify(claimsFor({}, ['cnf'])).slice(1, -1);
            return compactJws(
              JSON.stringify(headerFor()),
              `{"__proto__":{"cnf":{"x5t#S256":"${pki.alice.thumbprint}"}},${inner}}`,
              issuerSigner(),
            );
          },
          code: 'CB_CNF_MISSING',
          description: D.noCnf,
        },
        {
          name: 'payload is not JSON',
          token: () => compactJws(JSON.stringify(headerFor()), 'alice may read', issuerSigner()),
          code: 'CB_TOKEN_MALFORMED',
          description: D.notJwt,
        },
        {
          name: 'payload is a JSON array holding the claims',
          token: () => compactJws(JSON.stringify(headerFor()), JSON.stringify([claimsFor()]), issuerSigner()),
          code: 'CB_TOKEN_MALFORMED',
          description: D.notJwt,
        },
        {
          name: 'payload is JSON null',
          token: () => compactJws(JSON.stringify(headerFor()), 'null', issuerSigner()),
          code: 'CB_TOKEN_MALFORMED',
          description: D.notJwt,
        },
        {
          name: 'payload is not valid UTF-8',
          token: () =>
            compactJws(
              JSON.stringify(headerFor()),
              Buffer.concat([
                Buffer.from(JSON.stringify(claimsFor()).slice(0, -1)),
                Buffer.from([0x2c, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
              ]),
              issuerSigner(),
            ),
          code: 'CB_TOKEN_MALFORMED',
          description: D.notJwt,
        },
        {
          name: 'header is a JSON array',
          token: () => compactJws(JSON.stringify([headerFor()]), JSON.stringify(claimsFor()), issuerSigner()),
          code: 'CB_TOKEN_MALFORMED',
          description: D.notJws,
        },
      ],
    },
    {
      group: 'compact serialization structure',
      cases: [
        {
          name: 'four segments (a valid token plus a trailing ".")',
          token: async () => `${await joseToken()}.`,
          code: 'CB_TOKEN_MALFORMED',
          description: D.notJws,
        },
        {
          name: 'four segments (an extra segment in the middle)',
          token: async () => {
            const [h, p, s] = segmentsOf(await joseToken());
            return `${h}.${p}.${p}.${s}`;
          },
          code: 'CB_TOKEN_MALFORMED',
          description: D.notJws,
        },
        {
          name: 'five segments (JWE-shaped)',
          token: async () => `${await joseToken()}.AAAA.BBBB`,
          code: 'CB_TOKEN_MALFORMED',
          description: D.notJws,
        },
        {
          name: 'two segments (signature segment removed)',
          token: async () =>
            segmentsOf(await joseToken())
              .slice(0, 2)
              .join('.'),
          code: 'CB_TOKEN_MALFORMED',
          description: D.notJws,
        },
        { name: 'only dots: ".."', token: () => '..', code: 'CB_TOKEN_MALFORMED', description: D.notJws },
        { name: 'only dots: "..."', token: () => '...', code: 'CB_TOKEN_MALFORMED', description: D.notJws },
        {
          name: 'empty header segment',
          token: async () => {
            const [, p, s] = segmentsOf(await joseToken());
            return `.${p}.${s}`;
          },
          code: 'CB_TOKEN_MALFORMED',
          description: D.notJws,
        },
        {
          name: 'empty payload segment, signed',
          token: () => compactJws(JSON.stringify(headerFor()), '', issuerSigner()),
          code: 'CB_TOKEN_MALFORMED',
          description: D.notJwt,
        },
        {
          name: 'empty signature segment (alg ES256)',
          token: async () => {
            const [h, p] = segmentsOf(await joseToken());
            return `${h}.${p}.`;
          },
          code: 'CB_TOKEN_SIGNATURE_INVALID',
          description: D.signature,
        },
        {
          name: 'signature segment in standard base64 ("+", not base64url)',
          token: async () => {
            const [h, p, s = ''] = segmentsOf(await joseToken());
            return `${h}.${p}.${s.slice(0, -2)}+A`;
          },
          code: 'CB_TOKEN_MALFORMED',
          description: D.notJws,
        },
        {
          name: 'signature segment with base64 padding',
          token: async () => {
            const [h, p, s = ''] = segmentsOf(await joseToken());
            return `${h}.${p}.${s.slice(0, -1)}=`;
          },
          code: 'CB_TOKEN_MALFORMED',
          description: D.notJws,
        },
        {
          name: 'signature segment cut short (still base64url)',
          token: async () => {
            const [h, p, s = ''] = segmentsOf(await joseToken());
            return `${h}.${p}.${s.slice(0, 10)}`;
          },
          code: 'CB_TOKEN_SIGNATURE_INVALID',
          description: D.signature,
        },
        {
          name: "payload swapped for another token's (sub admin) with the original signature",
          token: async () => {
            const [h, , s] = segmentsOf(await joseToken());
            return `${h}.${b64u(JSON.stringify(claimsFor({ sub: 'admin' })))}.${s}`;
          },
          code: 'CB_TOKEN_SIGNATURE_INVALID',
          description: D.signature,
        },
      ],
    },
    {
      group: 'RFC 9068 / RFC 7519 claims and typ',
      cases: [
        { name: 'typ missing', token: () => forge({ dropHeader: ['typ'] }), code: 'CB_TOKEN_TYPE_INVALID', description: D.typ },
        { name: 'typ "JWT"', token: () => forge({ header: { typ: 'JWT' } }), code: 'CB_TOKEN_TYPE_INVALID', description: D.typ },
        {
          name: 'expired an hour ago',
          token: () => forge({ claims: { iat: nowSeconds() - 7200, exp: nowSeconds() - 3600 } }),
          code: 'CB_TOKEN_EXPIRED',
          description: D.expired,
        },
        {
          name: 'nbf an hour in the future',
          token: () => forge({ claims: { nbf: nowSeconds() + 3600 } }),
          code: 'CB_TOKEN_NOT_YET_VALID',
          description: D.nbf,
        },
        {
          name: 'wrong iss',
          token: () => forge({ claims: { iss: 'https://evil.example' } }),
          code: 'CB_TOKEN_ISSUER_INVALID',
          description: D.iss,
        },
        {
          name: 'iss with a trailing slash',
          token: () => forge({ claims: { iss: `${ISSUER}/` } }),
          code: 'CB_TOKEN_ISSUER_INVALID',
          description: D.iss,
        },
        {
          name: 'wrong aud',
          token: () => forge({ claims: { aud: 'https://elsewhere.example' } }),
          code: 'CB_TOKEN_AUDIENCE_INVALID',
          description: D.aud,
        },
        {
          name: 'exp as a numeric string far in the future',
          token: () => forge({ claims: { exp: String(nowSeconds() + 3600) } }),
          code: 'CB_TOKEN_CLAIM_INVALID',
          description: D.expMalformed,
        },
      ],
    },
    {
      group: 'cnf confirmation (RFC 8705 §3.1)',
      cases: [
        { name: 'cnf missing', token: () => forge({ drop: ['cnf'] }), code: 'CB_CNF_MISSING', description: D.noCnf },
        { name: 'cnf null', token: () => forge({ claims: { cnf: null } }), code: 'CB_CNF_MALFORMED', description: D.cnfNotObject },
        {
          name: 'cnf a string (the bare thumbprint)',
          token: () => forge({ claims: { cnf: pki.alice.thumbprint } }),
          code: 'CB_CNF_MALFORMED',
          description: D.cnfNotObject,
        },
        {
          name: 'cnf an array holding the right object',
          token: () => forge({ claims: { cnf: [{ 'x5t#S256': pki.alice.thumbprint }] } }),
          code: 'CB_CNF_MALFORMED',
          description: D.cnfNotObject,
        },
        {
          name: 'cnf x5t#S256 a nested object',
          token: () => forge({ claims: { cnf: { 'x5t#S256': { 'x5t#S256': pki.alice.thumbprint } } } }),
          code: 'CB_CNF_MALFORMED',
          description: D.x5tShape,
        },
        {
          name: 'cnf x5t#S256 an array of the right thumbprint',
          token: () => forge({ claims: { cnf: { 'x5t#S256': [pki.alice.thumbprint] } } }),
          code: 'CB_CNF_MALFORMED',
          description: D.x5tShape,
        },
        {
          name: 'cnf with only jkt',
          token: () => forge({ claims: { cnf: { jkt: b64u(createHash('sha256').update('x').digest()) } } }),
          code: 'CB_CNF_MISSING',
          description: D.noX5t,
        },
        {
          name: 'cnf with x5t (SHA-1 name) holding the SHA-256 thumbprint',
          token: () => forge({ claims: { cnf: { x5t: pki.alice.thumbprint } } }),
          code: 'CB_CNF_MISSING',
          description: D.noX5t,
        },
        {
          name: 'cnf member name in another case: x5t#s256',
          token: () => forge({ claims: { cnf: { 'x5t#s256': pki.alice.thumbprint } } }),
          code: 'CB_CNF_MISSING',
          description: D.noX5t,
        },
        {
          name: 'x5t#S256 padded with "="',
          token: () => forge({ claims: { cnf: { 'x5t#S256': `${pki.alice.thumbprint}=` } } }),
          code: 'CB_CNF_MALFORMED',
          description: D.x5tShape,
        },
        {
          name: 'x5t#S256 in the standard base64 alphabet (+/) for a hash that needs them',
          presenter: 'plus',
          token: () => {
            const standard = createHash('sha256').update(plus.der).digest('base64').replace(/=+$/, '');
            assert.notEqual(standard, plus.thumbprint, 'the chosen certificate must have + or / in its standard base64 hash');
            assert.equal(standard.length, 43);
            return forge({ claims: { cnf: { 'x5t#S256': standard } } });
          },
          code: 'CB_CNF_MALFORMED',
          description: D.x5tShape,
        },
        {
          name: 'x5t#S256 as 64 hex digits',
          token: () => forge({ claims: { cnf: { 'x5t#S256': createHash('sha256').update(pki.alice.der).digest('hex') } } }),
          code: 'CB_CNF_MALFORMED',
          description: D.x5tShape,
        },
        {
          name: 'x5t#S256 of the right certificate with the letter case swapped',
          token: () =>
            forge({
              claims: {
                cnf: {
                  'x5t#S256': [...pki.alice.thumbprint].map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join(''),
                },
              },
            }),
          code: 'CB_CNF_MISMATCH',
          description: D.mismatch,
        },
        {
          name: 'x5t#S256 of the issuing CA certificate, not the leaf',
          token: () => forge({ claims: { cnf: { 'x5t#S256': x5tS256(pki.ca.der) } } }),
          code: 'CB_CNF_MISMATCH',
          description: D.mismatch,
        },
        {
          name: "x5t#S256 over alice's public key (SPKI) instead of her certificate",
          token: () =>
            forge({ claims: { cnf: { 'x5t#S256': x5tS256(createPublicKey(pki.alice.keyPem).export({ type: 'spki', format: 'der' })) } } }),
          code: 'CB_CNF_MISMATCH',
          description: D.mismatch,
        },
        {
          name: "x5t#S256 of the intermediate CA, presented with a leaf it issued (dave's chain)",
          presenter: 'dave',
          token: () => forge({ claims: { cnf: { 'x5t#S256': x5tS256(chain.intermediate.der) } } }),
          code: 'CB_CNF_MISMATCH',
          description: D.mismatch,
        },
        {
          name: "x5t#S256 of the chain's root CA, presented with dave's chain",
          presenter: 'dave',
          token: () => forge({ claims: { cnf: { 'x5t#S256': x5tS256(chain.root.der) } } }),
          code: 'CB_CNF_MISMATCH',
          description: D.mismatch,
        },
        {
          name: "alice's token presented with bob's certificate",
          presenter: 'bob',
          token: () => forge(),
          code: 'CB_CNF_MISMATCH',
          description: D.mismatch,
        },
      ],
    },
  ];
}

/** Tokens that must be accepted: controls for the forging code, and what the verifier tolerates by design. */
function acceptedCases(): AcceptedCase[] {
  return [
    { name: 'control: a token signed by jose with the issuer key', token: () => joseToken() },
    { name: 'control: the same token built by hand (jwt-forge) with the issuer key', token: () => forge() },
    {
      name: "control: dave's leaf (issued by an intermediate) with a token bound to the leaf",
      presenter: 'dave',
      token: () => joseToken(x5tS256(chain.leaf.der)),
    },
    {
      name: 'control: the standard-base64 case certificate with its base64url thumbprint',
      presenter: 'plus',
      token: () => joseToken(plus.thumbprint),
    },
    {
      name: 'typ "application/at+jwt" (RFC 9068 §4 allows the full media type)',
      token: () => forge({ header: { typ: 'application/at+jwt' } }),
    },
    {
      name: 'a correctly signed token that also carries jku, x5u and jwk headers (ignored, not fetched)',
      token: () =>
        forge({
          header: {
            jku: `${counting.url}/jwks.json`,
            x5u: `${counting.url}/attacker.pem`,
            jwk: { ...attacker.jwk, x5u: `${counting.url}/attacker.pem` },
          },
        }),
    },
    {
      name: 'two cnf members, bob first and alice last: the lexically last one is used (RFC 7519 §4)',
      token: () =>
        compactJws(
          JSON.stringify(headerFor()),
          duplicateMemberJson(claimsFor(), 'cnf', { 'x5t#S256': pki.bob.thumbprint }, { 'x5t#S256': pki.alice.thumbprint }),
          issuerSigner(),
        ),
    },
  ];
}

// ---------------------------------------------------------------------------------------------

describe('adversarial JWT access tokens: HTTPS resource server and gRPC interceptor', () => {
  // The tables are built now, to name the tests; their tokens are minted inside the tests, once
  // `before` has made the keys and certificates they close over.
  for (const { group, cases } of refusalGroups()) {
    describe(group, () => {
      for (const testCase of cases) {
        describe(testCase.name, () => {
          it('HTTPS: 401 invalid_token with the exact challenge; the server still serves', async () => {
            const token = await testCase.token();
            const answer = await httpGet(testCase.presenter ?? 'alice', bearerHeader(token));
            assertInvalidTokenHttp(answer, testCase.code, testCase.description);
            assertNothingFetched();
            await assertHttpServing();
          });
          it('gRPC: UNAUTHENTICATED with the code trailer, handler not run; the server still serves', async () => {
            const token = await testCase.token();
            assertRefusedGrpc(
              await grpcCall(testCase.presenter ?? 'alice', grpcMetadata(`Bearer ${token}`)),
              testCase.code,
              'invalid_token',
              testCase.description,
            );
            assertNothingFetched();
            await assertGrpcServing();
          });
        });
      }
    });
  }

  describe('the fast verifier (fast-jwt on node:crypto) and jose alone', () => {
    it('agree on every token of this suite: the same refusal code and description, or both accept', async () => {
      const reference = createJoseReferenceVerifier({ keys: { keys: [issuerJwk] }, issuer: ISSUER, audience: AUDIENCE });
      const outcomeOf = async (which: BoundTokenVerifier, token: string, thumbprint: string): Promise<string> => {
        try {
          return `accepted: sub=${(await which.verify(token, thumbprint)).subject}`;
        } catch (error) {
          const refusal = error as { code?: string; description?: string };
          return `${refusal.code ?? 'no code'}: ${refusal.description ?? String(error)}`;
        }
      };
      const cases = [...refusalGroups().flatMap((group) => group.cases), ...acceptedCases()];
      const disagreements: string[] = [];
      let accepted = 0;
      for (const testCase of cases) {
        const token = await testCase.token();
        const thumbprint = certificateOf(testCase.presenter ?? 'alice').thumbprint;
        const [fast, jose] = await Promise.all([outcomeOf(verifier, token, thumbprint), outcomeOf(reference, token, thumbprint)]);
        if (fast !== jose) disagreements.push(`${testCase.name}: fast ${fast}; jose ${jose}`);
        if (fast.startsWith('accepted')) accepted++;
      }
      assert.deepEqual(disagreements, []);
      assert.equal(accepted, acceptedCases().length, 'exactly the accepted cases are accepted');
      assert.ok(cases.length >= 70, `${cases.length} tokens`);
    });
  });

  describe('accepted by design (and controls)', () => {
    for (const testCase of acceptedCases()) {
      it(`${testCase.name}: 200 over HTTPS, OK over gRPC`, async () => {
        const who = testCase.presenter ?? 'alice';
        assertAcceptedHttp(await httpGet(who, bearerHeader(await testCase.token())), who);
        const outcome = await grpcCall(who, grpcMetadata(`Bearer ${await testCase.token()}`));
        assertAcceptedGrpc(outcome);
        assertNothingFetched();
      });
    }
  });

  describe('the Authorization header (RFC 6750 §2.1, RFC 9110 §11)', () => {
    it('lowercase "bearer" scheme is accepted (200 / OK); "BEARER" and "BeArEr" too', async () => {
      const token = await joseToken();
      for (const scheme of ['bearer', 'BEARER', 'BeArEr']) {
        assertAcceptedHttp(await httpGet('alice', { authorization: `${scheme} ${token}` }));
      }
      assertAcceptedGrpc(await grpcCall('alice', grpcMetadata(`bearer ${token}`)));
    });

    it('two Authorization headers (raw, same valid token twice): 400 invalid_request', async () => {
      const token = await joseToken();
      const answer = await rawGet('alice', [`authorization: Bearer ${token}`, `authorization: Bearer ${token}`]);
      assertRefusedHttp(answer, { status: 400, error: 'invalid_request', description: D.twoHeaders, code: 'CB_AUTHORIZATION_MALFORMED' });
      await assertHttpServing();
    });

    it('two Authorization headers (raw, Basic then a valid Bearer): 400 invalid_request', async () => {
      const answer = await rawGet('alice', ['authorization: Basic YWxpY2U6c2VjcmV0', `authorization: Bearer ${await joseToken()}`]);
      assertRefusedHttp(answer, { status: 400, error: 'invalid_request', description: D.twoHeaders, code: 'CB_AUTHORIZATION_MALFORMED' });
      await assertHttpServing();
    });

    it('two Authorization headers (undici, array value): 400 invalid_request', async () => {
      const token = await joseToken();
      const answer = await httpGet('alice', { authorization: [`Bearer ${token}`, `Bearer ${token}`] });
      assertRefusedHttp(answer, { status: 400, error: 'invalid_request', description: D.twoHeaders, code: 'CB_AUTHORIZATION_MALFORMED' });
      await assertHttpServing();
    });

    describe('two authorization fields in one gRPC call (raw HTTP/2: node:http2 and grpc-js will not send them)', () => {
      const rawCall = async (values: string[]): Promise<{ ending: string; handlerCalls: number; refusals: string[] }> => {
        const calls = grpcServer.counts.calls;
        const refusals = grpcRefusals.length;
        const port = Number(grpcServer.target.split(':').pop());
        const result = await rawGrpcUnary({
          port,
          servername: 'localhost',
          ca: pki.ca.certPem,
          cert: pki.alice.certPem,
          key: pki.alice.keyPem,
          path: '/echo.EchoServer/SayHello',
          headers: values.map((value): [string, string] => ['authorization', value]),
          message: Buffer.from([0x0a, 0x01, 0x78]), // EchoRequest { name: "x" }
        });
        return { ending: result.ending, handlerCalls: grpcServer.counts.calls - calls, refusals: grpcRefusals.slice(refusals) };
      };

      it('control: one valid authorization field over the raw client is served', async () => {
        const outcome = await rawCall([`Bearer ${await joseToken()}`]);
        assert.deepEqual(outcome, { ending: 'end_stream', handlerCalls: 1, refusals: [] });
      });

      // Node's HTTP/2 layer keeps only the first value of `authorization` (a single-value header)
      // before grpc-js sees the metadata, so the first field decides (docs/grpc.md). Either way the
      // token must still be bound to this connection's certificate.
      it('a valid token then a bogus one: the first field decides, and it is served', async () => {
        const outcome = await rawCall([`Bearer ${await joseToken()}`, 'Bearer bogus']);
        assert.deepEqual(outcome, { ending: 'end_stream', handlerCalls: 1, refusals: [] });
        await assertGrpcServing();
      });

      it('a bogus token then a valid one: the first field decides, refused CB_TOKEN_MALFORMED, handler not run', async () => {
        const outcome = await rawCall(['Bearer bogus', `Bearer ${await joseToken()}`]);
        assert.deepEqual(outcome, { ending: 'end_stream', handlerCalls: 0, refusals: ['CB_TOKEN_MALFORMED'] });
        await assertGrpcServing();
      });
    });

    it('whitespace the HTTP grammar allows is accepted: two spaces after the scheme, leading/trailing OWS', async () => {
      const token = await joseToken();
      // RFC 9110 §11.4 credentials = auth-scheme [ 1*SP token68 ]; RFC 9110 §5.5 strips OWS around a field value.
      for (const line of [
        `authorization: Bearer  ${token}`,
        `authorization: Bearer ${token}   `,
        `authorization:    Bearer ${token}`,
        `authorization: Bearer ${token}\t`,
      ]) {
        assertAcceptedHttp(await rawGet('alice', [line]));
      }
    });

    it('whitespace inside the credentials is refused: 400 invalid_request', async () => {
      const token = await joseToken();
      const [h, p, s] = segmentsOf(token);
      for (const line of [
        `authorization: Bearer ${h}. ${p}.${s}`,
        `authorization: Bearer ${h}.${p}.${s} x`,
        `authorization: Bearer\t${token}`,
        `authorization: Bearer ${h}.${p}\t.${s}`,
      ]) {
        const answer = await rawGet('alice', [line]);
        assertRefusedHttp(answer, {
          status: 400,
          error: 'invalid_request',
          description: D.notBearerShape,
          code: 'CB_AUTHORIZATION_MALFORMED',
        });
      }
      await assertHttpServing();
    });
  });

  describe('tokens in the query string are never read (RFC 6750 §2.3, §5.3)', () => {
    it('?access_token=<valid> with no Authorization header: 401 with a bare challenge, no error code', async () => {
      const answer = await httpGet('alice', {}, `/?access_token=${await joseToken()}`);
      assert.equal(answer.status, 401);
      assert.equal(answer.challenge, 'Bearer');
      assert.deepEqual(answer.body, { error: 'unauthorized', error_description: D.noToken });
      assert.equal(refusalEvent(answer), 'CB_TOKEN_MISSING');
      await assertHttpServing();
    });

    it('valid header plus ?access_token=<junk>: the query is ignored, 200', async () => {
      assertAcceptedHttp(await httpGet('alice', bearerHeader(await joseToken()), '/?access_token=not-even-a-jwt'));
    });

    it("header bound to bob plus ?access_token=<alice's valid token>: the header decides, 401 invalid_token", async () => {
      const answer = await httpGet('alice', bearerHeader(await joseToken(pki.bob.thumbprint)), `/?access_token=${await joseToken()}`);
      assertInvalidTokenHttp(answer, 'CB_CNF_MISMATCH', D.mismatch);
      await assertHttpServing();
    });
  });

  describe('oversized tokens', () => {
    it('a 12 KiB token (under the header limit) reaches the verifier: 401 invalid_token', async () => {
      const answer = await httpGet('alice', bearerHeader('A'.repeat(12 * 1024)));
      assertInvalidTokenHttp(answer, 'CB_TOKEN_MALFORMED', D.notJws);
      await assertHttpServing();
    });

    for (const [label, size] of [
      ['100 KiB', 100 * 1024],
      ['1 MiB', 1024 * 1024],
    ] as const) {
      it(`a ${label} Authorization header: 431 Request Header Fields Too Large (or a reset while it is still sending), nothing verified`, async () => {
        const valid = await joseToken();
        const [h, p, s] = segmentsOf(valid);
        // A signed-looking token: a valid header and signature around a huge payload segment.
        const token = `${h}.${p}${'A'.repeat(size)}.${s}`;
        const before = httpEvents.length;
        let status: number | 'reset';
        try {
          status = (await rawGet('alice', [`authorization: Bearer ${token}`])).status;
        } catch (error) {
          // Node 24 answers 431 and closes at once; with the rest of the head still arriving,
          // the kernel may reset the connection before the client reads the answer.
          assert.match(String(error), /socket closed with (ECONNRESET|EPIPE) before any response/);
          status = 'reset';
        }
        assert.ok(status === 431 || status === 'reset', `status ${status}`);
        assert.deepEqual(httpEvents.slice(before), [], 'the request must not reach protect()');
        await assertHttpServing();
      });
    }
  });

  it('control: the counting server does count (so "never fetched" can fail)', async () => {
    const response = await request(`${counting.url}/control`);
    await response.body.dump();
    assert.equal(response.statusCode, 404);
    assert.deepEqual(counting.requests, ['GET /control']);
  });
});
