// Envoy's gRPC external authorization (envoy.service.auth.v3.Authorization/Check) against the
// real Check server on loopback, asked as Envoy asks: the CheckRequest is written here by field
// number with protobufjs's low-level Writer and the CheckResponse read back by field number with
// its Reader, both from Envoy's published field numbers and independently of the .proto files
// certbound ships, so a wrong number there fails this test. The client is grpc-js with identity
// (de)serializers; tokens come from a real STS over mutual TLS.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client, credentials, Metadata, status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import protobufjs from 'protobufjs';
import { startEnvoyCheckServer, type EnvoyCheckServerOptions } from '../../src/cli/servers/envoy-check-server.js';
import type { AuthzEvent } from '../../src/core/gateway-authorizer.js';
import { createBoundTokenVerifier, type BoundTokenVerifier } from '../../src/core/verify.js';
import { loadJwksSource } from '../../src/keys/jwks-source.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { agentFor, AUDIENCE, exchangeRequest, ISSUER, postToken, startSts } from '../helpers/servers.js';

const { Reader, Writer } = protobufjs;
type After = { after(fn: () => unknown): void };

const CHECK = '/envoy.service.auth.v3.Authorization/Check';
const RULES = ['GET /orders/ read', 'POST /orders/ write', 'GET /admin/ admin'];
const cleanups: Array<() => unknown> = [];
let pki: TestPki;
let verifier: BoundTokenVerifier;
let readToken: string;

before(async () => {
  pki = await createTestPki();
  // One STS for the file: its close and the agent's run in the file's after hook.
  const file: After = { after: (fn) => void cleanups.push(fn) };
  const sts = await startSts(file, pki);
  const answer = await postToken(agentFor(file, pki, pki.alice), sts.url, exchangeRequest({ scope: 'read' }));
  readToken = (answer.body as { access_token: string }).access_token;
  const keys = await loadJwksSource(`${sts.url}/.well-known/jwks.json`, { ca: pki.ca.certPem });
  verifier = createBoundTokenVerifier({ keys, issuer: ISSUER, audience: AUDIENCE });
});
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

// ---- The wire, by field number -------------------------------------------------------------

/** A field of a message being written: a varint, a string, or an embedded message (its bytes). */
type Value = number | string | Uint8Array;

function message(...fields: Array<[number, Value]>): Uint8Array {
  const writer = Writer.create();
  for (const [number, value] of fields) {
    if (typeof value === 'number') writer.uint32((number << 3) | 0).uint64(value);
    else if (typeof value === 'string') writer.uint32((number << 3) | 2).string(value);
    else writer.uint32((number << 3) | 2).bytes(value);
  }
  return writer.finish();
}

/** A map<string, string> is a repeated entry message {key = 1, value = 2}. */
const mapEntries = (number: number, entries: Record<string, string>): Array<[number, Value]> =>
  Object.entries(entries).map(([key, value]) => [number, message([1, key], [2, value])]);

/** Every field of a message, by number: varints as numbers, length-delimited ones as bytes. */
function read(bytes: Uint8Array): Map<number, Array<number | Uint8Array>> {
  const reader = Reader.create(bytes);
  const fields = new Map<number, Array<number | Uint8Array>>();
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const wireType = tag & 7;
    const value = wireType === 0 ? reader.uint32() : wireType === 2 ? reader.bytes() : (reader.skipType(wireType), undefined);
    if (value !== undefined) fields.set(tag >>> 3, [...(fields.get(tag >>> 3) ?? []), value]);
  }
  return fields;
}
const one = (fields: Map<number, Array<number | Uint8Array>>, number: number) => fields.get(number)?.[0];
const sub = (fields: Map<number, Array<number | Uint8Array>>, number: number) => {
  const bytes = one(fields, number);
  return bytes instanceof Uint8Array ? read(bytes) : undefined;
};
const text = (value: number | Uint8Array | undefined): string => (value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : '');

interface AskedAs {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  /** URL-encoded PEM, as Envoy sends `source.certificate`; undefined: none. */
  certificate?: string;
}

/**
 * A CheckRequest as Envoy's ext_authz filter writes it, including fields certbound does not read
 * (addresses, labels, principal, time, host, scheme, size, protocol, TLS session, extensions).
 */
function checkRequest({ method = 'GET', path = '/orders/7', headers = {}, certificate }: AskedAs): Buffer {
  const address = (port: number) => message([1, message([2, '127.0.0.1'], [3, port])]); // Address.socket_address
  const source = message(
    [1, address(50_123)],
    [4, 'spiffe://example.org/client'],
    ...(certificate === undefined ? [] : ([[5, certificate]] as Array<[number, Value]>)),
  );
  const destination = message([1, address(8443)], ...mapEntries(3, { app: 'orders' }));
  const http = message(
    [1, 'request-id-1'],
    [2, method],
    ...mapEntries(3, { ':authority': 'server.domain.com', 'user-agent': 'test', ...headers }),
    [4, path],
    [5, 'server.domain.com'],
    [6, 'https'],
    [9, 0],
    [10, 'HTTP/2'],
  );
  const request = message([1, message([1, 1_700_000_000], [2, 5])], [2, http]); // time, http
  const attributes = message([1, source], [2, destination], [4, request], ...mapEntries(10, { virtual_host: 'orders' }), [
    12,
    message([1, 'server.domain.com']),
  ]);
  return Buffer.from(message([1, attributes]));
}

interface Header {
  key: string;
  value: string;
  appendAction: number;
}

/** CheckResponse, read by field number: status 1, denied_response 2, ok_response 3. */
interface Answer {
  code: number;
  message: string;
  denied?: { status: number; headers: Header[]; body: string };
  ok?: { headers: Header[]; headersToRemove: string[] };
}

function headerOptions(values: Array<number | Uint8Array> | undefined): Header[] {
  return (values ?? []).map((option) => {
    const fields = read(option as Uint8Array);
    const header = sub(fields, 1);
    return { key: text(header && one(header, 1)), value: text(header && one(header, 2)), appendAction: Number(one(fields, 3) ?? 0) };
  });
}

function decodeCheckResponse(bytes: Buffer): Answer {
  const fields = read(bytes);
  const status = sub(fields, 1);
  const denied = sub(fields, 2);
  const ok = sub(fields, 3);
  // An absent code is 0, as Envoy reads it: an allow.
  const answer: Answer = { code: Number(status && (one(status, 1) ?? 0)), message: text(status && one(status, 2)) };
  if (denied !== undefined) {
    const httpStatus = sub(denied, 1);
    answer.denied = { status: Number(httpStatus && one(httpStatus, 1)), headers: headerOptions(denied.get(2)), body: text(one(denied, 3)) };
  }
  if (ok !== undefined) answer.ok = { headers: headerOptions(ok.get(2)), headersToRemove: (ok.get(5) ?? []).map(text) };
  return answer;
}

// ---- The server and the client -------------------------------------------------------------

async function startCheck(t: After, extra: Partial<EnvoyCheckServerOptions> = {}) {
  const events: AuthzEvent[] = [];
  const server = await startEnvoyCheckServer({ verifier, rules: RULES, onEvent: (event) => events.push(event), ...extra });
  t.after(() => server.forceClose());
  assert.match(server.address, /^127\.0\.0\.1:\d+$/);
  const client = new Client(server.address, credentials.createInsecure());
  t.after(() => client.close());
  const ask = (asked: AskedAs) =>
    new Promise<Answer>((resolve, reject) => {
      client.makeUnaryRequest(
        CHECK,
        (request: Buffer) => request,
        (response: Buffer) => response,
        checkRequest(asked),
        new Metadata(),
        { deadline: Date.now() + 10_000 },
        (error: ServiceError | null, response?: Buffer) =>
          error === null ? resolve(decodeCheckResponse(response as Buffer)) : reject(error),
      );
    });
  return { ask, events };
}

const urlEncoded = (pem: string): string => encodeURIComponent(pem);
const bearer = (token = readToken) => ({ authorization: `Bearer ${token}` });
const headerOf = (headers: Header[], key: string) => headers.find((header) => header.key === key)?.value;

// ---- The cases -----------------------------------------------------------------------------

test("alice's certificate with alice's token: OK, every identity header set over any client copy", async (t) => {
  const { ask, events } = await startCheck(t);
  const answer = await ask({
    path: '/orders/7?expand=1',
    headers: { ...bearer(), 'x-certbound-subject': 'admin' },
    certificate: urlEncoded(pki.alice.certPem),
  });
  assert.equal(answer.code, grpcStatus.OK);
  assert.equal(answer.denied, undefined);
  assert.ok(answer.ok !== undefined, 'ok_response (field 3) is set');
  assert.deepEqual(
    answer.ok.headers.map(({ key, value }) => [key, value]),
    [
      ['x-certbound-subject', 'alice'],
      ['x-certbound-client-id', 'alice'],
      ['x-certbound-scope', 'read'],
      ['x-certbound-thumbprint', pki.alice.thumbprint],
    ],
  );
  // OVERWRITE_IF_EXISTS_OR_ADD: the client's own x-certbound-subject does not survive beside ours.
  assert.ok(answer.ok.headers.every((header) => header.appendAction === 2));
  assert.deepEqual(answer.ok.headersToRemove, ['client-cert', 'client-cert-chain', 'x-ssl-client-cert']);
  assert.deepEqual(
    events.map((event) => [event.type, event.method, event.path]),
    [['authz.allowed', 'GET', '/orders/7']],
  );
});

test('refusals: replay, no certificate, missing scope, no rule, no token — each a non-OK status with the challenge', async (t) => {
  const { ask, events } = await startCheck(t);
  const alice = urlEncoded(pki.alice.certPem);
  const cases: Array<[string, AskedAs, number, number, RegExp, string]> = [
    [
      "bob's certificate with alice's token",
      { headers: bearer(), certificate: urlEncoded(pki.bob.certPem) },
      grpcStatus.UNAUTHENTICATED,
      401,
      /^Bearer error="invalid_token", error_description="token is bound to a different client certificate"$/,
      'invalid_token',
    ],
    ['no certificate', { headers: bearer() }, grpcStatus.UNAUTHENTICATED, 401, /^Bearer error="invalid_token"/, 'invalid_token'],
    [
      'a scope the token lacks',
      { method: 'POST', headers: bearer(), certificate: alice },
      grpcStatus.PERMISSION_DENIED,
      403,
      /^Bearer error="insufficient_scope", error_description="token lacks the required scope write", scope="write"$/,
      'insufficient_scope',
    ],
    ['no rule', { method: 'DELETE', headers: bearer(), certificate: alice }, grpcStatus.PERMISSION_DENIED, 403, /^Bearer$/, 'server_error'],
    ['no Authorization header', { certificate: alice }, grpcStatus.UNAUTHENTICATED, 401, /^Bearer$/, 'unauthorized'],
  ];
  for (const [what, asked, code, httpStatus, challenge, error] of cases) {
    const answer = await ask(asked);
    assert.equal(answer.code, code, what);
    assert.equal(answer.ok, undefined, `${what}: no ok_response`);
    assert.ok(answer.denied !== undefined, `${what}: denied_response (field 2) is set`);
    assert.equal(answer.denied.status, httpStatus, what);
    assert.match(headerOf(answer.denied.headers, 'www-authenticate') ?? '', challenge, what);
    assert.equal(headerOf(answer.denied.headers, 'content-type'), 'application/json', what);
    assert.equal((JSON.parse(answer.denied.body) as { error: string }).error, error, what);
    assert.equal(headerOf(answer.denied.headers, 'x-certbound-subject'), undefined, `${what}: no identity on a refusal`);
  }
  assert.ok(events.every((event) => event.type === 'authz.refused'));
  assert.equal(events.length, cases.length);
});

test('a garbage certificate is a refusal (400 invalid_request, UNAUTHENTICATED), never an OK', async (t) => {
  const { ask, events } = await startCheck(t);
  for (const certificate of [
    'not%20a%20cert',
    '%E0%A4%A',
    urlEncoded(pki.alice.keyPem),
    urlEncoded('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'),
  ]) {
    const answer = await ask({ headers: bearer(), certificate });
    assert.equal(answer.code, grpcStatus.UNAUTHENTICATED, certificate);
    assert.equal(answer.denied?.status, 400, certificate);
    assert.match(
      headerOf(answer.denied.headers, 'www-authenticate') ?? '',
      /^Bearer error="invalid_request", error_description="the client certificate from the proxy \(source\.certificate\) is not /,
    );
  }
  assert.deepEqual(
    events.map((event) => (event.type === 'authz.refused' ? event.error.code : event.type)),
    Array(4).fill('CB_FORWARDED_CERT_MALFORMED'),
  );
});

test('a CheckRequest without HTTP attributes is refused (400), not judged as some path', async (t) => {
  const { ask } = await startCheck(t);
  const answer = await ask({ method: '', path: '', headers: bearer(), certificate: urlEncoded(pki.alice.certPem) });
  assert.equal(answer.code, grpcStatus.UNAUTHENTICATED);
  assert.equal(answer.denied?.status, 400);
  assert.match(headerOf(answer.denied.headers, 'www-authenticate') ?? '', /the proxy sent no HTTP request method/);
});

test('an onEvent hook that throws fails closed: a 500 refusal, never an OK', async (t) => {
  const { ask } = await startCheck(t, {
    onEvent: () => {
      throw new Error('log sink down');
    },
  });
  // It throws on the allow (so the decision becomes a refusal) and again on the refusal.
  const answer = await ask({ headers: bearer(), certificate: urlEncoded(pki.alice.certPem) });
  assert.equal(answer.code, grpcStatus.INTERNAL);
  assert.equal(answer.ok, undefined);
  assert.equal(answer.denied?.status, 500);
  assert.deepEqual(JSON.parse(answer.denied.body), { error: 'server_error', error_description: 'internal error' });
});
