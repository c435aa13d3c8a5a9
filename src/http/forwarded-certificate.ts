import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { X509Certificate } from 'node:crypto';
import { parseItem } from 'structured-headers';
import { CertboundError } from '../core/errors.js';
import { parseUrlEncodedPem } from '../core/certificate/url-encoded-pem.js';
import { computeThumbprint, thumbprintFromSha256Hex } from '../core/thumbprint.js';
import type { ResolvedTrustedProxy } from './trusted-proxy.js';

export { DEFAULT_CERTIFICATE_HEADERS, resolveTrustedProxyOptions } from './trusted-proxy.js';
// Envoy's gRPC Check sends the certificate the same way, so the parser lives in the core.
export { parseUrlEncodedPem };
export type { ForwardedCertificateFormat, ResolvedTrustedProxy, TrustedProxyOptions } from './trusted-proxy.js';

/** A certificate a trusted proxy says the client presented (and verified, as its config requires). */
export interface ForwardedCertificate {
  thumbprint: string;
  /** The DER, when the header carried the certificate itself (XFCC `Hash=` alone does not). */
  der: Buffer | undefined;
}

/**
 * The client certificate a request carries in the proxy's header, or undefined when the request
 * did not come through a trusted proxy and carries no such header (then the TLS socket's own
 * certificate applies).
 * @throws CertboundError CB_FORWARDED_CERT_UNTRUSTED when the header comes from any other peer,
 *   CB_CLIENT_CERT_MISSING when a trusted proxy sent none, CB_FORWARDED_CERT_MALFORMED when it
 *   cannot be read.
 */
export function forwardedCertificateOf(
  req: IncomingMessage | Http2ServerRequest,
  proxy: ResolvedTrustedProxy,
): ForwardedCertificate | undefined {
  const values: string[] =
    ('headersDistinct' in req ? req.headersDistinct[proxy.header] : undefined) ?? headerValues(req.headers[proxy.header]);
  const trusted = proxy.isTrusted(req.socket?.remoteAddress);
  if (!trusted) {
    if (values.length > 0) {
      throw new CertboundError('CB_FORWARDED_CERT_UNTRUSTED', {
        description: `${proxy.header} header from a peer that is not a trusted proxy`,
        detail: `peer ${req.socket?.remoteAddress ?? 'unknown'}`,
        reason: 'not_allowed',
      });
    }
    return undefined;
  }
  if (values.length === 0 || values.every((value) => value.trim() === '')) {
    throw new CertboundError('CB_CLIENT_CERT_MISSING', {
      description: 'a client certificate is required to use a certificate-bound token (the proxy forwarded none)',
      reason: 'missing',
    });
  }
  if (values.length > 1 && proxy.format !== 'xfcc') throw malformed(`more than one ${proxy.header} header`);
  switch (proxy.format) {
    case 'rfc9440':
      return fromDer(parseClientCertHeader(values[0] as string));
    case 'pem-urlencoded':
      return fromDer(parseUrlEncodedPem(values[0] as string));
    case 'traefik':
      return fromDer(parseTraefikCertificates(values[0] as string));
    case 'xfcc':
      // Several XFCC headers are one list, in order (RFC 9110 §5.3).
      return fromXfccElement(pickXfccElement(parseXfcc(values.join(',')), proxy.xfccHops));
  }
}

function headerValues(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function fromDer(der: Buffer): ForwardedCertificate {
  return { thumbprint: computeThumbprint(der), der };
}

function malformed(description: string, cause?: unknown): CertboundError {
  return new CertboundError('CB_FORWARDED_CERT_MALFORMED', { description, reason: 'malformed', ...(cause === undefined ? {} : { cause }) });
}

/** A DER X.509 certificate, checked by node:crypto's parser. */
function requireCertificate(der: Buffer, what: string): Buffer {
  try {
    new X509Certificate(der);
  } catch (cause) {
    throw malformed(`${what} is not an X.509 certificate`, cause);
  }
  return der;
}

/** RFC 9440 §2.2: `Client-Cert` is an sf-binary Item holding the DER. Parameters are ignored. */
export function parseClientCertHeader(value: string): Buffer {
  let item;
  try {
    item = parseItem(value);
  } catch (cause) {
    throw malformed('Client-Cert is not a structured-field byte sequence (RFC 9440)', cause);
  }
  if (!(item[0] instanceof ArrayBuffer) || item[0].byteLength === 0)
    throw malformed('Client-Cert is not a structured-field byte sequence (RFC 9440)');
  return requireCertificate(Buffer.from(item[0]), 'Client-Cert');
}

/**
 * Traefik's `X-Forwarded-Tls-Client-Cert`: the PEM bodies (base64 DER, delimiters and newlines
 * removed) of the peer's chain, leaf first, joined by `,`; Traefik v2 URL-escaped the whole.
 * The leaf is the client's certificate.
 * @see https://doc.traefik.io/traefik/middlewares/http/passtlsclientcert/
 */
export function parseTraefikCertificates(value: string): Buffer {
  let text: string;
  try {
    text = decodeURIComponent(value.trim());
  } catch (cause) {
    throw malformed('X-Forwarded-Tls-Client-Cert is not URL-encoded', cause);
  }
  const leaf = text.split(',', 1)[0] as string;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(leaf) || leaf.length % 4 !== 0)
    throw malformed('X-Forwarded-Tls-Client-Cert is not a base64 certificate (Traefik PassTLSClientCert pem)');
  return requireCertificate(Buffer.from(leaf, 'base64'), 'X-Forwarded-Tls-Client-Cert');
}

/** One XFCC element: its keys lower-cased; values unquoted. */
export type XfccElement = Map<string, string[]>;

/** Whitespace around keys, values and separators (HTTP's OWS, and whatever else `trim` drops). */
const isSpace = (char: string | undefined): boolean => char !== undefined && char.trim() === '';

/**
 * Envoy's x-forwarded-client-cert: elements separated by `,`, key=value pairs by `;`, values
 * double-quoted when they hold `,` `;` or `=`, with `\"` inside quotes. Keys are
 * case-insensitive. An unquoted value may still hold `=` (a URI with a query, say); any
 * other backslash is literal (a Subject keeps its RFC 2253 escapes such as `\,`).
 * @see https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/headers#x-forwarded-client-cert
 * @throws CertboundError CB_FORWARDED_CERT_MALFORMED
 */
export function parseXfcc(value: string): XfccElement[] {
  const elements: XfccElement[] = [];
  let element: XfccElement = new Map();
  let i = 0;
  const skipSpaces = (): void => {
    while (isSpace(value[i])) i++;
  };
  for (;;) {
    // A pair: key, '=', then a quoted or unquoted value.
    const keyStart = i;
    while (i < value.length && value[i] !== '=' && value[i] !== ';' && value[i] !== ',') i++;
    const key = value.slice(keyStart, i).trim();
    if (value[i] !== '=') {
      if (key !== '') throw malformed('x-forwarded-client-cert pair is not key=value');
      // Nothing between two separators (or at either end).
      throw malformed(
        element.size === 0 && value[i] !== ';'
          ? 'x-forwarded-client-cert has an empty element'
          : 'x-forwarded-client-cert has an empty pair',
      );
    }
    if (!/^[A-Za-z]+$/.test(key)) throw malformed('x-forwarded-client-cert pair is not key=value');
    i++;
    skipSpaces();
    let text = '';
    if (value[i] === '"') {
      i++;
      for (;;) {
        const char = value[i];
        if (char === undefined) throw malformed('x-forwarded-client-cert has an unterminated quote');
        if (char === '\\' && value[i + 1] === '"') {
          text += '"';
          i += 2;
        } else if (char === '"') {
          i++;
          break;
        } else {
          text += char;
          i++;
        }
      }
      skipSpaces();
      if (i < value.length && value[i] !== ';' && value[i] !== ',') {
        throw malformed(
          value[i] === '"' ? 'x-forwarded-client-cert has a stray quote' : 'x-forwarded-client-cert has text after a quoted value',
        );
      }
    } else {
      const valueStart = i;
      while (i < value.length && value[i] !== ';' && value[i] !== ',') {
        if (value[i] === '"') throw malformed('x-forwarded-client-cert has a stray quote');
        i++;
      }
      text = value.slice(valueStart, i).trim();
    }
    const name = key.toLowerCase();
    element.set(name, [...(element.get(name) ?? []), text]);
    if (i >= value.length) {
      elements.push(element);
      return elements;
    }
    if (value[i] === ',') {
      elements.push(element);
      element = new Map();
    }
    i++;
  }
}

/** The element the nearest `hops` trusted proxies vouch for: `hops` from the end. */
export function pickXfccElement(elements: XfccElement[], hops: number): XfccElement {
  const element = elements[elements.length - hops];
  if (element === undefined)
    throw malformed(`x-forwarded-client-cert has ${elements.length} element(s), fewer than the ${hops} trusted hop(s)`);
  return element;
}

/** Cert= (URL-encoded PEM) gives the certificate; Hash= (hex SHA-256 of the DER) must agree with it. */
function fromXfccElement(element: XfccElement): ForwardedCertificate {
  const certs = element.get('cert') ?? [];
  const hashes = element.get('hash') ?? [];
  if (certs.length > 1 || hashes.length > 1) throw malformed('x-forwarded-client-cert element repeats Cert or Hash');
  let hashThumbprint: string | undefined;
  if (hashes[0] !== undefined) {
    try {
      hashThumbprint = thumbprintFromSha256Hex(hashes[0]);
    } catch (cause) {
      throw malformed('x-forwarded-client-cert Hash is not a hex SHA-256', cause);
    }
  }
  if (certs[0] !== undefined) {
    const forwarded = fromDer(parseUrlEncodedPem(certs[0]));
    if (hashThumbprint !== undefined && hashThumbprint !== forwarded.thumbprint)
      throw malformed('x-forwarded-client-cert Hash does not match its Cert');
    return forwarded;
  }
  if (hashThumbprint === undefined) throw malformed('x-forwarded-client-cert element has neither Cert nor Hash');
  return { thumbprint: hashThumbprint, der: undefined };
}
