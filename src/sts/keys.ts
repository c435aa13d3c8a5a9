import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { CertboundError } from '../core/errors.js';
import type { Policy, TrustedIssuer } from '../core/policy/types.js';
import type { Signer } from '../core/signing/signer.js';
import { remoteJwksSource } from '../keys/jwks-source.js';
import type { SigningKeyProvider } from '../keys/keystore.js';

/** The STS's published keys as a resolver (for introspection), rebuilt only when the set changes. */
export function publishedKeySetOf(keys: SigningKeyProvider): (nowSeconds: number) => JWTVerifyGetKey {
  let cached: { kids: string; resolver: JWTVerifyGetKey } | undefined;
  return (now) => {
    const published = keys.publishedKeys(now);
    const kids = published.map((key) => key.kid).join(' ');
    if (cached?.kids !== kids) cached = { kids, resolver: createLocalJWKSet({ keys: published } as JSONWebKeySet) };
    return cached.resolver;
  };
}

/**
 * Key resolvers for the trusted issuers of subject tokens, built once: inline key sets are local,
 * https URLs are fetched (with their CA), cached and re-fetched on an unknown kid.
 */
export function issuerKeyResolver(policy: Policy): (issuer: TrustedIssuer) => JWTVerifyGetKey {
  const resolvers = new Map<TrustedIssuer, JWTVerifyGetKey>();
  for (const issuer of policy.trustedIssuers) {
    const source = issuer.keySource;
    resolvers.set(
      issuer,
      'jwks' in source
        ? createLocalJWKSet(source.jwks)
        : remoteJwksSource(source.jwksUri, source.ca === undefined ? {} : { ca: source.ca }),
    );
  }
  return (issuer) => {
    const resolver = resolvers.get(issuer);
    if (resolver === undefined)
      throw new CertboundError('CB_INTERNAL', { description: 'internal error', detail: `no keys for issuer ${issuer.issuer}` });
    return resolver;
  };
}

/** The key that signs now; a schedule without one is the operator's problem, not the client's. */
export function currentSigningKey(keys: SigningKeyProvider, nowSeconds: number): Signer {
  const key = keys.signingKey(nowSeconds);
  if (key === undefined)
    throw new CertboundError('CB_INTERNAL', { description: 'internal error', detail: 'no signing key is active in the keystore schedule' });
  return key;
}
