// Certificates forwarded by TLS-terminating proxies: the header parsers (RFC 9440 Client-Cert,
// Envoy's XFCC, nginx's URL-encoded PEM), the trusted-proxy options, and the choice
// forwardedCertificateOf makes for a request, all without sockets (requests are plain objects).
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { CertboundError } from '../../src/core/errors.js';
import {
  DEFAULT_CERTIFICATE_HEADERS,
  forwardedCertificateOf,
  parseClientCertHeader,
  parseTraefikCertificates,
  parseUrlEncodedPem,
  parseXfcc,
  pickXfccElement,
  resolveTrustedProxyOptions,
  type TrustedProxyOptions,
  type XfccElement,
} from '../../src/http/forwarded-certificate.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';

/**
 * The SHA-256 hashes in the Envoy documentation's XFCC examples, and their x5t#S256 form,
 * computed once with:
 *   printf %s 468ed33b...8de688 | xxd -r -p | openssl base64 -A | tr '+/' '-_' | tr -d '='
 */
const ENVOY_HASH_1 = '468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688';
const ENVOY_THUMBPRINT_1 = 'Ro7TO-dO7mVW2QwBScEwnpumHWQlMDRDwHSKAt2N5og';
const ENVOY_HASH_2 = '9ba61d6425303443c0748a02dd8de688468ed33be74eee6556d90c0149c1309e';
const ENVOY_THUMBPRINT_2 = 'm6YdZCUwNEPAdIoC3Y3miEaO0zvnTu5lVtkMAUnBMJ4';

/** The three examples of https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/headers#x-forwarded-client-cert */
const ENVOY_EXAMPLE_1 = `By=http://frontend.lyft.com;Hash=${ENVOY_HASH_1};Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=http://testclient.lyft.com`;
const ENVOY_EXAMPLE_2 = `By=http://frontend.lyft.com;Hash=${ENVOY_HASH_1};URI=http://testclient.lyft.com,By=http://backend.lyft.com;Hash=${ENVOY_HASH_2};URI=http://frontend.lyft.com`;
const ENVOY_EXAMPLE_3 = `By=http://frontend.lyft.com;Hash=${ENVOY_HASH_1};Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=http://testclient.lyft.com;DNS=lyft.com;DNS=www.lyft.com`;

let pki: TestPki;
before(async () => {
  pki = await createTestPki();
});

/** Assert `fn` throws CB_FORWARDED_CERT_MALFORMED with exactly `description`. */
function assertMalformed(fn: () => unknown, description: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof CertboundError, `not a CertboundError: ${String(error)}`);
    assert.equal(error.code, 'CB_FORWARDED_CERT_MALFORMED');
    assert.equal(error.reason, 'malformed');
    assert.equal(error.description, description);
    assert.equal(error.outcome.http, 400);
    assert.equal(error.outcome.oauth, 'invalid_request');
    return true;
  });
}

/** Whether `error` is what the parsers may throw: CertboundError CB_FORWARDED_CERT_MALFORMED, nothing else. */
function isMalformed(error: unknown): boolean {
  return error instanceof CertboundError && error.code === 'CB_FORWARDED_CERT_MALFORMED';
}

/** nginx's $ssl_client_escaped_cert (ngx_escape_uri, NGX_ESCAPE_URI_COMPONENT): in a PEM, every character but letters, digits and '-' becomes %XX. */
function nginxEscape(pem: string): string {
  return pem.replace(/[^A-Za-z0-9-]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

const sha256Hex = (der: Buffer): string => createHash('sha256').update(der).digest('hex');
/** An XFCC element as Envoy writes it with Hash, Cert, Subject and URI. */
const envoyElement = (cert: { der: Buffer; certPem: string }, by = 'spiffe://domain.com/proxy'): string =>
  `By=${by};Hash=${sha256Hex(cert.der)};Cert="${encodeURIComponent(cert.certPem)}";Subject="CN=alice,O=certbound dev";URI=spiffe://domain.com/client/alice`;

/** A request as node:http hands it over, without a socket: only what forwardedCertificateOf reads. */
function fakeRequest(remoteAddress: string | undefined, headers: Record<string, string | string[]> = {}, http2 = false): IncomingMessage {
  const distinct = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value].flat()]));
  // node:http joins repeated headers with ', ' in `headers` (set-cookie aside); HTTP/2 requests have no headersDistinct.
  const joined = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value].flat().join(', ')]));
  return { headers: joined, ...(http2 ? {} : { headersDistinct: distinct }), socket: { remoteAddress } } as unknown as IncomingMessage;
}

const xfccElementObject = (element: XfccElement): Record<string, string[]> => Object.fromEntries(element);

describe('resolveTrustedProxyOptions', () => {
  test('each format has its default header; xfccHops defaults to 1; a custom header is lower-cased', () => {
    for (const format of ['rfc9440', 'xfcc', 'pem-urlencoded', 'traefik'] as const) {
      const resolved = resolveTrustedProxyOptions({ addresses: ['10.0.0.1'], format });
      assert.equal(resolved.format, format);
      assert.equal(resolved.header, DEFAULT_CERTIFICATE_HEADERS[format]);
      assert.equal(resolved.xfccHops, 1);
    }
    assert.deepEqual(DEFAULT_CERTIFICATE_HEADERS, {
      rfc9440: 'client-cert',
      xfcc: 'x-forwarded-client-cert',
      'pem-urlencoded': 'x-ssl-client-cert',
      traefik: 'x-forwarded-tls-client-cert',
    });
    const custom = resolveTrustedProxyOptions({ addresses: ['10.0.0.1'], format: 'pem-urlencoded', header: 'X-Client-Cert', xfccHops: 3 });
    assert.equal(custom.header, 'x-client-cert');
    assert.equal(custom.xfccHops, 3);
  });

  test('bad options are TypeErrors naming the option', () => {
    const base: TrustedProxyOptions = { addresses: ['10.0.0.1'], format: 'xfcc' };
    const cases: Array<[unknown, string]> = [
      [null, '"trustedProxy" must be an object'],
      ['10.0.0.1', '"trustedProxy" must be an object'],
      [{ ...base, format: 'haproxy' }, '"trustedProxy.format" must be one of rfc9440, xfcc, pem-urlencoded, traefik'],
      [{ ...base, format: undefined }, '"trustedProxy.format" must be one of rfc9440, xfcc, pem-urlencoded, traefik'],
      [{ ...base, format: 'toString' }, '"trustedProxy.format" must be one of rfc9440, xfcc, pem-urlencoded, traefik'],
      [{ ...base, addresses: [] }, '"trustedProxy.addresses" must list at least one address or CIDR'],
      [{ ...base, addresses: '10.0.0.1' }, '"trustedProxy.addresses" must list at least one address or CIDR'],
      [{ ...base, addresses: ['10.0.0.0/33'] }, '"trustedProxy.addresses": "10.0.0.0/33" is not an IP address, CIDR block or "unix"'],
      [{ ...base, addresses: ['::1/129'] }, '"trustedProxy.addresses": "::1/129" is not an IP address, CIDR block or "unix"'],
      [{ ...base, addresses: ['10.0.0.0/'] }, '"trustedProxy.addresses": "10.0.0.0/" is not an IP address, CIDR block or "unix"'],
      [{ ...base, addresses: ['10.0.0.0/8/8'] }, '"trustedProxy.addresses": "10.0.0.0/8/8" is not an IP address, CIDR block or "unix"'],
      [{ ...base, addresses: ['10.0.0.0/-1'] }, '"trustedProxy.addresses": "10.0.0.0/-1" is not an IP address, CIDR block or "unix"'],
      [{ ...base, addresses: ['10.0.0.0/x'] }, '"trustedProxy.addresses": "10.0.0.0/x" is not an IP address, CIDR block or "unix"'],
      [{ ...base, addresses: ['300.1.1.1'] }, '"trustedProxy.addresses": "300.1.1.1" is not an IP address, CIDR block or "unix"'],
      [
        { ...base, addresses: ['proxy.domain.com'] },
        '"trustedProxy.addresses": "proxy.domain.com" is not an IP address, CIDR block or "unix"',
      ],
      [{ ...base, addresses: [' 10.0.0.1'] }, '"trustedProxy.addresses": " 10.0.0.1" is not an IP address, CIDR block or "unix"'],
      [{ ...base, addresses: ['10.0.0.1', 7] }, '"trustedProxy.addresses": 7 is not an IP address, CIDR block or "unix"'],
      [{ ...base, header: 'x client cert' }, '"trustedProxy.header": "x client cert" is not a header name'],
      [{ ...base, header: 'x-cert:' }, '"trustedProxy.header": "x-cert:" is not a header name'],
      [{ ...base, header: '' }, '"trustedProxy.header": "" is not a header name'],
      [{ ...base, header: 42 }, '"trustedProxy.header": 42 is not a header name'],
      [{ ...base, xfccHops: 0 }, '"trustedProxy.xfccHops" must be a positive integer'],
      [{ ...base, xfccHops: -1 }, '"trustedProxy.xfccHops" must be a positive integer'],
      [{ ...base, xfccHops: 1.5 }, '"trustedProxy.xfccHops" must be a positive integer'],
      [{ ...base, xfccHops: '2' }, '"trustedProxy.xfccHops" must be a positive integer'],
    ];
    for (const [options, message] of cases) {
      assert.throws(
        () => resolveTrustedProxyOptions(options as TrustedProxyOptions),
        { name: 'TypeError', message },
        JSON.stringify(options),
      );
    }
  });

  test('isTrusted: exact addresses and CIDR blocks, IPv4 and IPv6', () => {
    const proxy = resolveTrustedProxyOptions({ addresses: ['127.0.0.1', '10.0.0.0/8', '::1', 'fd00:1234::/32'], format: 'xfcc' });
    for (const address of ['127.0.0.1', '10.0.0.1', '10.255.255.255', '::1', 'fd00:1234::7', 'fd00:1234:ffff::1'])
      assert.equal(proxy.isTrusted(address), true, address);
    for (const address of ['127.0.0.2', '11.0.0.1', '9.255.255.255', '::2', 'fd00:1235::1', '0.0.0.0', undefined, '', 'not an address'])
      assert.equal(proxy.isTrusted(address), false, String(address));
  });

  test('isTrusted: "unix" trusts the address-less peers of a Unix socket, and no IP', () => {
    const proxy = resolveTrustedProxyOptions({ addresses: ['unix'], format: 'xfcc' });
    assert.equal(proxy.isTrusted(undefined), true);
    for (const address of ['127.0.0.1', '::1', '']) assert.equal(proxy.isTrusted(address), false, address);
  });

  test('isTrusted: an IPv4-mapped IPv6 peer (dual-stack socket) is trusted exactly when its IPv4 address is', () => {
    const proxy = resolveTrustedProxyOptions({ addresses: ['127.0.0.1', '10.0.0.0/8'], format: 'rfc9440' });
    for (const address of ['::ffff:127.0.0.1', '::FFFF:127.0.0.1', '::ffff:10.1.2.3', '::ffff:a01:203', '::ffff:7f00:1'])
      assert.equal(proxy.isTrusted(address), true, address);
    for (const address of ['::ffff:127.0.0.2', '::ffff:11.0.0.1', '::ffff:b00:1', '::127.0.0.1'])
      assert.equal(proxy.isTrusted(address), false, address);
    // And a proxy listed in its mapped form is the same proxy.
    const mapped = resolveTrustedProxyOptions({ addresses: ['::ffff:10.0.0.7'], format: 'rfc9440' });
    assert.equal(mapped.isTrusted('10.0.0.7'), true);
    assert.equal(mapped.isTrusted('::ffff:10.0.0.7'), true);
    assert.equal(mapped.isTrusted('10.0.0.8'), false);
  });
});

describe('parseClientCertHeader (RFC 9440)', () => {
  test('RFC 9440 §2.2 Client-Cert is a byte sequence of the DER: the certificate comes back', () => {
    assert.deepEqual(parseClientCertHeader(`:${pki.alice.der.toString('base64')}:`), pki.alice.der);
  });

  test('RFC 9440 §2.2 parameters on the item are ignored; RFC 8941 §4.2.7 missing padding is accepted', () => {
    assert.deepEqual(parseClientCertHeader(`:${pki.alice.der.toString('base64')}:;via=proxy;n=1`), pki.alice.der);
    assert.deepEqual(parseClientCertHeader(`:${pki.bob.der.toString('base64').replace(/=+$/, '')}:`), pki.bob.der);
  });

  test('refusals: not a byte sequence, bad base64, empty, not a certificate', () => {
    const notBytes = 'Client-Cert is not a structured-field byte sequence (RFC 9440)';
    const cases: Array<[string, string]> = [
      ['', notBytes],
      ['::', notBytes],
      [pki.alice.der.toString('base64'), notBytes], // bare base64, no colons
      ['token', notBytes],
      ['"a string"', notBytes],
      ['42', notBytes],
      ['?1', notBytes],
      ['(:YQ==:)', notBytes], // an inner list
      [`:${pki.alice.der.toString('base64')}:, :${pki.bob.der.toString('base64')}:`, notBytes], // a list is not a singleton
      [':not base64!:', notBytes],
      [`:${pki.alice.der.toString('base64url')}:`, notBytes], // base64url is not RFC 8941 base64
      [`:${pki.alice.der.toString('base64')}`, notBytes], // unterminated
      [':aGVsbG8=:', 'Client-Cert is not an X.509 certificate'],
      [`:${pki.alice.der.subarray(0, 100).toString('base64')}:`, 'Client-Cert is not an X.509 certificate'],
    ];
    for (const [value, description] of cases) assertMalformed(() => parseClientCertHeader(value), description);
  });

  test('property: any string is either a certificate or CB_FORWARDED_CERT_MALFORMED', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary' }),
          fc.string({ unit: fc.constantFrom(':', 'a', 'Z', '0', '+', '/', '=', ';', ',', ' ', '"', '(', ')', '?', '*') }),
        ),
        (value) => {
          try {
            assert.ok(Buffer.isBuffer(parseClientCertHeader(value)));
          } catch (error) {
            if (!isMalformed(error)) throw error;
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  test('property: a byte sequence of random bytes is refused as not a certificate, never misread', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), (bytes) => {
        assertMalformed(
          () => parseClientCertHeader(`:${Buffer.from(bytes).toString('base64')}:`),
          'Client-Cert is not an X.509 certificate',
        );
      }),
    );
  });
});

describe('parseUrlEncodedPem (nginx $ssl_client_escaped_cert)', () => {
  test('nginx-style escaping (%0A newlines, %2B %2F %3D, %20) gives the certificate', () => {
    const escaped = nginxEscape(pki.alice.certPem);
    assert.match(escaped, /^-----BEGIN%20CERTIFICATE-----%0A[A-Za-z0-9%]+%0A-----END%20CERTIFICATE-----%0A$/);
    assert.deepEqual(parseUrlEncodedPem(escaped), pki.alice.der);
  });

  test('encodeURIComponent output, lower-case escapes and leading whitespace are the same certificate', () => {
    assert.deepEqual(parseUrlEncodedPem(encodeURIComponent(pki.alice.certPem)), pki.alice.der);
    assert.deepEqual(
      parseUrlEncodedPem(nginxEscape(pki.bob.certPem).replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase())),
      pki.bob.der,
    );
    assert.deepEqual(parseUrlEncodedPem(`%0A%20${nginxEscape(pki.alice.certPem)}`), pki.alice.der);
  });

  test('refusals: bad %-escapes, not PEM, a PEM key, a broken PEM body', () => {
    const notEncoded = 'client certificate header is not URL-encoded';
    const notPem = 'client certificate header is not a PEM certificate';
    const body = pki.alice.certPem.split('\n').slice(1, -2).join('');
    const cases: Array<[string, string]> = [
      ['%', notEncoded],
      ['%zz', notEncoded],
      ['%E0%A4%A', notEncoded],
      [`${nginxEscape(pki.alice.certPem)}%`, notEncoded],
      ['%C0%AF', notEncoded], // an overlong UTF-8 sequence
      ['', notPem],
      ['hello', notPem],
      [pki.alice.der.toString('base64'), notPem], // DER in base64, no PEM armour
      [encodeURIComponent(pki.alice.keyPem), notPem],
      [encodeURIComponent(pki.alice.certPem.replace(/CERTIFICATE/g, 'PUBLIC KEY')), notPem],
      [encodeURIComponent(`-----BEGIN CERTIFICATE-----\n${body.slice(0, 64)}\n-----END CERTIFICATE-----\n`), notPem],
      [encodeURIComponent('-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n'), notPem],
      [encodeURIComponent('-----BEGIN CERTIFICATE-----\n'), notPem],
    ];
    for (const [value, description] of cases) assertMalformed(() => parseUrlEncodedPem(value), description);
  });

  test('property: any string is either a certificate or CB_FORWARDED_CERT_MALFORMED', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary' }),
          fc.string().map((tail) => `-----BEGIN%20CERTIFICATE-----%0A${tail}`),
        ),
        (value) => {
          try {
            assert.ok(Buffer.isBuffer(parseUrlEncodedPem(value)));
          } catch (error) {
            if (!isMalformed(error)) throw error;
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

/** What Traefik's PassTLSClientCert (pem: true) sends: each PEM without delimiters and newlines, joined by `,`. */
const traefikValue = (...pems: string[]): string =>
  pems.map((pem) => pem.replace(/-----(?:BEGIN|END) CERTIFICATE-----/g, '').replace(/\n/g, '')).join(',');

describe('parseTraefikCertificates (Traefik X-Forwarded-Tls-Client-Cert)', () => {
  test('the leaf of the chain Traefik v3 sends, and the URL-escaped form Traefik v2 sent', () => {
    assert.deepEqual(parseTraefikCertificates(traefikValue(pki.alice.certPem)), pki.alice.der);
    // The peer's chain, leaf first: the client is the first certificate, never a later one.
    assert.deepEqual(parseTraefikCertificates(traefikValue(pki.bob.certPem, pki.alice.certPem)), pki.bob.der);
    const escaped = encodeURIComponent(traefikValue(pki.alice.certPem, pki.ca.certPem));
    assert.match(escaped, /%2C/);
    assert.deepEqual(parseTraefikCertificates(escaped), pki.alice.der);
  });

  test('refusals: PEM delimiters left in, bad base64, empty, not a certificate, bad escapes', () => {
    const body = traefikValue(pki.alice.certPem);
    for (const value of [pki.alice.certPem, `${body}!`, '', ',', 'QUJD', `${body.slice(0, -4)}`, '%zz']) {
      assert.throws(
        () => parseTraefikCertificates(value),
        (error: unknown) => error instanceof CertboundError && error.code === 'CB_FORWARDED_CERT_MALFORMED',
        value.slice(0, 40),
      );
    }
  });
});

describe('parseXfcc (Envoy x-forwarded-client-cert)', () => {
  test('Envoy example 1: one element with By, Hash, a quoted Subject and URI', () => {
    const elements = parseXfcc(ENVOY_EXAMPLE_1);
    assert.deepEqual(elements.map(xfccElementObject), [
      {
        by: ['http://frontend.lyft.com'],
        hash: [ENVOY_HASH_1],
        subject: ['/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client'],
        uri: ['http://testclient.lyft.com'],
      },
    ]);
  });

  test('Envoy example 2: two elements, in order', () => {
    assert.deepEqual(parseXfcc(ENVOY_EXAMPLE_2).map(xfccElementObject), [
      { by: ['http://frontend.lyft.com'], hash: [ENVOY_HASH_1], uri: ['http://testclient.lyft.com'] },
      { by: ['http://backend.lyft.com'], hash: [ENVOY_HASH_2], uri: ['http://frontend.lyft.com'] },
    ]);
  });

  test('Envoy example 3: repeated DNS keys keep every value', () => {
    const [element] = parseXfcc(ENVOY_EXAMPLE_3);
    assert.deepEqual(element?.get('dns'), ['lyft.com', 'www.lyft.com']);
    assert.deepEqual(element?.get('uri'), ['http://testclient.lyft.com']);
  });

  test('quoted values keep , ; = and \\" (as a quote); other backslashes stay; keys are case-insensitive', () => {
    const [element] = parseXfcc('SUBJECT="CN=Test\\, Client;O=a=b";URI="spiffe://x/\\"quoted\\"";dns=plain;Dns="";Hash= "x" ');
    assert.deepEqual(element === undefined ? undefined : xfccElementObject(element), {
      subject: ['CN=Test\\, Client;O=a=b'],
      uri: ['spiffe://x/"quoted"'],
      dns: ['plain', ''],
      hash: ['x'],
    });
  });

  test('whitespace around keys, values and separators is dropped; unquoted values may hold =', () => {
    assert.deepEqual(parseXfcc(' By = spiffe://a/b?x=1 ; Hash=abc , URI=u ').map(xfccElementObject), [
      { by: ['spiffe://a/b?x=1'], hash: ['abc'] },
      { uri: ['u'] },
    ]);
  });

  test('malformed headers: quotes, empty pairs and elements, bare or bad keys', () => {
    const cases: Array<[string, string]> = [
      ['Subject="CN=a', 'x-forwarded-client-cert has an unterminated quote'],
      ['Subject="CN=a\\"', 'x-forwarded-client-cert has an unterminated quote'],
      ['Hash=abc;Subject="', 'x-forwarded-client-cert has an unterminated quote'],
      ['Hash=ab"c"', 'x-forwarded-client-cert has a stray quote'],
      ['Hash=abc"', 'x-forwarded-client-cert has a stray quote'],
      ['Subject="a""b"', 'x-forwarded-client-cert has a stray quote'],
      ['Subject="a" "b"', 'x-forwarded-client-cert has a stray quote'],
      ['Subject="a"b', 'x-forwarded-client-cert has text after a quoted value'],
      ['Hash=abc;;URI=u', 'x-forwarded-client-cert has an empty pair'],
      ['Hash=abc; ;URI=u', 'x-forwarded-client-cert has an empty pair'],
      ['Hash=abc;', 'x-forwarded-client-cert has an empty pair'],
      [';Hash=abc', 'x-forwarded-client-cert has an empty pair'],
      ['Hash=abc;,URI=u', 'x-forwarded-client-cert has an empty pair'],
      ['', 'x-forwarded-client-cert has an empty element'],
      ['  ', 'x-forwarded-client-cert has an empty element'],
      ['Hash=abc,,URI=u', 'x-forwarded-client-cert has an empty element'],
      ['Hash=abc, ,URI=u', 'x-forwarded-client-cert has an empty element'],
      ['Hash=abc,', 'x-forwarded-client-cert has an empty element'],
      [',Hash=abc', 'x-forwarded-client-cert has an empty element'],
      ['Hash', 'x-forwarded-client-cert pair is not key=value'],
      ['Hash;URI=u', 'x-forwarded-client-cert pair is not key=value'],
      ['URI=u;Hash', 'x-forwarded-client-cert pair is not key=value'],
      ['URI=u,Hash', 'x-forwarded-client-cert pair is not key=value'],
      ['=abc', 'x-forwarded-client-cert pair is not key=value'],
      ['=', 'x-forwarded-client-cert pair is not key=value'],
      ['X-Hash=abc', 'x-forwarded-client-cert pair is not key=value'],
      ['"Hash"=abc', 'x-forwarded-client-cert pair is not key=value'],
      ['Ha sh=abc', 'x-forwarded-client-cert pair is not key=value'],
    ];
    for (const [value, description] of cases) assertMalformed(() => parseXfcc(value), description);
  });

  test('pickXfccElement: the element `hops` from the end; fewer elements than hops is malformed', () => {
    const elements = parseXfcc(ENVOY_EXAMPLE_2);
    assert.deepEqual(pickXfccElement(elements, 1).get('hash'), [ENVOY_HASH_2]);
    assert.deepEqual(pickXfccElement(elements, 2).get('hash'), [ENVOY_HASH_1]);
    assertMalformed(() => pickXfccElement(elements, 3), 'x-forwarded-client-cert has 2 element(s), fewer than the 3 trusted hop(s)');
  });

  test('property: any string parses or is CB_FORWARDED_CERT_MALFORMED, never another error', () => {
    const xfccish = fc.string({ unit: fc.constantFrom('a', 'H', '=', ';', ',', '"', '\\', ' ', '\t', '%', 'é') });
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), xfccish), (value) => {
        try {
          const elements = parseXfcc(value);
          assert.ok(elements.length > 0 && elements.every((element) => element.size > 0));
        } catch (error) {
          if (!isMalformed(error)) throw error;
        }
      }),
      { numRuns: 1000 },
    );
  });

  test('property: elements written with Envoy quoting rules parse back to the same keys and values', () => {
    // A value is quoted when it must be (it holds , ; = or ", or has whitespace at an end) or at
    // random; inside quotes " becomes \". A quoted value cannot end in a backslash: Envoy's
    // format has no escape for it (\" would read as a quote).
    const value = fc
      .string({
        unit: fc.oneof(
          fc.constantFrom(',', ';', '=', '"', '\\', ' ', '/', ':'),
          fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }),
        ),
        maxLength: 12,
      })
      .filter((text) => !text.endsWith('\\'));
    const pair = fc.record({ key: fc.stringMatching(/^[A-Za-z]{1,8}$/), value, quote: fc.boolean(), space: fc.constantFrom('', ' ') });
    const header = fc.array(fc.array(pair, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(header, (elements) => {
        const needsQuotes = (text: string): boolean => /[,;="]/.test(text) || text !== text.trim();
        const written = elements
          .map((element) =>
            element
              .map(
                ({ key, value: text, quote, space }) =>
                  `${space}${key}${space}=${quote || needsQuotes(text) ? `"${text.replace(/"/g, '\\"')}"` : text}${space}`,
              )
              .join(';'),
          )
          .join(',');
        const expected = elements.map((element) => {
          const map = new Map<string, string[]>();
          for (const { key, value: text, quote } of element) {
            map.set(key.toLowerCase(), [...(map.get(key.toLowerCase()) ?? []), quote || needsQuotes(text) ? text : text.trim()]);
          }
          return map;
        });
        assert.deepEqual(parseXfcc(written), expected, written);
      }),
      { numRuns: 500 },
    );
  });
});

describe('forwardedCertificateOf', () => {
  const trusted = '10.0.0.7';
  const proxyOf = (format: TrustedProxyOptions['format'], extra: Partial<TrustedProxyOptions> = {}) =>
    resolveTrustedProxyOptions({ addresses: [trusted], format, ...extra });

  test('from a trusted proxy: the certificate in the header of each format', () => {
    const headers = {
      rfc9440: { 'client-cert': `:${pki.alice.der.toString('base64')}:` },
      'pem-urlencoded': { 'x-ssl-client-cert': nginxEscape(pki.alice.certPem) },
      xfcc: { 'x-forwarded-client-cert': envoyElement(pki.alice) },
      traefik: { 'x-forwarded-tls-client-cert': traefikValue(pki.alice.certPem, pki.ca.certPem) },
    } as const;
    for (const format of ['rfc9440', 'pem-urlencoded', 'xfcc', 'traefik'] as const) {
      for (const http2 of [false, true]) {
        const forwarded = forwardedCertificateOf(fakeRequest(trusted, headers[format], http2), proxyOf(format));
        assert.deepEqual(forwarded, { thumbprint: pki.alice.thumbprint, der: pki.alice.der }, `${format} http2=${http2}`);
      }
    }
  });

  test('a custom header name is the one read', () => {
    const proxy = proxyOf('pem-urlencoded', { header: 'X-Client-Certificate' });
    assert.equal(
      forwardedCertificateOf(fakeRequest(trusted, { 'x-client-certificate': encodeURIComponent(pki.bob.certPem) }), proxy)?.thumbprint,
      pki.bob.thumbprint,
    );
    assert.throws(() => forwardedCertificateOf(fakeRequest(trusted, { 'x-ssl-client-cert': encodeURIComponent(pki.bob.certPem) }), proxy), {
      code: 'CB_CLIENT_CERT_MISSING',
    });
  });

  test('from any other peer the header is refused, never ignored: CB_FORWARDED_CERT_UNTRUSTED', () => {
    for (const [peer, value] of [
      ['10.0.0.8', encodeURIComponent(pki.alice.certPem)],
      ['::ffff:10.0.0.8', encodeURIComponent(pki.alice.certPem)],
      ['10.0.0.8', ''],
      [undefined, 'x'],
    ] as const) {
      assert.throws(() => forwardedCertificateOf(fakeRequest(peer, { 'x-ssl-client-cert': value }), proxyOf('pem-urlencoded')), {
        code: 'CB_FORWARDED_CERT_UNTRUSTED',
        description: 'x-ssl-client-cert header from a peer that is not a trusted proxy',
        detail: `peer ${peer ?? 'unknown'}`,
        reason: 'not_allowed',
      });
    }
  });

  test("from any other peer without the header: undefined (the TLS connection's own certificate applies)", () => {
    assert.equal(forwardedCertificateOf(fakeRequest('10.0.0.8', { 'client-cert': 'ignored: another header' }), proxyOf('xfcc')), undefined);
    assert.equal(forwardedCertificateOf(fakeRequest('10.0.0.8'), proxyOf('rfc9440')), undefined);
  });

  test('a trusted proxy that forwards no certificate (no header, or an empty one): CB_CLIENT_CERT_MISSING', () => {
    for (const headers of [{}, { 'client-cert': '' }, { 'client-cert': '  ' }] as Array<Record<string, string>>) {
      assert.throws(() => forwardedCertificateOf(fakeRequest(trusted, headers), proxyOf('rfc9440')), {
        code: 'CB_CLIENT_CERT_MISSING',
        description: 'a client certificate is required to use a certificate-bound token (the proxy forwarded none)',
        reason: 'missing',
      });
    }
  });

  test('IPv4-mapped peer address of a trusted proxy is trusted', () => {
    const forwarded = forwardedCertificateOf(
      fakeRequest(`::ffff:${trusted}`, { 'client-cert': `:${pki.bob.der.toString('base64')}:` }),
      proxyOf('rfc9440'),
    );
    assert.equal(forwarded?.thumbprint, pki.bob.thumbprint);
  });

  test('RFC 9440 §2.2 Client-Cert is a singleton: two headers are malformed', () => {
    const value = `:${pki.alice.der.toString('base64')}:`;
    assertMalformed(
      () => forwardedCertificateOf(fakeRequest(trusted, { 'client-cert': [value, value] }), proxyOf('rfc9440')),
      'more than one client-cert header',
    );
    assertMalformed(
      () => forwardedCertificateOf(fakeRequest(trusted, { 'x-ssl-client-cert': ['a', 'b'] }), proxyOf('pem-urlencoded')),
      'more than one x-ssl-client-cert header',
    );
  });

  test('XFCC: Envoy example 1 (Hash alone) gives the thumbprint and no DER', () => {
    assert.deepEqual(forwardedCertificateOf(fakeRequest(trusted, { 'x-forwarded-client-cert': ENVOY_EXAMPLE_1 }), proxyOf('xfcc')), {
      thumbprint: ENVOY_THUMBPRINT_1,
      der: undefined,
    });
    assert.deepEqual(
      forwardedCertificateOf(fakeRequest(trusted, { 'x-forwarded-client-cert': `Hash=${ENVOY_HASH_1.toUpperCase()}` }), proxyOf('xfcc')),
      { thumbprint: ENVOY_THUMBPRINT_1, der: undefined },
    );
  });

  test('XFCC: Envoy example 2 uses the last element by default, the one xfccHops from the end otherwise', () => {
    const request = () => fakeRequest(trusted, { 'x-forwarded-client-cert': ENVOY_EXAMPLE_2 });
    assert.equal(forwardedCertificateOf(request(), proxyOf('xfcc'))?.thumbprint, ENVOY_THUMBPRINT_2);
    assert.equal(forwardedCertificateOf(request(), proxyOf('xfcc', { xfccHops: 2 }))?.thumbprint, ENVOY_THUMBPRINT_1);
    assertMalformed(
      () => forwardedCertificateOf(request(), proxyOf('xfcc', { xfccHops: 3 })),
      'x-forwarded-client-cert has 2 element(s), fewer than the 3 trusted hop(s)',
    );
  });

  test('XFCC: several headers are one list, in order (RFC 9110 §5.3)', () => {
    const forged = envoyElement(pki.alice, 'spiffe://evil');
    const real = envoyElement(pki.bob);
    assert.equal(
      forwardedCertificateOf(fakeRequest(trusted, { 'x-forwarded-client-cert': [forged, real] }), proxyOf('xfcc'))?.thumbprint,
      pki.bob.thumbprint,
    );
    assert.equal(
      forwardedCertificateOf(fakeRequest(trusted, { 'x-forwarded-client-cert': [forged, real] }), proxyOf('xfcc', { xfccHops: 2 }))
        ?.thumbprint,
      pki.alice.thumbprint,
    );
  });

  test('XFCC: Cert is preferred and Hash must agree with it', () => {
    const xfcc = (value: string) => forwardedCertificateOf(fakeRequest(trusted, { 'x-forwarded-client-cert': value }), proxyOf('xfcc'));
    assert.deepEqual(xfcc(envoyElement(pki.alice)), { thumbprint: pki.alice.thumbprint, der: pki.alice.der });
    assert.deepEqual(xfcc(`Cert=${encodeURIComponent(pki.alice.certPem)}`), { thumbprint: pki.alice.thumbprint, der: pki.alice.der });
    assert.deepEqual(xfcc(`Hash=${sha256Hex(pki.alice.der).toUpperCase()};Cert="${encodeURIComponent(pki.alice.certPem)}"`), {
      thumbprint: pki.alice.thumbprint,
      der: pki.alice.der,
    });
    assert.deepEqual(xfcc(`Hash=${sha256Hex(pki.bob.der)}`), { thumbprint: pki.bob.thumbprint, der: undefined });
    assertMalformed(
      () => xfcc(`Hash=${sha256Hex(pki.bob.der)};Cert="${encodeURIComponent(pki.alice.certPem)}"`),
      'x-forwarded-client-cert Hash does not match its Cert',
    );
  });

  test('XFCC element refusals: neither Cert nor Hash, repeats, a bad Hash or Cert', () => {
    const xfcc = (value: string) => () =>
      forwardedCertificateOf(fakeRequest(trusted, { 'x-forwarded-client-cert': value }), proxyOf('xfcc'));
    const cert = encodeURIComponent(pki.alice.certPem);
    const hash = sha256Hex(pki.alice.der);
    const cases: Array<[string, string]> = [
      [
        'By=spiffe://proxy;Subject="CN=alice";URI=spiffe://domain.com/client/alice',
        'x-forwarded-client-cert element has neither Cert nor Hash',
      ],
      [`Cert="${cert}";Cert="${cert}"`, 'x-forwarded-client-cert element repeats Cert or Hash'],
      [`Hash=${hash};hash=${hash}`, 'x-forwarded-client-cert element repeats Cert or Hash'],
      ['Hash=', 'x-forwarded-client-cert Hash is not a hex SHA-256'],
      [`Hash=${hash.slice(2)}`, 'x-forwarded-client-cert Hash is not a hex SHA-256'],
      [`Hash=${Buffer.from(hash, 'hex').toString('base64url')}`, 'x-forwarded-client-cert Hash is not a hex SHA-256'],
      ['Cert=""', 'client certificate header is not a PEM certificate'],
      [`Cert="${encodeURIComponent(pki.alice.keyPem)}"`, 'client certificate header is not a PEM certificate'],
      ['Cert="%E0%A4%A"', 'client certificate header is not URL-encoded'],
      [`${envoyElement(pki.alice)},Hash=abc;`, 'x-forwarded-client-cert has an empty pair'],
    ];
    for (const [value, description] of cases) assertMalformed(xfcc(value), description);
  });
});
