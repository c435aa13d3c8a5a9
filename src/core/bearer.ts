import { CertboundError } from './errors.js';

/** RFC 6750 §2.1 b64token: the only characters a Bearer credential may hold. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * The token in an `Authorization` header value (RFC 6750 §2.1). The scheme is matched
 * case-insensitively (RFC 9110 §11.1), so `bearer x` is accepted.
 *
 * @param values every Authorization header the request carried: more than one is refused.
 * @throws CertboundError CB_TOKEN_MISSING when there is none, CB_AUTHORIZATION_MALFORMED otherwise.
 */
export function parseBearerAuthorization(values: readonly string[] | string | undefined): string {
  const list = values === undefined ? [] : typeof values === 'string' ? [values] : values;
  if (list.length === 0) {
    throw new CertboundError('CB_TOKEN_MISSING', { description: 'no access token', reason: 'missing' });
  }
  if (list.length > 1) {
    throw malformed('more than one Authorization header');
  }
  const header = list[0] ?? '';
  const match = /^([A-Za-z]+) +(\S+)$/.exec(header);
  if (match === null) throw malformed("Authorization header is not 'Bearer <token>'");
  const [, scheme, token] = match as unknown as [string, string, string];
  if (scheme.toLowerCase() !== 'bearer') {
    // A different scheme is not an attempt to use a bearer token: answer as for no token.
    throw new CertboundError('CB_TOKEN_MISSING', { description: 'no bearer access token', reason: 'missing' });
  }
  if (!B64TOKEN.test(token)) throw malformed('bearer token has characters outside RFC 6750 b64token');
  return token;
}

function malformed(description: string): CertboundError {
  return new CertboundError('CB_AUTHORIZATION_MALFORMED', { description, reason: 'malformed' });
}
