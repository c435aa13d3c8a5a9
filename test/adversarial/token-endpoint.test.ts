// Hostile requests against a real STS over real mutual TLS: missing, empty and repeated
// parameters, broken bodies (media types, encodings, JSON shapes and depths, sizes, parameter
// counts), wrong or missing client certificates, and routing. Every refusal must have exactly
// the status and OAuth error docs/errors.md gives it, and after every case the same server must
// still issue a token to a valid request.
import assert from 'node:assert/strict';
import { connect, type TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { type Agent, request } from 'undici';
import {
  GRANT_TYPE_CLIENT_CREDENTIALS,
  GRANT_TYPE_TOKEN_EXCHANGE,
  MEDIA_TYPE_FORM,
  MEDIA_TYPE_JSON,
  TOKEN_TYPE_ACCESS_TOKEN,
} from '../../src/core/rfc.js';
import { MAX_PARAMETERS } from '../../src/core/token-request.js';
import type { IssuedCertificate } from '../../src/pki/generate.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { agentFor, ALICE_SECRET, AUDIENCE, startSts, type RunningSts } from '../helpers/servers.js';

const LIMIT = 16 * 1024;

let pki: TestPki;
let sts: RunningSts;
/** Alice's agent, shared by every "the server still works" check. */
let alice: Agent;
const cleanups: Array<() => unknown> = [];
const suite = { after: (fn: () => unknown) => cleanups.push(fn) };

before(async () => {
  pki = await createTestPki();
  // The default per-certificate rate limit would refuse alice long before this file is done.
  sts = await startSts(suite, pki, { rateLimit: false });
  alice = agentFor(suite, pki, pki.alice);
});
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** The parameters of a token exchange the test STS grants to alice. */
function valid(): Record<string, string> {
  return {
    grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
    subject_token: ALICE_SECRET,
    subject_token_type: TOKEN_TYPE_ACCESS_TOKEN,
    audience: AUDIENCE,
  };
}

/** A form body from name/value pairs, in order, repeats allowed. */
function formOf(pairs: Array<[string, string]> | Record<string, string>): string {
  const form = new URLSearchParams();
  for (const [name, value] of Array.isArray(pairs) ? pairs : Object.entries(pairs)) form.append(name, value);
  return form.toString();
}

/** A JSON object's text written by hand, so a name may appear twice. */
function rawJsonObject(pairs: Array<[string, unknown]>): string {
  return `{${pairs.map(([name, value]) => `${JSON.stringify(name)}:${JSON.stringify(value)}`).join(',')}}`;
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: Record<string, unknown> | undefined;
}

interface Send {
  method?: string;
  path?: string;
  contentType?: string | undefined;
  body?: string | Buffer;
  agent?: Agent;
  url?: string;
}

async function send(options: Send = {}): Promise<RawResponse> {
  const headers: Record<string, string> = {};
  if (options.contentType !== undefined) headers['content-type'] = options.contentType;
  const response = await request(`${options.url ?? sts.url}${options.path ?? '/token'}`, {
    method: (options.method ?? 'POST') as 'POST',
    dispatcher: options.agent ?? alice,
    headers,
    ...(options.body === undefined ? {} : { body: options.body }),
  });
  const text = await response.body.text();
  let body: Record<string, unknown> | undefined;
  try {
    body = text.length === 0 ? undefined : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    body = undefined;
  }
  return { status: response.statusCode, headers: response.headers, text, body };
}

/** POST a form body as alice (or `agent`). */
const postForm = (body: string | Buffer, agent?: Agent): Promise<RawResponse> =>
  send({ contentType: MEDIA_TYPE_FORM, body, ...(agent === undefined ? {} : { agent }) });
/** POST a JSON body as alice. */
const postJson = (body: string | Buffer): Promise<RawResponse> => send({ contentType: MEDIA_TYPE_JSON, body });

/** An RFC 6749 §5.2 error response as docs/errors.md renders it at the STS. */
function assertOAuthError(response: RawResponse, status: number, error: string, description?: RegExp): void {
  const context = `${response.status} ${response.text.slice(0, 300)}`;
  assert.equal(response.status, status, context);
  assert.equal(response.headers['content-type'], 'application/json', context);
  assert.equal(response.headers['cache-control'], 'no-store', context);
  assert.equal(response.headers.pragma, 'no-cache', context);
  assert.ok(response.body !== undefined, `a JSON body: ${context}`);
  assert.deepEqual(Object.keys(response.body).sort(), ['error', 'error_description'], context);
  assert.equal(response.body.error, error, context);
  assert.equal(typeof response.body.error_description, 'string', context);
  if (description !== undefined) assert.match(response.body.error_description as string, description, context);
}

function assertIssued(response: RawResponse): void {
  assert.equal(response.status, 200, `${response.status} ${response.text.slice(0, 300)}`);
  assert.equal(typeof response.body?.access_token, 'string');
  assert.equal(response.body?.token_type, 'Bearer');
}

/** The same server still issues a token to a valid request (on a fresh connection too). */
async function assertStillServes(server: RunningSts = sts): Promise<void> {
  assertIssued(await send({ contentType: MEDIA_TYPE_FORM, body: formOf(valid()), url: server.url }));
}

describe('required parameters (RFC 6749 §3.2, RFC 8693 §2.1)', () => {
  for (const name of ['grant_type', 'subject_token', 'subject_token_type'] as const) {
    for (const encoding of ['form', 'json'] as const) {
      test(`${name} missing (${encoding}) → 400 invalid_request`, async () => {
        const params = valid();
        delete params[name];
        const response = encoding === 'form' ? await postForm(formOf(params)) : await postJson(JSON.stringify(params));
        assertOAuthError(response, 400, 'invalid_request', new RegExp(`^missing required parameter ${name}$`));
        await assertStillServes();
      });

      test(`${name} empty (${encoding}) counts as missing (RFC 6749 §3.1) → 400 invalid_request`, async () => {
        const params = { ...valid(), [name]: '' };
        const response = encoding === 'form' ? await postForm(formOf(params)) : await postJson(JSON.stringify(params));
        assertOAuthError(response, 400, 'invalid_request', new RegExp(`^missing required parameter ${name}$`));
        await assertStillServes();
      });
    }
  }

  test('an empty body → 400 invalid_request (form: no parameters; JSON: not JSON)', async () => {
    assertOAuthError(await postForm(''), 400, 'invalid_request', /^missing required parameter grant_type$/);
    assertOAuthError(await postJson(''), 400, 'invalid_request', /^request body is not valid JSON$/);
    await assertStillServes();
  });
});

describe('repeated parameters (RFC 6749 §3.2: parameters MUST NOT be included more than once)', () => {
  const names = ['grant_type', 'subject_token', 'subject_token_type', 'scope', 'requested_token_type'] as const;
  const valueOf = (name: (typeof names)[number]): string => {
    const values: Record<string, string> = { ...valid(), scope: 'read', requested_token_type: TOKEN_TYPE_ACCESS_TOKEN };
    return values[name] as string;
  };

  for (const name of names) {
    test(`${name} twice in a form (same value, then different values) → 400 invalid_request`, async () => {
      const base: Array<[string, string]> = Object.entries({ ...valid(), [name]: valueOf(name) });
      for (const second of [valueOf(name), 'other']) {
        const response = await postForm(formOf([...base, [name, second]]));
        assertOAuthError(response, 400, 'invalid_request', new RegExp(`^parameter ${name} must not be repeated$`));
      }
      await assertStillServes();
    });

    test(`${name} as a JSON array → 400 invalid_request`, async () => {
      for (const list of [[valueOf(name)], [valueOf(name), valueOf(name)], [valueOf(name), 'other']]) {
        const response = await postJson(JSON.stringify({ ...valid(), [name]: list }));
        assertOAuthError(response, 400, 'invalid_request', new RegExp(`^parameter ${name} must be a string$`));
      }
      await assertStillServes();
    });

    test(`${name} twice in the raw JSON text (an object with a duplicate name) → 400 invalid_request`, async () => {
      // The valid value comes last, so a parser that keeps the last duplicate (JSON.parse) would
      // grant the request; one that keeps the first would see 'other'. Either reading is a guess:
      // the request is ambiguous and must be refused like a repeated form parameter.
      const pairs: Array<[string, unknown]> = Object.entries({ ...valid(), [name]: valueOf(name) }).filter(([key]) => key !== name);
      const response = await postJson(rawJsonObject([[name, 'other'], ...pairs, [name, valueOf(name)]]));
      assertOAuthError(response, 400, 'invalid_request', new RegExp(name));
      await assertStillServes();
    });
  }

  test('audience and resource may repeat (RFC 8693 §2.1): a repeated audience is granted (positive control)', async () => {
    assertIssued(await postForm(formOf([...Object.entries(valid()), ['audience', AUDIENCE]])));
    assertIssued(await postJson(JSON.stringify({ ...valid(), audience: [AUDIENCE, AUDIENCE] })));
  });
});

describe('grant_type', () => {
  const cases: Array<[string, string, number, string, RegExp]> = [
    ['unknown (password)', 'password', 400, 'unsupported_grant_type', /^grant_type password is not supported$/],
    [
      'the token-exchange URN in upper case (grant types compare exactly)',
      GRANT_TYPE_TOKEN_EXCHANGE.toUpperCase(),
      400,
      'unsupported_grant_type',
      /is not supported/,
    ],
    ['the token-exchange URN with a trailing space', `${GRANT_TYPE_TOKEN_EXCHANGE} `, 400, 'unsupported_grant_type', /is not supported/],
    [
      'a registered grant this client may not use (client_credentials)',
      GRANT_TYPE_CLIENT_CREDENTIALS,
      400,
      'unauthorized_client',
      /may not use grant_type client_credentials/,
    ],
    ['empty', '', 400, 'invalid_request', /^missing required parameter grant_type$/],
  ];
  for (const [name, grantType, status, error, description] of cases) {
    test(`${name} → ${status} ${error}`, async () => {
      assertOAuthError(await postForm(formOf({ ...valid(), grant_type: grantType })), status, error, description);
      assertOAuthError(await postJson(JSON.stringify({ ...valid(), grant_type: grantType })), status, error, description);
      await assertStillServes();
    });
  }

  test('a JSON grant_type that is not a string (number, object, null) → 400 invalid_request', async () => {
    for (const value of [1, { a: 'b' }, null, true]) {
      assertOAuthError(
        await postJson(JSON.stringify({ ...valid(), grant_type: value })),
        400,
        'invalid_request',
        /^parameter grant_type must be a string$/,
      );
    }
    await assertStillServes();
  });
});

/** A raw TLS connection to the STS presenting alice's certificate, for requests written by hand. */
function rawConnection(url: string, client: IssuedCertificate = pki.alice): Promise<TLSSocket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: hostname, port: Number(port), ca: pki.ca.certPem, cert: client.certPem, key: client.keyPem, servername: 'localhost' },
      () => resolve(socket),
    );
    socket.once('error', reject);
  });
}

/** Everything the server sends until it closes the connection (or `ms` pass: then `closed` is false). */
function collectUntilClosed(socket: TLSSocket, ms = 5_000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed: false });
    }, ms);
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    // The server may reset a connection whose request body it stopped reading.
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
  });
}

function parseRawResponse(text: string): { status: number; headers: Record<string, string>; body: string } {
  const end = text.indexOf('\r\n\r\n');
  assert.ok(end > 0, `a complete response head: ${JSON.stringify(text.slice(0, 200))}`);
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine ?? '')?.[1]), headers, body: text.slice(end + 4) };
}

describe('body size (16 KiB limit: 413 and the connection is closed)', () => {
  test(`a body of exactly ${LIMIT} bytes is read and granted`, async () => {
    const base = `${formOf(valid())}&pad=`;
    const body = base + 'a'.repeat(LIMIT - base.length);
    assert.equal(Buffer.byteLength(body), LIMIT);
    assertIssued(await postForm(body));
  });

  test(`a declared body of ${LIMIT + 1} bytes → 413 invalid_request with Connection: close`, async () => {
    const base = `${formOf(valid())}&pad=`;
    const response = await postForm(Buffer.from(base + 'a'.repeat(LIMIT + 1 - base.length)));
    assertOAuthError(response, 413, 'invalid_request', /^request body exceeds 16384 bytes$/);
    assert.equal(response.headers.connection, 'close');
    await assertStillServes();
  });

  test('a 1 MiB JSON body → 413 invalid_request with Connection: close', async () => {
    const response = await postJson(JSON.stringify({ ...valid(), pad: 'x'.repeat(1024 * 1024) }));
    assertOAuthError(response, 413, 'invalid_request', /exceeds 16384 bytes/);
    assert.equal(response.headers.connection, 'close');
    await assertStillServes();
  });

  test('a chunked body (no Content-Length) that grows past the limit → 413, then the server closes the connection', async () => {
    const socket = await rawConnection(sts.url);
    const done = collectUntilClosed(socket);
    socket.write(`POST /token HTTP/1.1\r\nHost: localhost\r\nContent-Type: ${MEDIA_TYPE_FORM}\r\nTransfer-Encoding: chunked\r\n\r\n`);
    const chunk = 'a'.repeat(4096);
    // Keep sending, never ending the body: the server must stop reading and answer by itself.
    for (let i = 0; i < 8 && !socket.destroyed; i++) socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    const { text, closed } = await done;
    assert.ok(closed, 'the server closed the connection');
    const response = parseRawResponse(text);
    assert.equal(response.status, 413);
    assert.equal(response.headers.connection, 'close');
    assert.deepEqual(JSON.parse(response.body), { error: 'invalid_request', error_description: 'request body exceeds 16384 bytes' });
    await assertStillServes();
  });

  test('a declared Content-Length of 1 GB with no body sent → 413 at once, then the connection is closed', async () => {
    const socket = await rawConnection(sts.url);
    const done = collectUntilClosed(socket);
    socket.write(
      `POST /token HTTP/1.1\r\nHost: localhost\r\nContent-Type: ${MEDIA_TYPE_FORM}\r\nContent-Length: 1000000000\r\n\r\ngrant_type=x`,
    );
    const { text, closed } = await done;
    assert.ok(closed, 'the server closed the connection');
    const response = parseRawResponse(text);
    assert.equal(response.status, 413);
    assert.equal(response.headers.connection, 'close');
    await assertStillServes();
  });

  test('without a client certificate a large body is refused as 401 invalid_client before it is read', async (t) => {
    const anonymous = agentFor(t, pki);
    const response = await send({ agent: anonymous, contentType: MEDIA_TYPE_FORM, body: Buffer.alloc(256 * 1024, 0x61) });
    assertOAuthError(response, 401, 'invalid_client', /client certificate is required/);
    await assertStillServes();
  });
});

describe('media type (RFC 6749 §3.2: application/x-www-form-urlencoded; JSON also accepted)', () => {
  const refused: Array<[string, string | undefined, number, RegExp]> = [
    ['text/plain', 'text/plain', 415, /^content type must be application\/x-www-form-urlencoded or application\/json$/],
    ['multipart/form-data', 'multipart/form-data; boundary=xyz', 415, /^content type must be/],
    ['no Content-Type at all', undefined, 415, /^content type must be/],
    ['an empty Content-Type', '', 415, /^content type must be/],
    ['application/jsonx', 'application/jsonx', 415, /^content type must be/],
    ['a garbled Content-Type', 'application/x-www-form-urlencoded/extra', 415, /^content type must be/],
    ['form with charset=iso-8859-1', `${MEDIA_TYPE_FORM}; charset=iso-8859-1`, 400, /^only the UTF-8 charset is accepted$/],
  ];
  for (const [name, contentType, status, description] of refused) {
    test(`${name} → ${status} invalid_request`, async () => {
      assertOAuthError(await send({ contentType, body: formOf(valid()) }), status, 'invalid_request', description);
      await assertStillServes();
    });
  }

  test('charset=utf-8 (any case) and a media type in capitals are accepted, form and JSON', async () => {
    for (const contentType of [
      `${MEDIA_TYPE_FORM}; charset=utf-8`,
      `${MEDIA_TYPE_FORM};charset=UTF-8`,
      'Application/X-WWW-Form-Urlencoded',
    ]) {
      assertIssued(await send({ contentType, body: formOf(valid()) }));
    }
    for (const contentType of [`${MEDIA_TYPE_JSON}; charset=utf-8`, 'APPLICATION/JSON']) {
      assertIssued(await send({ contentType, body: JSON.stringify(valid()) }));
    }
  });

  test('a form body labelled application/json → 400 invalid_request (not valid JSON)', async () => {
    assertOAuthError(await postJson(formOf(valid())), 400, 'invalid_request', /^request body is not valid JSON$/);
    await assertStillServes();
  });
});

describe('malformed form bodies (WHATWG application/x-www-form-urlencoded parsing)', () => {
  test('%ZZ and a lone % never decode to a credential: 400 invalid_request', async () => {
    // WHATWG parsing keeps a bad escape as literal text, so the subject token is simply unknown;
    // a stricter parser would refuse the body as malformed, also invalid_request.
    for (const subjectToken of ['%ZZ', '%', `${ALICE_SECRET}%`, `${ALICE_SECRET}%ZZ`, `%${ALICE_SECRET}`]) {
      const body = `grant_type=${encodeURIComponent(GRANT_TYPE_TOKEN_EXCHANGE)}&subject_token=${subjectToken}&subject_token_type=${encodeURIComponent(TOKEN_TYPE_ACCESS_TOKEN)}&audience=${encodeURIComponent(AUDIENCE)}`;
      assertOAuthError(await postForm(body), 400, 'invalid_request', /^subject_token is not valid$/);
    }
    for (const subjectTokenType of ['%ZZ', '%', '%%']) {
      const body = `${formOf({ ...valid(), subject_token_type: 'x' }).replace('subject_token_type=x', `subject_token_type=${subjectTokenType}`)}`;
      assertOAuthError(await postForm(body), 400, 'invalid_request', /subject_token_type/);
    }
    await assertStillServes();
  });

  test('stray separators (&&, a trailing &, a leading &) are ignored: the exchange is granted', async () => {
    assertIssued(await postForm(`&&${formOf(valid()).replace(/&/g, '&&&')}&`));
  });

  test('unknown parameters are ignored (RFC 6749 §3.2), even odd names such as __proto__ and constructor', async () => {
    assertIssued(await postForm(formOf({ ...valid(), __proto__x: '1', constructor: 'x', toString: 'y', 'a[b]': 'c' })));
    assertIssued(await postForm(`${formOf(valid())}&__proto__=x&__proto__%5Badmin%5D=1`));
  });
});

describe('malformed and hostile JSON', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['truncated', '{"grant_type":', /^request body is not valid JSON$/],
    ['trailing garbage', `${JSON.stringify(valid())}x`, /^request body is not valid JSON$/],
    ['single quotes', "{'grant_type':'x'}", /^request body is not valid JSON$/],
    ['a trailing comma', '{"grant_type":"x",}', /^request body is not valid JSON$/],
    ['an array', JSON.stringify([valid()]), /^JSON request body must be an object$/],
    ['a string', JSON.stringify('grant_type=x'), /^JSON request body must be an object$/],
    ['a number', '42', /^JSON request body must be an object$/],
    ['null', 'null', /^JSON request body must be an object$/],
    ['true', 'true', /^JSON request body must be an object$/],
    [
      'a nested object value',
      JSON.stringify({ ...valid(), subject_token: { value: ALICE_SECRET } }),
      /^parameter subject_token must be a string$/,
    ],
    [
      'an array of non-strings for audience',
      JSON.stringify({ ...valid(), audience: [AUDIENCE, 1] }),
      /^parameter audience must be a string or an array of strings$/,
    ],
    [
      'a __proto__ member holding an object',
      rawJsonObject([...Object.entries(valid()), ['__proto__', { admin: true }]]),
      /^parameter __proto__ must be a string$/,
    ],
  ];
  for (const [name, body, description] of cases) {
    test(`${name} → 400 invalid_request`, async () => {
      assertOAuthError(await postJson(body), 400, 'invalid_request', description);
      await assertStillServes();
    });
  }

  test('a __proto__ member holding a string is just an unknown parameter: granted', async () => {
    assertIssued(await postJson(rawJsonObject([...Object.entries(valid()), ['__proto__', 'x'], ['constructor', 'y']])));
  });

  test('10,000 unclosed [ → 400 invalid_request (not valid JSON); the server stays up', async () => {
    assertOAuthError(await postJson('['.repeat(10_000)), 400, 'invalid_request', /^request body is not valid JSON$/);
    await assertStillServes();
  });

  test('8,000 levels of nested arrays (just under the limit) → 400 invalid_request (not an object)', async () => {
    assertOAuthError(
      await postJson(`${'['.repeat(8_000)}${']'.repeat(8_000)}`),
      400,
      'invalid_request',
      /^JSON request body must be an object$/,
    );
    assertOAuthError(
      await postJson(`{"subject_token":${'['.repeat(7_000)}${']'.repeat(7_000)}}`),
      400,
      'invalid_request',
      /^parameter subject_token must be a string$/,
    );
    assertOAuthError(
      await postJson(`${'{"a":'.repeat(2_500)}1${'}'.repeat(2_500)}`),
      400,
      'invalid_request',
      /^parameter a must be a string$/,
    );
    await assertStillServes();
  });

  test('1,000,000 levels of nesting on an STS with a 4 MiB limit → 400 invalid_request, no stack overflow, the server stays up', async (t) => {
    const big = await startSts(t, pki, { bodyLimitBytes: 4 * 1024 * 1024, rateLimit: false });
    const agent = agentFor(t, pki, pki.alice);
    const depth = 1_000_000;
    for (const [body, description] of [
      [`${'['.repeat(depth)}${']'.repeat(depth)}`, /^JSON request body must be an object$/],
      [`{"subject_token":${'['.repeat(depth)}${']'.repeat(depth)}}`, /^parameter subject_token must be a string$/],
      ['['.repeat(depth), /^request body is not valid JSON$/],
    ] as const) {
      assertOAuthError(await send({ url: big.url, agent, contentType: MEDIA_TYPE_JSON, body }), 400, 'invalid_request', description);
    }
    await assertStillServes(big);
  });
});

describe('parameter counts', () => {
  /** `count` distinct short names (two characters from an 80-character alphabet). */
  function shortNames(count: number): string[] {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$()*,;:@/?[]{}|^';
    const names: string[] = [];
    for (const a of alphabet) for (const b of alphabet) if (names.length < count) names.push(`${a}${b}`);
    assert.equal(names.length, count);
    return names;
  }

  test(`exactly MAX_PARAMETERS (${MAX_PARAMETERS}) distinct names → granted; one more → 400 invalid_request`, async () => {
    const extra = (count: number): Array<[string, string]> => Array.from({ length: count }, (_, i) => [`x${i}`, 'v']);
    const base = Object.entries(valid());
    assertIssued(await postForm(formOf([...base, ...extra(MAX_PARAMETERS - base.length)])));
    assertOAuthError(
      await postForm(formOf([...base, ...extra(MAX_PARAMETERS - base.length + 1)])),
      400,
      'invalid_request',
      /^too many parameters \(at most 64\)$/,
    );
    assertIssued(await postJson(JSON.stringify(Object.fromEntries([...base, ...extra(MAX_PARAMETERS - base.length)]))));
    assertOAuthError(
      await postJson(JSON.stringify(Object.fromEntries([...base, ...extra(MAX_PARAMETERS - base.length + 1)]))),
      400,
      'invalid_request',
      /^too many parameters/,
    );
    await assertStillServes();
  });

  test('5,000 distinct names in a form body under the limit → 400 invalid_request', async () => {
    const body = `${formOf(valid())}&${shortNames(5_000).join('&')}`;
    assert.ok(Buffer.byteLength(body) <= LIMIT, `${Buffer.byteLength(body)} bytes`);
    assertOAuthError(await postForm(body), 400, 'invalid_request', /^too many parameters/);
    await assertStillServes();
  });

  test('5,000 distinct names in a form body over the limit → 413 invalid_request', async () => {
    const body = `${formOf(valid())}&${shortNames(5_000)
      .map((name) => `${name}=value`)
      .join('&')}`;
    assert.ok(Buffer.byteLength(body) > LIMIT);
    const response = await postForm(body);
    assertOAuthError(response, 413, 'invalid_request', /exceeds 16384 bytes/);
    assert.equal(response.headers.connection, 'close');
    await assertStillServes();
  });

  test('1,500 distinct names in a JSON body under the limit → 400 invalid_request', async () => {
    const body = JSON.stringify({ ...valid(), ...Object.fromEntries(shortNames(1_500).map((name) => [name, ''])) });
    assert.ok(Buffer.byteLength(body) <= LIMIT, `${Buffer.byteLength(body)} bytes`);
    assertOAuthError(await postJson(body), 400, 'invalid_request', /^too many parameters/);
    await assertStillServes();
  });

  test(`${MAX_PARAMETERS * 4 + 50} repetitions of a repeatable parameter (audience) → 400 invalid_request`, async () => {
    const body = `${formOf(valid())}${'&audience=a'.repeat(MAX_PARAMETERS * 4 + 50)}`;
    assert.ok(Buffer.byteLength(body) <= LIMIT);
    assertOAuthError(await postForm(body), 400, 'invalid_request', /^too many parameters$/);
    await assertStillServes();
  });
});

describe('bytes that are not UTF-8, and NUL', () => {
  const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1');

  test('0xff 0xfe at the start of a form body → 400 invalid_request', async () => {
    const body = Buffer.concat([Buffer.from([0xff, 0xfe]), latin1(formOf(valid()))]);
    assertOAuthError(await postForm(body), 400, 'invalid_request', /^request body is not valid UTF-8$/);
    await assertStillServes();
  });

  test('invalid UTF-8 inside a value (lone continuation byte, overlong /, UTF-16 surrogate) → 400 invalid_request', async () => {
    for (const bad of [[0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xff]]) {
      const form = Buffer.concat([latin1(`${formOf(valid())}&scope=read`), Buffer.from(bad)]);
      assertOAuthError(await postForm(form), 400, 'invalid_request', /^request body is not valid UTF-8$/);
      const json = Buffer.concat([latin1(`${JSON.stringify(valid()).slice(0, -1)},"scope":"read`), Buffer.from(bad), latin1('"}')]);
      assertOAuthError(await postJson(json), 400, 'invalid_request', /^request body is not valid UTF-8$/);
    }
    await assertStillServes();
  });

  test('a raw 0xff 0xfe JSON body (UTF-16 LE BOM) → 400 invalid_request', async () => {
    const body = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(JSON.stringify(valid()), 'utf16le')]);
    assertOAuthError(await postJson(body), 400, 'invalid_request', /^request body is not valid UTF-8$/);
    await assertStillServes();
  });

  test('a NUL byte in the subject token (raw, %00, \\u0000 in JSON) never matches the secret: 400 invalid_request', async () => {
    const rawNul = latin1(formOf(valid()).replace(`subject_token=${ALICE_SECRET}`, `subject_token=${ALICE_SECRET}\u0000`));
    assert.ok(rawNul.includes(0));
    assertOAuthError(await postForm(rawNul), 400, 'invalid_request', /^subject_token is not valid$/);
    assertOAuthError(
      await postForm(formOf(valid()).replace(`subject_token=${ALICE_SECRET}`, `subject_token=${ALICE_SECRET}%00`)),
      400,
      'invalid_request',
      /^subject_token is not valid$/,
    );
    assertOAuthError(
      await postForm(formOf(valid()).replace(`subject_token=${ALICE_SECRET}`, `subject_token=%00${ALICE_SECRET}`)),
      400,
      'invalid_request',
      /^subject_token is not valid$/,
    );
    assertOAuthError(
      await postJson(JSON.stringify({ ...valid(), subject_token: `${ALICE_SECRET}\u0000` })),
      400,
      'invalid_request',
      /^subject_token is not valid$/,
    );
    await assertStillServes();
  });

  test('a NUL byte in grant_type → 400 unsupported_grant_type; in subject_token_type → 400 invalid_request', async () => {
    assertOAuthError(
      await postForm(formOf({ ...valid(), grant_type: `${GRANT_TYPE_TOKEN_EXCHANGE}\u0000` })),
      400,
      'unsupported_grant_type',
    );
    assertOAuthError(
      await postForm(formOf({ ...valid(), subject_token_type: `${TOKEN_TYPE_ACCESS_TOKEN}\u0000` })),
      400,
      'invalid_request',
      /subject_token_type/,
    );
    await assertStillServes();
  });

  test('a NUL byte in the name of an unknown parameter is ignored: granted', async () => {
    assertIssued(await postForm(Buffer.concat([latin1(`${formOf(valid())}&x`), Buffer.from([0]), latin1('y=1')])));
    assertIssued(await postJson(JSON.stringify({ ...valid(), 'x\u0000y': '1' })));
  });
});

describe('client certificates (RFC 8705 §2)', () => {
  const cases: Array<[string, () => IssuedCertificate | undefined, RegExp]> = [
    ['no client certificate', () => undefined, /^a client certificate is required \(mutual TLS\)$/],
    ['an expired certificate from the trusted CA', () => pki.expired, /not issued by a trusted CA or is not valid/],
    ['a certificate from another CA (same subject as alice)', () => pki.stranger, /not issued by a trusted CA or is not valid/],
    ['a CA-issued but unregistered certificate (carol)', () => pki.carol, /^client certificate is not registered with this STS$/],
    ['a server certificate (no clientAuth EKU)', () => pki.server, /not issued by a trusted CA or is not valid/],
  ];
  for (const [name, client, description] of cases) {
    test(`${name} → 401 invalid_client (form and JSON)`, async (t) => {
      const agent = agentFor(t, pki, client());
      assertOAuthError(await send({ agent, contentType: MEDIA_TYPE_FORM, body: formOf(valid()) }), 401, 'invalid_client', description);
      assertOAuthError(
        await send({ agent, contentType: MEDIA_TYPE_JSON, body: JSON.stringify(valid()) }),
        401,
        'invalid_client',
        description,
      );
      await assertStillServes();
    });
  }
});

describe('routing', () => {
  test('GET, PUT, DELETE and HEAD on /token → 405 with Allow: POST', async (t) => {
    const anonymous = agentFor(t, pki);
    for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
      const response = await send({
        method,
        agent: anonymous,
        ...(method === 'GET' ? {} : { contentType: MEDIA_TYPE_FORM, body: formOf(valid()) }),
      });
      assertOAuthError(response, 405, 'method_not_allowed', /^use POST$/);
      assert.equal(response.headers.allow, 'POST', method);
    }
    const head = await send({ method: 'HEAD', agent: anonymous });
    assert.equal(head.status, 405);
    assert.equal(head.headers.allow, 'POST');
    assert.equal(head.text, '', 'no body in a HEAD response');
    await assertStillServes();
  });

  test("a wrong method with alice's certificate is still 405 (the method is checked before the client)", async () => {
    const response = await send({ method: 'GET' });
    assertOAuthError(response, 405, 'method_not_allowed');
    assert.equal(response.headers.allow, 'POST');
  });

  test('unknown paths → 404 not_found (including near misses of /token)', async (t) => {
    const anonymous = agentFor(t, pki);
    for (const path of ['/nope', '/token/', '/TOKEN', '/token.json', '/tokens', '//token', '/.well-known/jwks']) {
      const response = await send({ path, agent: anonymous, contentType: MEDIA_TYPE_FORM, body: formOf(valid()) });
      assertOAuthError(response, 404, 'not_found', /^no such endpoint$/);
    }
    await assertStillServes();
  });

  test('a query string does not change the route: /token?x=1 is the token endpoint', async () => {
    assertIssued(await send({ path: '/token?grant_type=password', contentType: MEDIA_TYPE_FORM, body: formOf(valid()) }));
  });

  test('HEAD on the JWKS → 200, no body, the same headers as GET', async (t) => {
    const anonymous = agentFor(t, pki);
    const get = await send({ method: 'GET', path: '/.well-known/jwks.json', agent: anonymous });
    const head = await send({ method: 'HEAD', path: '/.well-known/jwks.json', agent: anonymous });
    assert.equal(get.status, 200);
    assert.ok(Array.isArray(get.body?.keys));
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    assert.equal(head.headers['content-type'], 'application/json');
    assert.equal(head.headers['cache-control'], get.headers['cache-control']);
    assert.match(String(head.headers['cache-control']), /^public, max-age=\d+$/);
    assert.equal(head.headers['content-length'], String(Buffer.byteLength(get.text)));
  });

  test('POST on the JWKS → 405 with Allow: GET, HEAD', async (t) => {
    const response = await send({ path: '/.well-known/jwks.json', agent: agentFor(t, pki), contentType: MEDIA_TYPE_FORM, body: 'x=1' });
    assertOAuthError(response, 405, 'method_not_allowed', /^use GET$/);
    assert.equal(response.headers.allow, 'GET, HEAD');
  });
});

describe('RFC 6749 §5.2: error_description holds only %x20-21 / %x23-5B / %x5D-7E', () => {
  // Refusals that name a parameter or value the client sent must not carry the client's bytes
  // (control characters, quotes, backslashes, non-ASCII) back into error_description.
  const DESCRIPTION_CHARSET = /^[\x20\x21\x23-\x5B\x5D-\x7E]*$/;
  const cases: Array<[string, () => Promise<RawResponse>, number, string]> = [
    [
      'an unknown grant_type with NUL, quote, backslash and non-ASCII',
      () => postForm(formOf({ ...valid(), grant_type: 'pass"word\\\u0000é\u202e' })),
      400,
      'unsupported_grant_type',
    ],
    [
      'a repeated parameter whose name has a quote, a backslash and non-ASCII',
      () => postForm(formOf([...Object.entries(valid()), ['na"me\\é', '1'], ['na"me\\é', '2']])),
      400,
      'invalid_request',
    ],
    [
      'a JSON parameter with a non-string value and a hostile name',
      () => postJson(JSON.stringify({ ...valid(), 'x"\\\u0000\u2028': 1 })),
      400,
      'invalid_request',
    ],
  ];
  for (const [name, sendIt, status, error] of cases) {
    test(`${name} → ${status} ${error}, description within the RFC 6749 charset`, async () => {
      const response = await sendIt();
      assertOAuthError(response, status, error);
      assert.match(
        response.body?.error_description as string,
        DESCRIPTION_CHARSET,
        `error_description ${JSON.stringify(response.body?.error_description)}`,
      );
      await assertStillServes();
    });
  }
});
