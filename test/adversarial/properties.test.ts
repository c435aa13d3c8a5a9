// Property-based tests (fast-check) for every parser certbound owns: token request bodies, the
// Bearer Authorization header, forwarded-certificate headers and trusted-proxy options, subject
// and SPIFFE ID patterns, distinguished names, certificate matchers and thumbprints. Whatever
// the input, a parser answers or throws its documented error, never anything else.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseBearerAuthorization } from '../../src/core/bearer.js';
import { canonicalDistinguishedName } from '../../src/pki/distinguished-name.js';
import { certificateMatches, MATCHER_FIELDS, type CertificateMatcher } from '../../src/core/certificate/matcher.js';
import { type CertificateFacts } from '../../src/core/certificate/facts.js';
import { CertboundError, ERROR_OUTCOMES } from '../../src/core/errors.js';
import { subjectPatternMatches } from '../../src/core/policy/authorize.js';
import { MEDIA_TYPE_FORM, MEDIA_TYPE_JSON } from '../../src/core/rfc.js';
import { compileSpiffePattern, formatSpiffeId, parseSpiffeId, type SpiffeId } from '../../src/core/spiffe.js';
import { computeThumbprint, isWellFormedThumbprint, thumbprintFromSha256Hex, thumbprintsEqual } from '../../src/core/thumbprint.js';
import { MAX_PARAMETERS, parseTokenRequest, type TokenRequestParameters } from '../../src/core/token-request.js';
import {
  forwardedCertificateOf,
  parseXfcc,
  pickXfccElement,
  resolveTrustedProxyOptions,
  type ForwardedCertificateFormat,
} from '../../src/http/forwarded-certificate.js';

const RUNS = 300;
const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;
const REPEATABLE = new Set(['audience', 'resource']);

/** Run `fn`; it may return, or throw a CertboundError whose code is in `codes` (and in ERROR_OUTCOMES). */
function returnsOrThrows<T>(fn: () => T, codes: readonly string[]): T | CertboundError {
  try {
    return fn();
  } catch (error) {
    if (!(error instanceof CertboundError))
      throw new assert.AssertionError({ message: `threw a non-CertboundError: ${String(error)}`, actual: error });
    assert.ok(Object.hasOwn(ERROR_OUTCOMES, error.code), `unknown code ${error.code}`);
    assert.ok(codes.includes(error.code), `unexpected code ${error.code}: ${error.description}`);
    return error;
  }
}

/** Run `fn`; it may return, or throw a TypeError (a documented misuse/parse failure). */
function returnsOrTypeError<T>(fn: () => T): T | TypeError {
  try {
    return fn();
  } catch (error) {
    if (!(error instanceof TypeError))
      throw new assert.AssertionError({ message: `threw a non-TypeError: ${String(error)}`, actual: error });
    return error;
  }
}

function assertCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (error: unknown) => error instanceof CertboundError && error.code === code);
}

// ---------------------------------------------------------------------------------------------
// parseTokenRequest
// ---------------------------------------------------------------------------------------------

/** Parameter names: anything (no lone surrogates: they are not USVStrings), plus prototype keys. */
const parameterName = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '__proto__',
      'constructor',
      'toString',
      'hasOwnProperty',
      '',
      'grant_type',
      'scope',
      'a=b',
      'a&b',
      'a+b',
      '%41',
    ),
  },
);
const parameterValue = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('', ' ', '+', '%', '%ZZ', '=', '&', '\u0000', 'é'),
);

/** A request's parameters: distinct single-valued names, plus audience/resource lists. */
const parameterMap = fc
  .record({
    single: fc.uniqueArray(
      fc.tuple(
        parameterName.filter((name) => !REPEATABLE.has(name)),
        parameterValue,
      ),
      { selector: ([name]) => name, maxLength: MAX_PARAMETERS - 2 },
    ),
    audience: fc.option(fc.array(parameterValue, { minLength: 1, maxLength: 4 }), { nil: undefined }),
    resource: fc.option(fc.array(parameterValue, { minLength: 1, maxLength: 4 }), { nil: undefined }),
  })
  .map(({ single, audience, resource }) => {
    const map = new Map<string, string[]>(single.map(([name, value]) => [name, [value]]));
    if (audience !== undefined) map.set('audience', audience);
    if (resource !== undefined) map.set('resource', resource);
    return map;
  });

function encodeForm(map: Map<string, string[]>): Buffer {
  const form = new URLSearchParams();
  for (const [name, values] of map) for (const value of values) form.append(name, value);
  return Buffer.from(form.toString(), 'utf8');
}

function encodeJson(map: Map<string, string[]>, singleRepeatableAsString: boolean): Buffer {
  const object = Object.fromEntries(
    [...map].map(([name, values]) => [
      name,
      REPEATABLE.has(name) && !(singleRepeatableAsString && values.length === 1) ? values : values[0],
    ]),
  );
  return Buffer.from(JSON.stringify(object), 'utf8');
}

/** What a parsed request must say about each parameter of `map`. */
function assertSameParameters(parameters: TokenRequestParameters, map: Map<string, string[]>): void {
  assert.deepEqual(new Set(parameters.names()), new Set(map.keys()));
  for (const [name, values] of map) {
    assert.equal(parameters.has(name), true, name);
    if (REPEATABLE.has(name)) {
      assert.deepEqual(
        parameters.list(name),
        values.filter((value) => value !== ''),
        name,
      );
    } else {
      const value = values[0] as string;
      assert.equal(parameters.optional(name), value === '' ? undefined : value, name);
      if (value === '') assertCode(() => parameters.required(name), 'CB_REQUEST_INVALID');
      else assert.equal(parameters.required(name), value, name);
    }
  }
}

const PARSE_CODES = ['CB_REQUEST_INVALID', 'CB_CONTENT_TYPE_UNSUPPORTED'] as const;

const contentType = fc.oneof(
  fc.constantFrom(
    undefined,
    MEDIA_TYPE_FORM,
    MEDIA_TYPE_JSON,
    `${MEDIA_TYPE_FORM}; charset=utf-8`,
    `${MEDIA_TYPE_JSON};charset=UTF-8`,
    `${MEDIA_TYPE_JSON}; charset=latin1`,
    'text/plain',
    'multipart/form-data; boundary=x',
    '',
    ';',
    '/',
  ),
  fc.string({ maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom(
      'a',
      'p',
      'l',
      'i',
      'c',
      't',
      'o',
      'n',
      '/',
      'j',
      's',
      ';',
      '=',
      '"',
      ' ',
      'x',
      '-',
      'w',
      'f',
      'r',
      'm',
      'u',
      'e',
      'd',
      '\\',
    ),
    maxLength: 40,
  }),
);

const body = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 100 }).map((text) => Buffer.from(text, 'utf8')),
  fc.json({ maxDepth: 4 }).map((text) => Buffer.from(text, 'utf8')),
  fc
    .string({ unit: fc.constantFrom('a', '=', '&', '%', '+', 'Z', '0', 'f', '\u0000', 'é'), maxLength: 60 })
    .map((text) => Buffer.from(text, 'utf8')),
  parameterMap.map((map) => encodeForm(map)),
  parameterMap.map((map) => encodeJson(map, false)),
);

describe('parseTokenRequest (properties)', () => {
  test('any content type and any bytes: parameters, or CB_REQUEST_INVALID / CB_CONTENT_TYPE_UNSUPPORTED, never another error', () => {
    fc.assert(
      fc.property(contentType, body, fc.array(parameterName, { maxLength: 4 }), (type, bytes, probes) => {
        const parsed = returnsOrThrows(() => parseTokenRequest(type, bytes), PARSE_CODES);
        if (parsed instanceof CertboundError) return;
        assert.ok(parsed.names().length <= MAX_PARAMETERS);
        // The accessors of a parsed request throw only CB_REQUEST_INVALID, whatever is asked.
        for (const name of [...probes, ...parsed.names()]) {
          returnsOrThrows(() => parsed.required(name), ['CB_REQUEST_INVALID']);
          returnsOrThrows(() => parsed.optional(name), ['CB_REQUEST_INVALID']);
          assert.ok(parsed.list(name).every((value) => typeof value === 'string' && value !== ''));
          assert.equal(typeof parsed.has(name), 'boolean');
        }
      }),
      { numRuns: 500 },
    );
  });

  test('round trip: any parameter map written with URLSearchParams parses back to the same parameters', () => {
    fc.assert(
      fc.property(parameterMap, (map) => {
        assertSameParameters(parseTokenRequest(MEDIA_TYPE_FORM, encodeForm(map)), map);
      }),
      { numRuns: RUNS },
    );
  });

  test('round trip: any parameter map written with JSON.stringify parses back to the same parameters', () => {
    fc.assert(
      fc.property(parameterMap, fc.boolean(), (map, singleAsString) => {
        assertSameParameters(parseTokenRequest(MEDIA_TYPE_JSON, encodeJson(map, singleAsString)), map);
      }),
      { numRuns: RUNS },
    );
  });

  // A name that may not repeat, and the rest of a request it is repeated in.
  const duplicate = fc.record({
    map: parameterMap,
    name: parameterName.filter((name) => !REPEATABLE.has(name)),
    first: parameterValue,
    second: parameterValue,
    position: fc.nat(),
  });

  test('a non-repeatable name given twice in a form is always CB_REQUEST_INVALID (even with the same value)', () => {
    fc.assert(
      fc.property(duplicate, fc.boolean(), ({ map, name, first, second, position }, same) => {
        map.delete(name);
        const pairs = [...map].flatMap(([key, values]) => values.map((value): [string, string] => [key, value]));
        const at = position % (pairs.length + 1);
        pairs.splice(at, 0, [name, first]);
        pairs.push([name, same ? first : second]);
        const form = new URLSearchParams();
        for (const [key, value] of pairs) form.append(key, value);
        assertCode(() => parseTokenRequest(MEDIA_TYPE_FORM, Buffer.from(form.toString())), 'CB_REQUEST_INVALID');
      }),
      { numRuns: RUNS },
    );
  });

  test('a non-repeatable name given as a JSON array is always CB_REQUEST_INVALID', () => {
    fc.assert(
      fc.property(duplicate, fc.integer({ min: 0, max: 3 }), ({ map, name, first, second }, length) => {
        map.delete(name);
        const object = { ...JSON.parse(encodeJson(map, false).toString()), [name]: [first, second, first].slice(0, length) };
        assertCode(() => parseTokenRequest(MEDIA_TYPE_JSON, Buffer.from(JSON.stringify(object))), 'CB_REQUEST_INVALID');
      }),
      { numRuns: RUNS },
    );
  });

  test('a non-repeatable name given twice in the raw JSON text (a duplicate object member) is always CB_REQUEST_INVALID', () => {
    // JSON.parse silently keeps the last duplicate; the request is ambiguous (RFC 8259 §4: names
    // SHOULD be unique; a parser in front of the STS may keep the first) and must be refused.
    fc.assert(
      fc.property(duplicate, fc.boolean(), ({ map, name, first, second, position }, same) => {
        map.delete(name);
        const members = [...map].map(
          ([key, values]) => `${JSON.stringify(key)}:${JSON.stringify(REPEATABLE.has(key) ? values : values[0])}`,
        );
        members.splice(position % (members.length + 1), 0, `${JSON.stringify(name)}:${JSON.stringify(first)}`);
        members.push(`${JSON.stringify(name)}:${JSON.stringify(same ? first : second)}`);
        assertCode(() => parseTokenRequest(MEDIA_TYPE_JSON, Buffer.from(`{${members.join(',')}}`)), 'CB_REQUEST_INVALID');
      }),
      { numRuns: RUNS },
    );
  });

  test(`more than MAX_PARAMETERS (${MAX_PARAMETERS}) distinct names are always refused, form and JSON`, () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 6 }), {
          minLength: MAX_PARAMETERS + 1,
          maxLength: MAX_PARAMETERS + 40,
        }),
        (names) => {
          const map = new Map(names.map((name): [string, string[]] => [name, ['v']]));
          assertCode(() => parseTokenRequest(MEDIA_TYPE_FORM, encodeForm(map)), 'CB_REQUEST_INVALID');
          assertCode(() => parseTokenRequest(MEDIA_TYPE_JSON, encodeJson(map, true)), 'CB_REQUEST_INVALID');
        },
      ),
      { numRuns: 100 },
    );
  });

  test('RFC 9110 §8.3.1: the media type is matched case-insensitively; only charset=utf-8 (any case) is accepted', () => {
    const randomCase = (text: string) =>
      fc
        .array(fc.boolean(), { minLength: text.length, maxLength: text.length })
        .map((flags) => [...text].map((char, i) => (flags[i] ? char.toUpperCase() : char.toLowerCase())).join(''));
    const charset = fc.oneof(randomCase('utf-8'), fc.stringMatching(/^[A-Za-z0-9-]{1,12}$/));
    fc.assert(
      fc.property(
        fc.constantFrom(MEDIA_TYPE_FORM, MEDIA_TYPE_JSON),
        fc.option(charset, { nil: undefined }),
        fc.boolean(),
        (essence, chosen, upper) => {
          const type = `${upper ? essence.toUpperCase() : essence}${chosen === undefined ? '' : `; charset=${chosen}`}`;
          const bytes = Buffer.from(essence === MEDIA_TYPE_FORM ? 'grant_type=x' : '{"grant_type":"x"}');
          if (chosen === undefined || chosen.toLowerCase() === 'utf-8')
            assert.equal(parseTokenRequest(type, bytes).required('grant_type'), 'x', type);
          else assertCode(() => parseTokenRequest(type, bytes), 'CB_REQUEST_INVALID');
        },
      ),
      { numRuns: RUNS },
    );
  });

  test('any other type/subtype is CB_CONTENT_TYPE_UNSUPPORTED', () => {
    const token = fc.stringMatching(/^[a-z0-9!#$&^_.+-]{1,20}$/);
    fc.assert(
      fc.property(token, token, (type, subtype) => {
        const essence = `${type}/${subtype}`;
        fc.pre(essence !== MEDIA_TYPE_FORM && essence !== MEDIA_TYPE_JSON);
        assertCode(() => parseTokenRequest(essence, Buffer.from('grant_type=x')), 'CB_CONTENT_TYPE_UNSUPPORTED');
      }),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// parseBearerAuthorization (RFC 6750 §2.1)
// ---------------------------------------------------------------------------------------------

const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const b64token = fc.stringMatching(/^[A-Za-z0-9\-._~+/]{1,40}={0,3}$/);
const bearerScheme = fc
  .array(fc.boolean(), { minLength: 6, maxLength: 6 })
  .map((flags) => [...'bearer'].map((char, i) => (flags[i] ? char.toUpperCase() : char)).join(''));

describe('parseBearerAuthorization (properties)', () => {
  const headerish = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 60 }),
    fc
      .tuple(
        fc.constantFrom('Bearer', 'bearer', 'BEARER', 'Basic', 'Bearer:', '', 'Be arer'),
        fc.string({ unit: fc.constantFrom(' ', '\t', 'a', '=', '"', ',', '/', '+', '\n', '\r', '\u00a0', '~'), maxLength: 20 }),
      )
      .map(([scheme, rest]) => `${scheme}${rest}`),
  );

  test('any header value(s): a token, or CB_TOKEN_MISSING / CB_AUTHORIZATION_MALFORMED, never another error', () => {
    fc.assert(
      fc.property(fc.oneof(fc.constant(undefined), headerish, fc.array(headerish, { maxLength: 3 })), (values) => {
        const result = returnsOrThrows(() => parseBearerAuthorization(values), ['CB_TOKEN_MISSING', 'CB_AUTHORIZATION_MALFORMED']);
        if (typeof result === 'string') {
          // Whatever is accepted is an RFC 6750 b64token, and the header ends with it.
          assert.match(result, B64TOKEN);
          const header = typeof values === 'string' ? values : ((values as string[])[0] as string);
          assert.ok(header.endsWith(` ${result}`));
          assert.equal(header.slice(0, 6).toLowerCase(), 'bearer');
        }
      }),
      { numRuns: 500 },
    );
  });

  test('"<Bearer in any case> <b64token>" always yields the token (single string or one-element list, 1-3 spaces)', () => {
    fc.assert(
      fc.property(bearerScheme, fc.integer({ min: 1, max: 3 }), b64token, (scheme, spaces, token) => {
        const header = `${scheme}${' '.repeat(spaces)}${token}`;
        assert.equal(parseBearerAuthorization(header), token);
        assert.equal(parseBearerAuthorization([header]), token);
      }),
      { numRuns: RUNS },
    );
  });

  test('a token with a character outside b64token is CB_AUTHORIZATION_MALFORMED', () => {
    const outside = fc
      .string({ unit: 'binary', minLength: 1, maxLength: 1 })
      .filter((char) => !/[A-Za-z0-9\-._~+/=]/.test(char) && char.trim() !== '');
    fc.assert(
      fc.property(bearerScheme, b64token, outside, fc.nat(), (scheme, token, char, at) => {
        const i = at % (token.length + 1);
        assertCode(() => parseBearerAuthorization(`${scheme} ${token.slice(0, i)}${char}${token.slice(i)}`), 'CB_AUTHORIZATION_MALFORMED');
      }),
      { numRuns: RUNS },
    );
  });

  test('any other letters-only scheme is CB_TOKEN_MISSING (not a bearer token at all)', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z]{1,10}$/).filter((scheme) => scheme.toLowerCase() !== 'bearer'),
        b64token,
        (scheme, token) => {
          assertCode(() => parseBearerAuthorization(`${scheme} ${token}`), 'CB_TOKEN_MISSING');
        },
      ),
      { numRuns: RUNS },
    );
  });

  test('two or more Authorization headers are CB_AUTHORIZATION_MALFORMED, even if each is well-formed', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(bearerScheme, b64token).map(([scheme, token]) => `${scheme} ${token}`),
          { minLength: 2, maxLength: 4 },
        ),
        (headers) => {
          assertCode(() => parseBearerAuthorization(headers), 'CB_AUTHORIZATION_MALFORMED');
        },
      ),
      { numRuns: 100 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Forwarded certificates: what test/unit/forwarded-certificate.test.ts does not already cover
// (its properties cover parseClientCertHeader, parseUrlEncodedPem and parseXfcc on their own).
// ---------------------------------------------------------------------------------------------

/** A request as node:http hands it over, without a socket: only what forwardedCertificateOf reads. */
function fakeRequest(remoteAddress: string | undefined, headers: Record<string, string | string[]>, http2: boolean): IncomingMessage {
  const distinct = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value].flat()]));
  const joined = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value].flat().join(', ')]));
  return { headers: joined, ...(http2 ? {} : { headersDistinct: distinct }), socket: { remoteAddress } } as unknown as IncomingMessage;
}

const addressish = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  fc.ipV4().map((ip) => `::ffff:${ip}`),
  fc.tuple(fc.ipV4(), fc.integer({ min: -2, max: 40 })).map(([ip, bits]) => `${ip}/${bits}`),
  fc.tuple(fc.ipV6(), fc.integer({ min: -2, max: 140 })).map(([ip, bits]) => `${ip}/${bits}`),
  fc.string({ unit: fc.constantFrom('0', '1', '9', '.', ':', '/', 'f', 'x', ' ', '-', '%'), maxLength: 20 }),
  fc.string({ maxLength: 20 }),
);

describe('trusted proxies and forwarded certificates (properties)', () => {
  test('resolveTrustedProxyOptions: any address list is resolved or a TypeError; isTrusted never throws', () => {
    fc.assert(
      fc.property(
        fc.array(addressish, { maxLength: 4 }),
        fc.array(fc.oneof(addressish, fc.constant(undefined)), { maxLength: 6 }),
        (addresses, peers) => {
          const proxy = returnsOrTypeError(() => resolveTrustedProxyOptions({ addresses, format: 'xfcc' }));
          if (proxy instanceof TypeError) return;
          for (const peer of [...peers, ...addresses]) assert.equal(typeof proxy.isTrusted(peer), 'boolean');
        },
      ),
      { numRuns: RUNS },
    );
  });

  test('an exact IPv4 address trusts itself and its IPv4-mapped IPv6 form', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        // fc.ipV4 never writes leading zeros, so the address is canonical.
        const proxy = resolveTrustedProxyOptions({ addresses: [ip], format: 'rfc9440' });
        assert.equal(proxy.isTrusted(ip), true);
        assert.equal(proxy.isTrusted(`::ffff:${ip}`), true);
      }),
      { numRuns: RUNS },
    );
  });

  const headerValue = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 80 }),
    fc.string({
      unit: fc.constantFrom('H', 'a', 's', 'h', '=', ';', ',', '"', ':', 'C', 'e', 'r', 't', '%', '0', 'f', ' '),
      maxLength: 80,
    }),
    fc.stringMatching(/^[0-9a-fA-F]{64}$/).map((hex) => `Hash=${hex}`),
    fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => `:${Buffer.from(bytes).toString('base64')}:`),
  );

  test('forwardedCertificateOf: any headers from any peer give undefined, a well-formed thumbprint, or one of its three documented errors', () => {
    const TRUSTED = '10.0.0.7';
    fc.assert(
      fc.property(
        fc.constantFrom<ForwardedCertificateFormat>('rfc9440', 'xfcc', 'pem-urlencoded'),
        fc.oneof(fc.constant(TRUSTED), fc.constant(`::ffff:${TRUSTED}`), fc.constant(undefined), fc.ipV4(), fc.string({ maxLength: 10 })),
        fc.option(fc.oneof(headerValue, fc.array(headerValue, { minLength: 1, maxLength: 3 })), { nil: undefined }),
        fc.integer({ min: 1, max: 4 }),
        fc.boolean(),
        (format, peer, value, xfccHops, http2) => {
          const proxy = resolveTrustedProxyOptions({ addresses: [TRUSTED], format, xfccHops });
          const headers = value === undefined ? {} : { [proxy.header]: value };
          const result = returnsOrThrows(
            () => forwardedCertificateOf(fakeRequest(peer, headers, http2), proxy),
            ['CB_FORWARDED_CERT_UNTRUSTED', 'CB_CLIENT_CERT_MISSING', 'CB_FORWARDED_CERT_MALFORMED'],
          );
          const trusted = proxy.isTrusted(peer);
          if (!trusted) {
            // From any other peer: the header is refused, never read; without it, nothing to say.
            if (value === undefined) assert.equal(result, undefined);
            else assert.ok(result instanceof CertboundError && result.code === 'CB_FORWARDED_CERT_UNTRUSTED');
            return;
          }
          // A trusted proxy always speaks for the request: never "no opinion".
          assert.notEqual(result, undefined);
          if (!(result instanceof CertboundError)) assert.match((result as { thumbprint: string }).thumbprint, THUMBPRINT);
        },
      ),
      { numRuns: 500 },
    );
  });

  test('XFCC Hash= alone: the thumbprint is the hex SHA-256 re-encoded as base64url', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9a-fA-F]{64}$/), (hex) => {
        const proxy = resolveTrustedProxyOptions({ addresses: ['10.0.0.7'], format: 'xfcc' });
        const forwarded = forwardedCertificateOf(
          fakeRequest('10.0.0.7', { 'x-forwarded-client-cert': `By=spiffe://proxy;Hash=${hex}` }, false),
          proxy,
        );
        assert.deepEqual(forwarded, { thumbprint: Buffer.from(hex, 'hex').toString('base64url'), der: undefined });
      }),
      { numRuns: RUNS },
    );
  });

  test('pickXfccElement: any hop count picks that element from the end, or is CB_FORWARDED_CERT_MALFORMED', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 10 }), (count, hops) => {
        const elements = parseXfcc(Array.from({ length: count }, (_, i) => `Hash=${i}`).join(','));
        const picked = returnsOrThrows(() => pickXfccElement(elements, hops), ['CB_FORWARDED_CERT_MALFORMED']);
        if (hops <= count) assert.deepEqual((picked as Map<string, string[]>).get('hash'), [String(count - hops)]);
        else assert.ok(picked instanceof CertboundError);
      }),
      { numRuns: 100 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Subject patterns (federated subjects, may_act): `*` is any run of characters, '/' included
// (docs/configuration.md: "a pattern where `*` is any run of characters").
// ---------------------------------------------------------------------------------------------

/** Reference glob: `*` matches any run of characters (including none), everything else literally. */
function globMatches(pattern: string, subject: string): boolean {
  const p = [...pattern];
  const s = [...subject];
  // reachable[j]: pattern prefix so far can match subject prefix of length j.
  let reachable = s.map(() => false).concat(false);
  reachable[0] = true;
  for (const char of p) {
    const next = reachable.map(() => false);
    if (char === '*') {
      let seen = false;
      for (let j = 0; j <= s.length; j++) next[j] = seen = seen || (reachable[j] as boolean);
    } else {
      for (let j = 1; j <= s.length; j++) next[j] = (reachable[j - 1] as boolean) && s[j - 1] === char;
    }
    reachable = next;
  }
  return reachable[s.length] as boolean;
}

const patternChar = fc.constantFrom('a', 'b', '/', '.', '*', '\n', '(', '[', '\\', '$', '^', '+', '?', '|', '{', 'é');
const subjectChar = fc.constantFrom('a', 'b', '/', '.', '*', '\n', '(', '[', '\\', '$', '^', '+', '?', '|', '{', 'é');

describe('subjectPatternMatches (properties)', () => {
  test('any pattern and subject: a boolean, never an exception', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 16 }), fc.string({ unit: 'binary', maxLength: 30 }), (pattern, subject) => {
        assert.equal(typeof subjectPatternMatches(pattern, subject), 'boolean');
      }),
      { numRuns: 500 },
    );
  });

  test('a pattern without * matches exactly itself and nothing else', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 20 }).filter((p) => !p.includes('*')),
        fc.string({ unit: 'binary', maxLength: 20 }),
        (pattern, subject) => {
          assert.equal(subjectPatternMatches(pattern, pattern), true);
          assert.equal(subjectPatternMatches(pattern, subject), pattern === subject);
          assert.equal(subjectPatternMatches(pattern, `${pattern}\n`), false, 'no trailing-newline slack');
        },
      ),
      { numRuns: RUNS },
    );
  });

  test('agrees with a reference glob matcher (regex metacharacters are literal, * is any run)', () => {
    fc.assert(
      fc.property(fc.string({ unit: patternChar, maxLength: 10 }), fc.string({ unit: subjectChar, maxLength: 14 }), (pattern, subject) => {
        assert.equal(
          subjectPatternMatches(pattern, subject),
          globMatches(pattern, subject),
          `${JSON.stringify(pattern)} vs ${JSON.stringify(subject)}`,
        );
      }),
      { numRuns: 1000 },
    );
  });

  test('* spans any run, across / and newlines: prefix*suffix matches prefix + anything + suffix', () => {
    const literal = fc.string({ unit: 'binary', maxLength: 10 }).filter((text) => !text.includes('*'));
    fc.assert(
      fc.property(
        literal,
        fc.string({ unit: fc.constantFrom('/', '\n', 'a', '*', '.', '/'), maxLength: 12 }),
        literal,
        (prefix, middle, suffix) => {
          assert.equal(subjectPatternMatches(`${prefix}*${suffix}`, `${prefix}${middle}${suffix}`), true);
          assert.equal(subjectPatternMatches('*', `${prefix}${middle}${suffix}`), true);
        },
      ),
      { numRuns: RUNS },
    );
  });

  test('matching time stays linear-ish: several * against a long near-miss subject is fast (no regex backtracking blow-up)', () => {
    // Subjects come from subject and actor tokens (an IdP's sub, which a user may influence);
    // patterns come from policy. A backtracking regex makes `*a*a*a*b` cost O(n^4) on 'aaa...'.
    // A linear glob matcher answers in microseconds; the bound leaves room for a slow machine.
    const pattern = '*a*a*a*b';
    const subject = 'a'.repeat(200);
    const started = performance.now();
    assert.equal(subjectPatternMatches(pattern, subject), false);
    const ms = performance.now() - started;
    assert.ok(ms < 100, `${pattern} against ${subject.length} characters took ${ms.toFixed(0)} ms`);
  });
});

// ---------------------------------------------------------------------------------------------
// SPIFFE IDs and patterns: `*` is exactly one segment, a final `**` one or more, the trust
// domain literal (docs/configuration.md, SPIFFE identities).
// ---------------------------------------------------------------------------------------------

const trustDomain = fc.constantFrom('d.com', 'e.org', 'a-b_c.d');
const segment = fc.constantFrom<string>('x', 'y', 'ns', 'sa', 'A.b-c_9');
const spiffeId = fc.record({ trustDomain, segments: fc.array(segment, { maxLength: 4 }) });
const spiffeText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom('spiffe://', 'a', 'B', '.', '..', '/', '-', '_', ':', '%', '*', '**', '?', '#', '@', ' '),
    maxLength: 12,
  }),
  fc
    .string({ unit: fc.constantFrom('a', 'B', '.', '..', '/', '-', '_', ':', '%', '*', '**', '?', '#', '@'), maxLength: 12 })
    .map((rest) => `spiffe://${rest}`),
);

/** Reference: does a pattern (segments with `*` and a final `**`) match an ID? */
function spiffeReference(patternTrustDomain: string, patternSegments: readonly string[], id: SpiffeId): boolean {
  if (id.trustDomain !== patternTrustDomain) return false;
  const rest = patternSegments.at(-1) === '**';
  const fixed = rest ? patternSegments.slice(0, -1) : patternSegments;
  if (rest ? id.segments.length < fixed.length + 1 : id.segments.length !== fixed.length) return false;
  return fixed.every((part, i) => part === '*' || part === id.segments[i]);
}

describe('SPIFFE IDs and patterns (properties)', () => {
  test('parseSpiffeId: any string is undefined or an ID that formats back to exactly that string', () => {
    fc.assert(
      fc.property(spiffeText, (text) => {
        const id = parseSpiffeId(text);
        if (id === undefined) return;
        assert.equal(formatSpiffeId(id), text);
        assert.ok(id.segments.every((part) => part !== '' && part !== '.' && part !== '..' && !part.includes('/')));
      }),
      { numRuns: 500 },
    );
  });

  test('compileSpiffePattern: any string compiles or is a TypeError; a compiled matcher never throws', () => {
    fc.assert(
      fc.property(spiffeText, spiffeId, (text, id) => {
        const matcher = returnsOrTypeError(() => compileSpiffePattern(text));
        if (matcher instanceof TypeError) return;
        assert.equal(typeof matcher(id), 'boolean');
      }),
      { numRuns: 500 },
    );
  });

  test('a pattern without * (an ID) matches exactly that ID', () => {
    fc.assert(
      fc.property(spiffeId, spiffeId, (a, b) => {
        const matches = compileSpiffePattern(formatSpiffeId(a));
        assert.equal(matches(a), true);
        assert.equal(matches(b), formatSpiffeId(a) === formatSpiffeId(b));
      }),
      { numRuns: RUNS },
    );
  });

  test('* is exactly one segment (never across /) and a final ** one or more: agrees with a segment-wise reference', () => {
    const patternSegments = fc
      .tuple(fc.array(fc.oneof(segment, fc.constant('*')), { maxLength: 4 }), fc.boolean())
      .map(([parts, rest]) => (rest ? [...parts, '**'] : parts));
    fc.assert(
      fc.property(trustDomain, patternSegments, spiffeId, (domain, parts, id) => {
        const pattern = `spiffe://${domain}${parts.map((part) => `/${part}`).join('')}`;
        assert.equal(compileSpiffePattern(pattern)(id), spiffeReference(domain, parts, id), `${pattern} vs ${formatSpiffeId(id)}`);
      }),
      { numRuns: 1000 },
    );
  });

  test('a * segment matches any single valid segment but not two', () => {
    fc.assert(
      fc.property(
        trustDomain,
        fc.array(segment, { minLength: 1, maxLength: 4 }),
        fc.nat(),
        fc.stringMatching(/^[A-Za-z0-9._-]{1,10}$/).filter((s) => s !== '.' && s !== '..'),
        (domain, segments, at, replacement) => {
          const i = at % segments.length;
          const pattern = `spiffe://${domain}/${segments.map((part, j) => (j === i ? '*' : part)).join('/')}`;
          const matches = compileSpiffePattern(pattern);
          const one = [...segments];
          one[i] = replacement;
          assert.equal(matches({ trustDomain: domain, segments: one }), true);
          const two = [...segments];
          two.splice(i, 1, replacement, replacement);
          assert.equal(matches({ trustDomain: domain, segments: two }), false);
        },
      ),
      { numRuns: RUNS },
    );
  });

  test('a wildcard in the trust domain is always a TypeError', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z0-9._-]{0,6}$/),
        fc.constantFrom('*', '**'),
        fc.stringMatching(/^[a-z0-9._-]{0,6}$/),
        fc.array(segment, { maxLength: 2 }),
        (before, star, after, segments) => {
          const pattern = `spiffe://${before}${star}${after}${segments.map((part) => `/${part}`).join('')}`;
          assert.throws(() => compileSpiffePattern(pattern), TypeError);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// subject_dn (canonicalDistinguishedName) and certificate matchers
// ---------------------------------------------------------------------------------------------

const attributeType = fc.constantFrom('CN', 'O', 'OU', 'L', 'ST', 'DC');
/** Values that need no RFC 4514 escaping: no leading/trailing space, none of , + " \ < > ; = #. */
const attributeValue = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 ._@:/()-]{0,14}$/).filter((value) => value === value.trimEnd());
const distinguishedName = fc.array(fc.tuple(attributeType, attributeValue), { minLength: 1, maxLength: 4 });

describe('canonicalDistinguishedName (properties)', () => {
  test('any string: a non-empty canonical name or a TypeError, and the canonical form is a fixed point', () => {
    const dnish = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.string({
        unit: fc.constantFrom('CN', 'O', '=', ',', '+', ' ', '\\', '"', '#', 'a', '1', '.', ';', '2.5.4.3', 'é'),
        maxLength: 16,
      }),
    );
    fc.assert(
      fc.property(dnish, (text) => {
        const canonical = returnsOrTypeError(() => canonicalDistinguishedName(text));
        if (canonical instanceof TypeError) {
          assert.match(canonical.message, /^not a distinguished name/);
          return;
        }
        assert.notEqual(canonical.trim(), '');
        assert.equal(
          canonicalDistinguishedName(canonical),
          canonical,
          `canonical form of ${JSON.stringify(text)} is ${JSON.stringify(canonical)}`,
        );
      }),
      { numRuns: 500 },
    );
  });

  test('spacing after commas and around = (OpenSSL print form) does not change the name', () => {
    fc.assert(
      fc.property(distinguishedName, (rdns) => {
        const compact = rdns.map(([type, value]) => `${type}=${value}`).join(',');
        const canonical = canonicalDistinguishedName(compact);
        assert.equal(canonicalDistinguishedName(rdns.map(([type, value]) => `${type}=${value}`).join(', ')), canonical);
        assert.equal(canonicalDistinguishedName(rdns.map(([type, value]) => `${type} = ${value}`).join(', ')), canonical);
        assert.equal(canonical, rdns.map(([type, value]) => `${type}=${value}`).join(', '));
      }),
      { numRuns: RUNS },
    );
  });

  test('values compare case-sensitively; lower-case attribute names are refused', () => {
    fc.assert(
      fc.property(distinguishedName, (rdns) => {
        const text = rdns.map(([type, value]) => `${type}=${value}`).join(', ');
        const upper = rdns.map(([type, value]) => `${type}=${value.toUpperCase()}`).join(', ');
        assert.equal(canonicalDistinguishedName(text) === canonicalDistinguishedName(upper), text === upper);
        assert.throws(
          () => canonicalDistinguishedName(rdns.map(([type, value]) => `${type.toLowerCase()}=${value}`).join(', ')),
          TypeError,
        );
      }),
      { numRuns: RUNS },
    );
  });
});

const facts = fc.record({
  thumbprint: fc.stringMatching(THUMBPRINT),
  subjectDn: fc.oneof(
    distinguishedName.map((rdns) => rdns.map(([type, value]) => `${type}=${value}`).join(', ')),
    fc.string({ maxLength: 20 }),
  ),
  san: fc.record({
    dns: fc.array(fc.domain(), { maxLength: 3 }),
    uri: fc.array(fc.oneof(fc.webUrl(), spiffeId.map(formatSpiffeId)), { maxLength: 2 }),
    ip: fc.array(fc.oneof(fc.ipV4(), fc.ipV6()), { maxLength: 2 }),
    email: fc.array(fc.emailAddress(), { maxLength: 2 }),
  }),
  spiffeId: fc.option(spiffeId.map(formatSpiffeId), { nil: undefined }),
  notBefore: fc.nat(),
  notAfter: fc.nat(),
}) satisfies fc.Arbitrary<CertificateFacts>;

const matcher: fc.Arbitrary<CertificateMatcher> = fc.oneof(
  fc.stringMatching(THUMBPRINT).map((value) => ({ 'x5t#S256': value })),
  fc.string({ maxLength: 20 }).map((value) => ({ subject_dn: value })),
  fc.oneof(fc.domain(), fc.string({ maxLength: 10 })).map((value) => ({ san_dns: value })),
  fc.oneof(fc.webUrl(), fc.string({ maxLength: 10 })).map((value) => ({ san_uri: value })),
  fc.oneof(fc.ipV4(), fc.string({ maxLength: 10 })).map((value) => ({ san_ip: value })),
  fc.oneof(fc.emailAddress(), fc.string({ maxLength: 10 })).map((value) => ({ san_email: value })),
  fc.tuple(trustDomain, fc.array(fc.oneof(segment, fc.constant('*')), { maxLength: 3 }), fc.boolean()).map(([domain, parts, rest]) => ({
    spiffe_id: `spiffe://${domain}${[...parts, ...(rest ? ['**'] : [])].map((part) => `/${part}`).join('')}`,
  })),
);

describe('certificateMatches (properties)', () => {
  test(`every matcher field (${MATCHER_FIELDS.join(', ')}) answers a boolean for any certificate facts`, () => {
    fc.assert(
      fc.property(matcher, facts, fc.boolean(), (rule, certificate, caVerified) => {
        assert.equal(typeof certificateMatches(rule, certificate, caVerified), 'boolean');
      }),
      { numRuns: RUNS },
    );
  });

  test('without a CA (self-signed), only an exact x5t#S256 pin can match', () => {
    fc.assert(
      fc.property(matcher, facts, (rule, certificate) => {
        const expected = 'x5t#S256' in rule && rule['x5t#S256'] === certificate.thumbprint;
        assert.equal(certificateMatches(rule, certificate, false), expected);
      }),
      { numRuns: RUNS },
    );
  });

  test('a certificate matches matchers built from its own facts; san_dns in any case', () => {
    fc.assert(
      fc.property(facts, fc.boolean(), (certificate, upper) => {
        assert.equal(certificateMatches({ 'x5t#S256': certificate.thumbprint }, certificate), true);
        assert.equal(certificateMatches({ subject_dn: certificate.subjectDn }, certificate), true);
        for (const dns of certificate.san.dns)
          assert.equal(certificateMatches({ san_dns: upper ? dns.toUpperCase() : dns }, certificate), true);
        for (const uri of certificate.san.uri) assert.equal(certificateMatches({ san_uri: uri }, certificate), true);
        for (const ip of certificate.san.ip) assert.equal(certificateMatches({ san_ip: ip }, certificate), true);
        for (const email of certificate.san.email) assert.equal(certificateMatches({ san_email: email }, certificate), true);
        if (certificate.spiffeId !== undefined) assert.equal(certificateMatches({ spiffe_id: certificate.spiffeId }, certificate), true);
      }),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Thumbprints (RFC 8705 §3.1: base64url SHA-256 of the DER, no padding)
// ---------------------------------------------------------------------------------------------

describe('thumbprints (properties)', () => {
  const notPem = fc
    .uint8Array({ maxLength: 600 })
    .filter((bytes) => !Buffer.from(bytes.subarray(0, 11)).toString('latin1').startsWith('-----BEGIN '));

  test('computeThumbprint of any DER bytes is 43 base64url characters: the SHA-256, unpadded', () => {
    fc.assert(
      fc.property(notPem, (bytes) => {
        const thumbprint = computeThumbprint(bytes);
        assert.match(thumbprint, THUMBPRINT);
        assert.equal(isWellFormedThumbprint(thumbprint), true);
        assert.equal(thumbprint, createHash('sha256').update(bytes).digest('base64url'));
        assert.deepEqual(Buffer.from(thumbprint, 'base64url'), createHash('sha256').update(bytes).digest());
      }),
      { numRuns: RUNS },
    );
  });

  test('computeThumbprint of any string or PEM-looking bytes is a thumbprint or a TypeError', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 80 }),
          fc.string({ maxLength: 80 }).map((tail) => `-----BEGIN CERTIFICATE-----\n${tail}`),
          fc.uint8Array({ maxLength: 80 }).map((bytes) => Buffer.concat([Buffer.from('-----BEGIN '), bytes])),
        ),
        (input) => {
          const result = returnsOrTypeError(() => computeThumbprint(input));
          if (typeof result === 'string') assert.match(result, THUMBPRINT);
        },
      ),
      { numRuns: RUNS },
    );
  });

  test('thumbprintFromSha256Hex: any 64 hex digits (any case) give the same digest as 43 base64url characters', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9a-fA-F]{64}$/), (hex) => {
        const thumbprint = thumbprintFromSha256Hex(hex);
        assert.match(thumbprint, THUMBPRINT);
        assert.equal(Buffer.from(thumbprint, 'base64url').toString('hex'), hex.toLowerCase());
      }),
      { numRuns: RUNS },
    );
  });

  test('thumbprintFromSha256Hex: anything else is a TypeError', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 80 }).filter((text) => !/^[0-9a-fA-F]{64}$/.test(text)),
        (text) => {
          assert.throws(() => thumbprintFromSha256Hex(text), TypeError);
        },
      ),
      { numRuns: RUNS },
    );
  });

  test('thumbprintsEqual agrees with === on well-formed thumbprints', () => {
    fc.assert(
      fc.property(fc.stringMatching(THUMBPRINT), fc.stringMatching(THUMBPRINT), fc.boolean(), (a, b, same) => {
        const other = same ? a : b;
        assert.equal(thumbprintsEqual(a, other), a === other);
      }),
      { numRuns: RUNS },
    );
  });
});
